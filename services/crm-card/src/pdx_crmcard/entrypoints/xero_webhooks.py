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
from pydantic import BaseModel, ConfigDict, ValidationError

from pdx_common.metrics import WEBHOOKS as METRIC_WEBHOOKS
from pdx_crmcard.adapters.webhook_inbox import MongoWebhookInbox

log = structlog.get_logger()


class XeroEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    resourceId: str  # noqa: N815 - Xero's field names
    eventCategory: str  # noqa: N815
    eventType: str  # noqa: N815
    tenantId: str  # noqa: N815
    eventDateUtc: str | None = None  # noqa: N815
    resourceUrl: str | None = None  # noqa: N815


class XeroBatch(BaseModel):
    model_config = ConfigDict(extra="allow")

    events: list[XeroEvent]


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


async def receive(request: web.Request) -> web.Response:
    deps = request.app[WEBHOOKS]
    body = await request.read()  # the raw bytes Xero signed; aiohttp refuses bodies over client_max_size (1 MiB)
    if not signature_ok(body, request.headers.get("x-xero-signature"), deps.key):
        log.warning("xero webhook refused: bad signature")
        METRIC_WEBHOOKS.labels("xero", "unauthorized").inc()
        return web.Response(status=401)
    try:
        batch = XeroBatch.model_validate_json(body)
    except ValidationError as exc:
        log.warning("xero webhook signed but not understood", errors=exc.errors()[:3])
        METRIC_WEBHOOKS.labels("xero", "bad_request").inc()
        return web.Response(status=400)
    assert deps.inbox is not None
    stored = await deps.inbox.add([e.model_dump(exclude_none=True) for e in batch.events])
    if stored and deps.wakeup is not None:
        deps.wakeup.set()
    log.info("xero webhook accepted", events=len(batch.events), new=stored)
    METRIC_WEBHOOKS.labels("xero", "accepted").inc()
    return web.Response(status=200)
