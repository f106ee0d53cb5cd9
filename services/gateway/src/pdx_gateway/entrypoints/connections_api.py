"""The operators' connection routes, in the ``/api`` sub-app (bearer token).

``POST   /api/companies/{company_id}/xero/connect-link``  -> ``{"url": <signed link>, "expires_at": ...}``
``GET    /api/companies/{company_id}/connections``        -> both connections' state, never a token
``PUT    /api/companies/{company_id}/xero/tenant``        ``{"tenant_id": "<one of the connection's tenants>"}``
``DELETE /api/companies/{company_id}/xero``               disconnect at Xero, revoke the grant, forget it
"""

from datetime import UTC, datetime

from aiohttp import web

from pdx_common.json_body import read_json_object
from pdx_gateway.domain.connections import connection_view
from pdx_gateway.entrypoints.linking import connect_link, connector_for
from pdx_gateway.errors import BadRequest
from pdx_gateway.keys import CONNECTIONS, PARKED, PUBLISHER, SETTINGS
from pdx_gateway.xero_connect import choose_tenant, disconnect_xero

routes = web.RouteTableDef()


@routes.post("/companies/{company_id}/xero/connect-link")
async def xero_connect_link(request: web.Request) -> web.Response:
    url, expires = connect_link(request.config_dict[SETTINGS], request.match_info["company_id"])
    return web.json_response({"url": url, "expires_at": datetime.fromtimestamp(expires, UTC).isoformat()})


@routes.get("/companies/{company_id}/connections")
async def connections(request: web.Request) -> web.Response:
    company_id, store = request.match_info["company_id"], request.config_dict[CONNECTIONS]
    views = [connection_view(system, await store.get(system, company_id)) for system in ("pipedrive", "xero")]
    return web.json_response({"company_id": company_id, "connections": views})


@routes.put("/companies/{company_id}/xero/tenant")
async def xero_tenant(request: web.Request) -> web.Response:
    company_id, app = request.match_info["company_id"], request.config_dict
    tenant_id = await _tenant_id(request)
    await choose_tenant(company_id, tenant_id, app[CONNECTIONS], app[PARKED], app[PUBLISHER])
    return web.json_response(connection_view("xero", await app[CONNECTIONS].get("xero", company_id)))


@routes.delete("/companies/{company_id}/xero")
async def xero_disconnect(request: web.Request) -> web.Response:
    company_id = request.match_info["company_id"]
    await disconnect_xero(connector_for(request, "xero"), company_id)
    return web.json_response({"company_id": company_id, "xero": "disconnected"})


async def _tenant_id(request: web.Request) -> str:
    body = await read_json_object(request, max_bytes=request.config_dict[SETTINGS].max_body_bytes)
    tenant_id = body.get("tenant_id")
    if not isinstance(tenant_id, str) or not 0 < len(tenant_id) <= 64:
        raise BadRequest('send {"tenant_id": "<organisation id>"}')
    return tenant_id
