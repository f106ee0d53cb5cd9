"""Connections: Pipedrive's and Xero's status in words, the Xero organisation by name, and Connect, Reconnect,
Switch organisation and Disconnect for the company's admins.

``POST /app/xero/connect`` makes a one-time ticket (bound to this session, valid minutes) and shows the link that
opens Xero's login in a new window (Xero's pages refuse to be framed). ``GET /oauth/xero/start?ticket=`` spends it.
"""

from typing import Any

from aiohttp import web

from pdx_gateway.app_ui.render import render, saved_redirect
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.domain.connections import NO_TENANT
from pdx_gateway.entrypoints.linking import connector_for
from pdx_gateway.errors import BadRequest, NotFound
from pdx_gateway.keys import CONNECTIONS, PARKED, PUBLISHER
from pdx_gateway.xero_connect import choose_tenant, disconnect_xero

routes = web.RouteTableDef()


def _not_connected() -> NotFound:
    # The operators' wording ("company 7001 has no Xero connection; send the admin a connect link") is not theirs.
    return NotFound("Xero is not connected, so there is nothing to change",
                    fix="Open Connections and press Connect Xero.")
TICKET_FLOW = "xero-ticket"
NOTICES = {"organisation": "✓ Organisation changed. New drafts go to {org}.",
           "disconnected": "✓ Xero is disconnected. Deals that reach a trigger now wait until Xero is connected "
                           "again.",
           "connected": "✓ Xero is connected to {org}."}


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/app/connections")


@routes.get("/connections")
async def connections(request: web.Request) -> web.Response:
    session = app_session(request)
    store = request.config_dict[CONNECTIONS]
    pipedrive = pipedrive_state(await store.get("pipedrive", session.company_id))
    xero = xero_state(await store.get("xero", session.company_id))
    notice = NOTICES.get(request.query.get("saved", ""), "").format(org=xero.get("org") or "your organisation")
    return render(request, "connections.html", {"pipedrive": pipedrive, "xero": xero, "notice": notice or None,
                                                "saved": None})


def pipedrive_state(doc: dict[str, Any] | None) -> dict[str, Any]:
    if doc is None:
        return {"ok": False, "words": "Not installed."}
    if doc.get("status") != "ok":
        return {"ok": False, "words": f"Disconnected: {doc.get('broken_reason') or 'Pipedrive refused our access'}.",
                "fix": "Reinstall the app from the Pipedrive Marketplace to reconnect it."}
    return {"ok": True, "words": f"Connected to {doc.get('company_domain') or 'your company'}.pipedrive.com."}


def xero_state(doc: dict[str, Any] | None) -> dict[str, Any]:
    """What the admin reads about Xero, and which buttons make sense now."""
    if doc is None:
        return {"state": "none", "words": "Not connected. Deals that reach a trigger wait until Xero is connected.",
                "tenants": [], "org": None}
    tenants = [{"id": t["tenantId"], "name": t.get("tenantName") or "(unnamed organisation)"}
               for t in doc.get("tenants") or []]
    org = doc.get("tenant_name")
    if doc.get("status") == "ok":
        return {"state": "ok", "words": "Connected. New drafts go to", "org": org, "tenants": tenants,
                "tenant_id": doc.get("tenant_id")}
    if doc.get("broken_reason") == NO_TENANT:
        return {"state": "choose", "words": "Connected, but no organisation is chosen yet: choose the one deals "
                "are written to.", "org": None, "tenants": tenants, "tenant_id": None}
    return {"state": "broken", "org": org, "tenants": tenants, "tenant_id": doc.get("tenant_id"),
            "words": f"Disconnected: {doc.get('broken_reason') or 'Xero refused our access'}. Deals wait until you "
                     "reconnect; nothing is lost."}


@routes.post("/xero/connect")
async def start_connect(request: web.Request) -> web.Response:
    form = await posted_form(request)
    session = app_session(request)
    c = connector_for(request, "xero")
    ticket = await c.states.create(TICKET_FLOW, lifetime_seconds=c.settings.app_connect_ttl_seconds,
                                   company_id=session.company_id, session_id=session.id,
                                   reconnect=form.get("reconnect") == "true")
    minutes = max(1, c.settings.app_connect_ttl_seconds // 60)
    return render(request, "connect_start.html", {"start_url": f"/oauth/xero/start?ticket={ticket}",
                                                  "minutes": minutes})


@routes.post("/xero/tenant")
async def switch_organisation(request: web.Request) -> web.Response:
    form = await posted_form(request)
    session = app_session(request)
    tenant_id = form.get("tenant_id")
    if not isinstance(tenant_id, str) or not 0 < len(tenant_id) <= 64:
        raise BadRequest("choose one of the organisations listed")
    app = request.config_dict
    try:
        await choose_tenant(session.company_id, tenant_id, app[CONNECTIONS], app[PARKED], app[PUBLISHER])
    except NotFound:
        raise _not_connected() from None
    raise saved_redirect("/app/connections", "organisation")


@routes.post("/xero/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    await posted_form(request)
    session = app_session(request)
    try:
        await disconnect_xero(connector_for(request, "xero"), session.company_id)
    except NotFound:
        raise _not_connected() from None
    raise saved_redirect("/app/connections", "disconnected")
