"""One table maps every error the gateway raises to an HTTP status and a stable error code."""

from aiohttp import web


class GatewayError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message, self.details = message, details


class Unauthorized(GatewayError):
    status, code = 401, "unauthorized"


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


def error_response(exc: GatewayError) -> web.Response:
    headers = {"WWW-Authenticate": 'Basic realm="pdx"'} if exc.status == 401 else None
    body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
    return web.json_response(body, status=exc.status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except GatewayError as exc:
        return error_response(exc)
