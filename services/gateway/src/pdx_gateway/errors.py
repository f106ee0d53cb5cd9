"""One table maps every error the gateway raises to an HTTP status and a stable error code."""

import structlog
from aiohttp import web

from pdx_common.http import ApiError

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


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"


class Unavailable(GatewayError):
    status, code = 503, "unavailable"


class BadGateway(GatewayError):
    """Pipedrive or Xero refused or failed a call the gateway made for the request."""

    status, code = 502, "upstream_failed"


def upstream(exc: ApiError) -> BadGateway:
    return BadGateway(f"{exc.system} answered {exc.status}, so this step did not finish; try again", system=exc.system,
                      upstream_status=exc.status, retryable=exc.transient)


def error_response(exc: GatewayError) -> web.Response:
    challenge = getattr(exc, "challenge", None)
    headers = {"WWW-Authenticate": challenge} if challenge else None
    body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
    return web.json_response(body, status=exc.status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except GatewayError as exc:
        return error_response(exc)
    except ApiError as exc:
        log.warning("upstream call failed", system=exc.system, status=exc.status, url=exc.url,
                    body=str(exc.body)[:300])
        return error_response(upstream(exc))
