"""The operators' usage API under ``/api`` (bearer token).

``GET /api/companies/{company_id}/usage?from=2026-01&to=2026-12`` (both optional, inclusive) ->

    {"company_id": "7001",
     "months": [{"month": "2026-11", "drafts": 12, "invoices": 10, "quotes": 2}]}

Only months with at least one draft are listed, oldest first.
"""

import re

from aiohttp import web

from pdx_common.auth import bearer_middleware
from pdx_metering.domain.usage import InvalidMonth, month_range
from pdx_metering.errors import BadRequest, Unauthorized, error_middleware
from pdx_metering.keys import SETTINGS, USAGE

routes = web.RouteTableDef()
COMPANY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Pipedrive's company ids are digits; operators' tests use names


bearer_auth = bearer_middleware(lambda request: request.config_dict[SETTINGS].api_token.get_secret_value(),
                                lambda: Unauthorized("a valid API bearer token is required"))


def create_api() -> web.Application:
    api = web.Application(middlewares=[error_middleware, bearer_auth])
    api.add_routes(routes)
    return api


@routes.get("/companies/{company_id}/usage")
async def usage(request: web.Request) -> web.Response:
    company_id = request.match_info["company_id"]
    if not COMPANY_ID.fullmatch(company_id):
        raise BadRequest("the company id is letters, digits, - or _ (at most 64)")
    try:
        first, last = month_range(request.query.get("from"), request.query.get("to"))
    except InvalidMonth as exc:
        raise BadRequest(str(exc)[:200]) from None
    months = await request.config_dict[USAGE].usage(company_id, first, last)
    return web.json_response({"company_id": company_id, "months": [m.to_json() for m in months]})
