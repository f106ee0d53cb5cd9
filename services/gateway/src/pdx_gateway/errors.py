"""One table maps every error the gateway raises to an HTTP status and a stable error code: its own errors carry
theirs, ``FOREIGN`` translates the ones raised by shared code, and anything else is a logged 500 with a reference."""

import re
from collections.abc import Callable

import structlog
from aiohttp import web

from pdx_common.http import ApiError, translated
from pdx_common.json_body import BodyRefused, BodyTooLarge

log = structlog.get_logger()


class GatewayError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message, self.details = message, details


class Unauthorized(GatewayError):
    status, code = 401, "unauthorized"
    challenge: str | None = 'Basic realm="pdx"'


class TokenRequired(Unauthorized):
    """The operators' API: a bearer token, not Basic credentials."""

    challenge = 'Bearer realm="pdx-api"'


class LinkRefused(Unauthorized):
    """A signed connect or choose link that is forged, edited or expired (a browser, so no Basic prompt)."""

    code, challenge = "link_refused", None


class BadRequest(GatewayError):
    status, code = 400, "bad_request"


class NotFound(GatewayError):
    status, code = 404, "not_found"


class Conflict(GatewayError):
    status, code = 409, "conflict"


class NothingToReplay(Conflict):
    """A replay of a deal whose syncs did not fail: nothing is re-run, and the answer says so."""

    code = "nothing_to_replay"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class Unavailable(GatewayError):
    status, code = 503, "unavailable"


class BadGateway(GatewayError):
    """Pipedrive or Xero refused or failed a call the gateway made for the request."""

    status, code = 502, "upstream_failed"


class Internal(GatewayError):
    """Anything unforeseen: the details go to the log under ``reference``, never into the answer."""

    status, code = 500, "internal_error"


def upstream(exc: ApiError) -> BadGateway:
    log.warning("upstream call failed", system=exc.system, status=exc.status, url=exc.url, body=str(exc.body)[:300])
    return BadGateway(f"{exc.system} answered {exc.status}, so this step did not finish; try again", system=exc.system,
                      upstream_status=exc.status, retryable=exc.transient)


# Most specific first: the first entry the exception is an instance of translates it.
FOREIGN: dict[type[Exception], Callable[[Exception], GatewayError]] = {
    BodyTooLarge: lambda exc: PayloadTooLarge(exc.message),
    BodyRefused: lambda exc: BadRequest(exc.message),
    ApiError: upstream,
}


def as_gateway_error(exc: Exception) -> GatewayError:
    return translated(exc, GatewayError, FOREIGN, Internal)


def error_response(exc: GatewayError) -> web.Response:
    challenge = getattr(exc, "challenge", None)
    headers = {"WWW-Authenticate": challenge} if challenge else None
    body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
    return web.json_response(body, status=exc.status, headers=headers)


PATH_IDS = ("deal_id",)  # route ids that are Pipedrive's entity ids
ENTITY_ID = re.compile(r"[1-9][0-9]{0,17}")


@web.middleware
async def path_ids(request: web.Request, handler):
    """Pipedrive's ids in a route's path (``/deals/{deal_id}/...``) are positive integers; placed after the
    authentication middleware, so an unauthenticated caller learns nothing from a 400."""
    for name in PATH_IDS:
        value = request.match_info.get(name)
        if value is not None and not ENTITY_ID.fullmatch(value):
            raise BadRequest(f"{name} must be a positive integer", field=name)
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException:
        raise  # aiohttp's own answers: 404 and 405 from the router, 413 over client_max_size
    except Exception as exc:
        return error_response(as_gateway_error(exc))
