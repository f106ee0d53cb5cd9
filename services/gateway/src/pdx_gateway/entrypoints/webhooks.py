"""``POST /webhooks/pipedrive/{company_id}``: Pipedrive's webhooks (v2), HTTP Basic auth per company (one set of
credentials for the company's four webhooks). A deal's event becomes ``DealChanged`` on ``DEAL_EVENTS``; a person's,
organisation's or product's becomes ``RecordChanged`` on ``RECORD_EVENTS``; any other object is answered
``{"status": "ignored"}`` and publishes nothing. Example bodies::

    {"meta": {"id": "6a9c...", "action": "change", "entity": "deal", "entity_id": "42", "company_id": "7001",
              "version": "2.0", "attempt": 1, "change_source": "app", "timestamp": "2026-11-27T10:00:00Z"},
     "data": {"id": 42, "stage_id": 5, "pipeline_id": 1, ...}, "previous": {"stage_id": 4}}

    {"meta": {"id": "0b1d...", "action": "delete", "entity": "product", "entity_id": "3", "company_id": "7001",
              "version": "2.0", ...}, "data": null, "previous": {"id": 3, "name": "Widget", ...}}
"""

import structlog
from aiohttp import web
from pydantic import ValidationError

from pdx_common.json_body import parse_object, read_limited
from pdx_common.metrics import WEBHOOKS
from pdx_gateway.domain.webhook import RECORD_ENTITIES, PipedriveWebhook
from pdx_gateway.entrypoints.basic_auth import basic_credentials
from pdx_gateway.errors import BadRequest, Unauthorized, as_gateway_error
from pdx_gateway.handlers import accept_deal_webhook, accept_record_webhook
from pdx_gateway.keys import CREDENTIALS, PUBLISHER, SEEN_EVENTS, SETTINGS, STAGE_EVENTS

routes = web.RouteTableDef()


@routes.post("/webhooks/pipedrive/{company_id}")
async def counted_pipedrive_webhook(request: web.Request) -> web.Response:
    try:
        response = await pipedrive_webhook(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        error = as_gateway_error(exc)
        WEBHOOKS.labels("pipedrive", error.code).inc()
        if error is exc:
            raise
        raise error from None
    WEBHOOKS.labels("pipedrive", "accepted").inc()
    return response


async def pipedrive_webhook(request: web.Request) -> web.Response:
    company_id = request.match_info["company_id"]
    # Authenticated before anything of the body is read or parsed.
    user, password = basic_credentials(request)
    if not await request.app[CREDENTIALS].verify(company_id, user, password):
        raise Unauthorized("wrong webhook credentials")
    limit = request.app[SETTINGS].max_body_bytes
    hook = _parse(await read_limited(request, limit), company_id, limit)
    app = request.app
    if hook.meta.entity in RECORD_ENTITIES:
        with structlog.contextvars.bound_contextvars(company_id=company_id, entity=hook.meta.entity,
                                                     entity_id=hook.meta.entity_id, event_id=hook.meta.id):
            status = await accept_record_webhook(hook, app[PUBLISHER], app[SEEN_EVENTS])
        return web.json_response({"status": status})
    with structlog.contextvars.bound_contextvars(company_id=company_id, deal_id=hook.meta.entity_id,
                                                 event_id=hook.meta.id):
        status = await accept_deal_webhook(hook, app[PUBLISHER], app[SEEN_EVENTS], app[STAGE_EVENTS])
    return web.json_response({"status": status})


def _parse(raw: bytes, company_id: str, limit: int) -> PipedriveWebhook:
    body = parse_object(raw, max_bytes=limit)  # size, nesting and "an object": a 413 or 400 from the error table
    try:
        hook = PipedriveWebhook.model_validate(body)
    except ValidationError as exc:
        errors = [{"field": ".".join(map(str, e["loc"])), "problem": e["msg"]} for e in exc.errors()[:10]]
        raise BadRequest("the body is not a Pipedrive webhook v2 payload", errors=errors) from None
    if hook.meta.company_id != company_id:
        raise BadRequest("meta.company_id does not match the webhook URL")
    meta = hook.meta
    if meta.action != "delete" and meta.entity in ("deal", *RECORD_ENTITIES) and not hook.data:
        raise BadRequest(f"a {meta.entity} create or change webhook must carry data")
    if meta.entity in RECORD_ENTITIES and hook.data and str(hook.data.get("id", meta.entity_id)) != meta.entity_id:
        raise BadRequest("data.id does not match meta.entity_id")
    return hook
