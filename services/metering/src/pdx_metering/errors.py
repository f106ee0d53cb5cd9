"""One table maps every error the metering API raises to an HTTP status and a stable error code."""

from aiohttp import web


class MeteringError(Exception):
    status = 500
    code = "internal_error"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message, self.details = message, details


class Unauthorized(MeteringError):
    status, code = 401, "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="pdx-metering"'}


class BadRequest(MeteringError):
    status, code = 400, "bad_request"


def error_response(exc: MeteringError) -> web.Response:
    body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
    return web.json_response(body, status=exc.status, headers=exc.headers)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except MeteringError as exc:
        return error_response(exc)
