"""The operators' erasure routes, under ``/api`` (bearer token), for a company's request to be forgotten now:

``POST /api/companies/{company_id}/erase``    erase the company's personal data now (irreversible)::

    {"company_id": "7001", "state": "erased", "due_at": "...", "erased_at": "2026-11-29T21:40:00+00:00",
     "erased": {"xero_documents": 12, "activity_log": 30, "connections": 2, ...}}

``GET  /api/companies/{company_id}/erasure``  the scheduled or done erasure (404 when there is none)

The company's connections and webhook credentials go too, so a company still installed stops working: its webhooks
are refused until it installs again. Messages still in flight may write a few records after an erase now; the
scheduled purge after an uninstall waits the grace period out so that nothing is left behind.
"""

from datetime import UTC, datetime

from aiohttp import web

from pdx_gateway.erase import ERASURES
from pdx_gateway.errors import NotFound

routes = web.RouteTableDef()


@routes.post("/companies/{company_id}/erase")
async def erase_now(request: web.Request) -> web.Response:
    erasure = await request.config_dict[ERASURES].erase(request.match_info["company_id"], "operator", datetime.now(UTC))
    return web.json_response(erasure.as_json())


@routes.get("/companies/{company_id}/erasure")
async def erasure(request: web.Request) -> web.Response:
    found = await request.config_dict[ERASURES].get(request.match_info["company_id"])
    if found is None:
        raise NotFound("no erasure is scheduled or recorded for this company")
    return web.json_response(found.as_json())
