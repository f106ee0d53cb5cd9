"""Connecting Xero from a signed link the company's admin received.

``GET /oauth/xero/connect?company_id=7001&expires=1796000000&sig=<hex>``  -> 302 to Xero (state, PKCE S256)
``GET /oauth/xero/start?ticket=<one-time>``                                -> 302 to Xero; the ticket comes from
                                                                            Connect in the settings app
``GET /oauth/xero/callback?code&state``                                   -> tokens stored; an HTML page, listing
                                                                            the organisations when several
``GET /oauth/xero/choose?company_id=7001&tenant_id=<id>&expires&sig``     -> that organisation chosen
"""

from aiohttp import web

from pdx_gateway.app_ui.connect import TICKET_FLOW
from pdx_gateway.connector import Connector
from pdx_gateway.entrypoints import pages
from pdx_gateway.entrypoints.linking import (
    CHOOSE,
    CONNECT,
    choose_link,
    connector_for,
    redirect_bound,
    same_browser,
    unbind,
    verified,
)
from pdx_gateway.errors import BadRequest, LinkRefused
from pdx_gateway.keys import CONNECTIONS, PARKED, PUBLISHER
from pdx_gateway.xero_connect import XeroConnected, choose_tenant, finish_xero_connect, start_xero_connect

routes = web.RouteTableDef()


@routes.get("/oauth/xero/connect")
async def connect(request: web.Request) -> web.Response:
    c = connector_for(request, "xero")
    company_id = verified(c.settings, CONNECT, request.query, ("company_id",))["company_id"]
    url, state = await start_xero_connect(c, company_id)
    return redirect_bound(c, "xero", url, state)


@routes.get("/oauth/xero/start")
async def start(request: web.Request) -> web.Response:
    """Connect Xero from the settings app: the ticket was made by an admin's session a few minutes ago and works
    once, so a forwarded or leaked link is worth nothing."""
    c = connector_for(request, "xero")
    ticket = await c.states.consume(TICKET_FLOW, request.query.get("ticket", ""))
    if ticket is None:
        raise LinkRefused("this connect link was already used or has expired; press Connect Xero in the app's "
                          "settings again", fix="In Pipedrive, open Settings > Apps > Xero drafts > Connections.")
    url, state = await start_xero_connect(c, ticket["company_id"])
    return redirect_bound(c, "xero", url, state)


@routes.get("/oauth/xero/callback")
async def callback(request: web.Request) -> web.Response:
    c = connector_for(request, "xero")
    # Spent before anything else: a forged or replayed callback stores nothing.
    given = request.query.get("state", "")
    state = await c.states.consume("xero", given) if same_browser(request, "xero", given) else None
    if state is None:
        raise BadRequest("this connect attempt is unknown, expired, already used or from another browser; "
                         "open the connect link again")
    code = request.query.get("code")
    if not code:
        raise BadRequest(f"Xero did not authorise the app ({request.query.get('error', 'no code')})")
    done = await finish_xero_connect(c, state["company_id"], code, state["code_verifier"])
    return unbind(_result_page(c, done), "xero")


def _result_page(c: Connector, done: XeroConnected) -> web.Response:
    if done.tenant_id is not None:
        name = next(t["tenantName"] for t in done.tenants if t["tenantId"] == done.tenant_id)
        return pages.connected(name, done.resumed)
    if not done.tenants:
        return pages.no_organisation()
    return pages.choose([(t["tenantName"], choose_link(c.settings, done.company_id, t["tenantId"]))
                         for t in done.tenants])


@routes.get("/oauth/xero/choose")
async def choose(request: web.Request) -> web.Response:
    c = connector_for(request, "xero")
    fields = verified(c.settings, CHOOSE, request.query, ("company_id", "tenant_id"))
    app = request.config_dict
    chosen = await choose_tenant(fields["company_id"], fields["tenant_id"], app[CONNECTIONS], app[PARKED],
                                 app[PUBLISHER])
    return pages.connected(chosen["tenantName"], chosen["resumed"])
