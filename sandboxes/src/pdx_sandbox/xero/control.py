"""Sandbox control API under /_sandbox/ (no auth; for tests and the local run, bind to loopback).

What a user does in Xero itself, for tests that need a document further along than a draft:

- ``POST /_sandbox/invoices/<InvoiceID>/<action>`` ``{"tenant_id": "..."}``, action ``submit`` (for approval),
  ``approve`` (AUTHORISED: needs a DueDate and an AccountCode on every line), ``pay`` (``"amount"``: part or,
  without it, all of what is due), ``void``; answers the invoice, or 400 ``{"Message": ...}`` when Xero would refuse.
- ``POST /_sandbox/quotes/<QuoteID>/<action>`` ``{"tenant_id": "..."}``, action ``send`` (SENT), ``accept``,
  ``decline``, ``invoice`` (INVOICED), ``delete``, ``draft`` (back to DRAFT); answers the quote.
"""

import json

from aiohttp import web

from ..faults import BadFault, parse
from .documents import QUOTE_ACTIONS
from .errors import XeroError
from .state import CONSENT_MODES, XERO_STATE, XeroState

routes = web.RouteTableDef()


def _state(request: web.Request) -> XeroState:
    return request.app[XERO_STATE]


async def _json(request: web.Request) -> dict:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise XeroError(400, {"error": "body is not JSON"}) from exc
    if not isinstance(data, dict):
        raise XeroError(400, {"error": "body must be a JSON object"})
    return data


@routes.get("/_sandbox/requests")
async def list_requests(request: web.Request) -> web.Response:
    """GET /_sandbox/requests?tenant=<id>&path_prefix=/api.xro/2.0/Invoices."""
    found = _state(request).requests_for(request.query.get("tenant"), request.query.get("path_prefix"))
    return web.json_response([r.to_dict() for r in found])


@routes.get("/_sandbox/state")
async def summary(request: web.Request) -> web.Response:
    return web.json_response(_state(request).summary())


@routes.get("/_sandbox/tenants/{tenant_id}/{collection}")
async def collection(request: web.Request) -> web.Response:
    """GET /_sandbox/tenants/<id>/invoices (or quotes, contacts, items, webhook) without auth or rate limits."""
    state, tenant_id, name = _state(request), request.match_info["tenant_id"], request.match_info["collection"]
    if tenant_id not in state.tenants or name not in ("invoices", "quotes", "contacts", "items"):
        raise XeroError(404, {"error": "unknown tenant or collection"})
    docs = getattr(state, name)(tenant_id)
    return web.json_response([{k: v for k, v in d.items() if not k.startswith("_")} for d in docs])


@routes.post("/_sandbox/clock/advance")
async def advance(request: web.Request) -> web.Response:
    """{"seconds": 1800}."""
    state = _state(request)
    state.clock.advance(float((await _json(request)).get("seconds", 0)))
    return web.json_response({"time": state.clock.time()})


@routes.post("/_sandbox/revoke-all")
async def revoke_all(request: web.Request) -> web.Response:
    _state(request).revoke_all_tokens()
    return web.json_response({"revoked": True})


@routes.post("/_sandbox/outage")
async def outage(request: web.Request) -> web.Response:
    """{"tenant_id": "...", "status": 503, "count": 2}."""
    data = await _json(request)
    state = _state(request)
    if data.get("tenant_id") not in state.tenants:
        raise XeroError(404, {"error": "unknown tenant"})
    state.set_outage(data["tenant_id"], int(data.get("status", 500)), int(data.get("count", 1)))
    return web.json_response({"ok": True})


@routes.post("/_sandbox/faults")
async def add_fault(request: web.Request) -> web.Response:
    """{"status": 503, "ratio": 0.2, "paths": ["/api.xro/2.0/"], "delay": 0, "retry_after": null} (pdx_sandbox.faults):
    unlike /_sandbox/outage, for every tenant and a share of the calls, identity included when paths say so."""
    try:
        fault = parse(await _json(request))
    except BadFault as exc:
        raise XeroError(400, {"error": str(exc)}) from exc
    _state(request).faults.add(fault)
    return web.json_response(fault.to_dict(), status=201)


@routes.get("/_sandbox/faults")
async def list_faults(request: web.Request) -> web.Response:
    return web.json_response(_state(request).faults.describe())


@routes.delete("/_sandbox/faults")
async def clear_faults(request: web.Request) -> web.Response:
    faults = _state(request).faults
    rules = faults.describe()
    faults.clear()
    return web.json_response(rules)


@routes.post("/_sandbox/tenants")
async def add_tenant(request: web.Request) -> web.Response:
    """{"name": "Acme (AU)", "base_currency": "AUD", "country_code": "AU", "currencies": ["AUD", "USD"]}."""
    data = await _json(request)
    tenant_id = _state(request).add_tenant(str(data.get("name", "Sandbox Org")), str(data.get("base_currency", "USD")),
                                           country_code=data.get("country_code"), currencies=data.get("currencies"))
    return web.json_response({"tenantId": tenant_id}, status=201)


@routes.post("/_sandbox/webhook")
async def set_webhook(request: web.Request) -> web.Response:
    """{"url": "http://127.0.0.1:9000/xero/webhook"} (null to stop); answers whether intent-to-receive passed."""
    state = _state(request)
    url = (await _json(request)).get("url")
    state.webhook_url = url
    ok = await state.intent_to_receive(url) if url else None
    return web.json_response({"url": url, "intent_to_receive": ok})


@routes.post("/_sandbox/consent")
async def set_consent(request: web.Request) -> web.Response:
    """{"mode": "first" | "all" | "page"}: what /identity/connect/authorize grants (see oauth.authorize)."""
    state = _state(request)
    mode = (await _json(request)).get("mode")
    if mode not in CONSENT_MODES:
        raise XeroError(400, {"error": f"mode must be one of {', '.join(CONSENT_MODES)}"})
    state.consent = mode
    return web.json_response({"mode": mode})


@routes.post("/_sandbox/latency")
async def set_latency(request: web.Request) -> web.Response:
    """{"seconds": 0.5}: real seconds every accounting call takes."""
    state = _state(request)
    state.latency_seconds = float((await _json(request)).get("seconds", 0))
    return web.json_response({"seconds": state.latency_seconds})


@routes.post("/_sandbox/invoices/{invoice_id}/{action}")
async def invoice_action(request: web.Request) -> web.Response:
    """POST /_sandbox/invoices/<id>/pay {"tenant_id": "...", "amount": 10.0}; also /submit, /approve and /void."""
    state, data = _state(request), await _json(request)
    tenant_id = data.get("tenant_id")
    invoice_id, action = request.match_info["invoice_id"], request.match_info["action"]
    if tenant_id not in state.tenants or invoice_id not in state.tenants[tenant_id].invoices:
        raise XeroError(404, {"error": "unknown tenant or invoice"})
    if action == "approve":
        doc = state.approve_invoice(tenant_id, invoice_id)
    elif action == "submit":
        doc = state.submit_invoice(tenant_id, invoice_id)
    elif action == "pay":
        amount = data.get("amount")
        doc = state.pay_invoice(tenant_id, invoice_id, float(amount) if amount is not None else None)
    elif action == "void":
        doc = state.void_invoice(tenant_id, invoice_id)
    else:
        raise XeroError(404, {"error": f"unknown action {action}"})
    return web.json_response({k: v for k, v in doc.items() if not k.startswith("_")})


@routes.post("/_sandbox/quotes/{quote_id}/{action}")
async def quote_action(request: web.Request) -> web.Response:
    """POST /_sandbox/quotes/<id>/accept {"tenant_id": "..."}; also /send, /decline, /invoice, /delete, /draft."""
    state, data = _state(request), await _json(request)
    tenant_id = data.get("tenant_id")
    quote_id, action = request.match_info["quote_id"], request.match_info["action"]
    if tenant_id not in state.tenants or quote_id not in state.tenants[tenant_id].quotes:
        raise XeroError(404, {"error": "unknown tenant or quote"})
    if action not in QUOTE_ACTIONS:
        raise XeroError(404, {"error": f"unknown action {action}"})
    doc = state.change_quote(tenant_id, quote_id, action)
    return web.json_response({k: v for k, v in doc.items() if not k.startswith("_")})
