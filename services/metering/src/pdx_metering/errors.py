"""One table maps every error the metering API raises to an HTTP status and a stable error code: its own errors
carry theirs, ``FOREIGN`` translates the ones raised by shared code, anything else is a logged 500 with a reference
(the same shape as the gateway's ``errors``)."""

from collections.abc import Callable

from aiohttp import web

from pdx_common.http import translated
from pdx_common.json_body import BodyRefused, BodyTooLarge


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


class PayloadTooLarge(MeteringError):
    status, code = 413, "payload_too_large"


class Internal(MeteringError):
    """Anything unforeseen: the details go to the log under ``reference``, never into the answer."""


# Most specific first: the first entry the exception is an instance of translates it.
FOREIGN: dict[type[Exception], Callable[[Exception], MeteringError]] = {
    BodyTooLarge: lambda exc: PayloadTooLarge(exc.message),
    BodyRefused: lambda exc: BadRequest(exc.message),
}


def as_metering_error(exc: Exception) -> MeteringError:
    return translated(exc, MeteringError, FOREIGN, Internal)


def error_response(exc: MeteringError) -> web.Response:
    body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
    return web.json_response(body, status=exc.status, headers=exc.headers)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException:
        raise  # aiohttp's own answers: 404 and 405 from the router, 413 over client_max_size
    except Exception as exc:
        return error_response(as_metering_error(exc))
