"""Xero's webhook: ``POST /webhooks/xero`` with ``x-xero-signature`` = base64(HMAC-SHA256(raw body, webhook key)).

Authenticated before it is parsed (constant-time compare): a wrong signature answers 401 and changes nothing.
Then the events are stored (the inbox) and Xero gets its empty 200 at once; a worker fetches each resource later.
The intent-to-receive handshake is the same request with ``events: []``. Example body::

    {"events": [{"resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/<id>", "resourceId": "<id>",
                 "eventDateUtc": "2026-11-27T01:15:39.902", "eventType": "UPDATE", "eventCategory": "INVOICE",
                 "tenantId": "<tenant>", "tenantType": "ORGANISATION"}],
     "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "S0m3r4Nd0mt3xt"}
"""

import asyncio
import base64
import hashlib
import hmac
from dataclasses import dataclass

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pdx_common.json_body import BodyRefused, parse_object, read_limited
from pdx_common.metrics import WEBHOOKS as METRIC_WEBHOOKS
from pdx_crmcard.adapters.webhook_inbox import MongoWebhookInbox

log = structlog.get_logger()


class XeroEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    resourceId: str = Field(min_length=1, max_length=64)  # noqa: N815 - Xero's field names
    eventCategory: str = Field(max_length=64)  # noqa: N815
    eventType: str = Field(max_length=64)  # noqa: N815
    tenantId: str = Field(min_length=1, max_length=64)  # noqa: N815
    eventDateUtc: str | None = Field(default=None, max_length=64)  # noqa: N815
    resourceUrl: str | None = Field(default=None, max_length=2000)  # noqa: N815


class XeroBatch(BaseModel):
    model_config = ConfigDict(extra="allow")

    events: list[XeroEvent] = Field(max_length=1000)


@dataclass
class WebhookDeps:
    key: str | None
    inbox: MongoWebhookInbox | None = None
    wakeup: asyncio.Event | None = None


WEBHOOKS: web.AppKey[WebhookDeps] = web.AppKey("xero_webhooks", WebhookDeps)


def add_routes(app: web.Application, deps: WebhookDeps) -> None:
    app[WEBHOOKS] = deps
    app.router.add_post("/webhooks/xero", receive)


def signature_ok(body: bytes, signature: str | None, key: str | None) -> bool:
    if not key or not signature:
        return False
    expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), signature.encode())


MAX_BODY_BYTES = 1_048_576


async def receive(request: web.Request) -> web.Response:
    deps = request.app[WEBHOOKS]
    try:
        body = await read_limited(request, MAX_BODY_BYTES)  # the raw bytes Xero signed, bounded before reading
    except BodyRefused:
        METRIC_WEBHOOKS.labels("xero", "payload_too_large").inc()
        return web.Response(status=413)
    if not signature_ok(body, request.headers.get("x-xero-signature"), deps.key):
        log.warning("xero webhook refused: bad signature")
        METRIC_WEBHOOKS.labels("xero", "unauthorized").inc()
        return web.Response(status=401)
    try:
        batch = XeroBatch.model_validate(parse_object(body, max_bytes=MAX_BODY_BYTES))
    except BodyRefused as exc:
        log.warning("xero webhook signed but not JSON within limits", reason=exc.message)
        METRIC_WEBHOOKS.labels("xero", "bad_request").inc()
        return web.Response(status=400)
    except ValidationError as exc:
        log.warning("xero webhook signed but not understood", errors=exc.errors(include_input=False)[:3])
        METRIC_WEBHOOKS.labels("xero", "bad_request").inc()
        return web.Response(status=400)
    assert deps.inbox is not None
    stored = await deps.inbox.add([e.model_dump(exclude_none=True) for e in batch.events])
    if stored and deps.wakeup is not None:
        deps.wakeup.set()
    log.info("xero webhook accepted", events=len(batch.events), new=stored)
    METRIC_WEBHOOKS.labels("xero", "accepted").inc()
    return web.Response(status=200)
