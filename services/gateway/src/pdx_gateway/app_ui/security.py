"""The app's middlewares: security headers on every answer, the session on every page, and errors as pages.

CSP: scripts, styles and forms only from this origin (forms may also lead to Xero's login, where Connect goes);
``frame-ancestors`` only Pipedrive (and, locally, the Pipedrive sandbox that plays the host).
"""

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import COOKIE, SESSION_KEY, CsrfRefused, NoSession, ReadOnly
from pdx_gateway.errors import BadGateway, Unavailable, as_gateway_error
from pdx_gateway.keys import APP_SESSIONS, SETTINGS

log = structlog.get_logger()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = ("/app/pipedrive/", "/app/static/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings) -> str:
    forms = " ".join(["'self'", _origin(settings.xero_authorize_url)])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"form-action {forms}; frame-ancestors {settings.app_frame_ancestors}; base-uri 'none'; "
            "object-src 'none'")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _headers(request, response)
        raise
    _headers(request, response)
    return response


def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = content_security_policy(request.config_dict[SETTINGS])
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: a form POST must carry its Origin, which the session middleware checks.
    response.headers["Referrer-Policy"] = "same-origin"


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    if request.method not in ("GET", "HEAD") and not _same_origin(request):
        raise CsrfRefused()
    token = request.cookies.get(COOKIE, "")
    session = await request.config_dict[APP_SESSIONS].get(token) if token else None
    if session is None:
        raise NoSession()
    request[SESSION_KEY] = session
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    """A browser's POST names its origin; another origin (or "null", a sandboxed or privacy-stripped one) is refused.
    Without the header (old clients) the CSRF token alone decides."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    public = request.config_dict[SETTINGS].public_url or f"{request.scheme}://{request.host}"
    return hmac.compare_digest(origin.encode(), _origin(public).encode())


@web.middleware
async def page_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal is a page in plain words with what to do, never a stack trace or JSON."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _page(request, 404, "This page does not exist",
                     "The address is not one of the app's pages, or it was for a form that has been sent already.",
                     "Use the sections at the top, or open Connections.")
    except web.HTTPMethodNotAllowed:
        return _page(request, 405, "This page was the answer to a form",
                     "It cannot be opened again by reloading or from a bookmark. Nothing was changed.",
                     "Use the sections at the top to go on.")
    except web.HTTPException:
        raise
    except NoSession:
        return _page(request, 401, "Open the app from Pipedrive",
                     "This page needs you to be signed in through Pipedrive, and your session has ended or was "
                     "never started.",
                     "In Pipedrive, go to Settings > Apps (Marketplace apps), find Xero drafts and open its "
                     "settings.")
    except ReadOnly:
        return _page(request, 403, "Only admins can change this",
                     "Only your company's Pipedrive admins can change the app's settings or connections. Nothing "
                     "was changed.", "Ask an admin of your Pipedrive company to make the change.")
    except CsrfRefused:
        return _page(request, 403, "This form has expired",
                     "The form was sent from an old page or from another site, so nothing was changed.",
                     "Reload the page and try again.")
    except Exception as exc:
        error = as_gateway_error(exc)  # the gateway's one error table; unforeseen ones are logged there
        if error.status >= 500 and not isinstance(error, Unavailable | BadGateway):
            return _page(request, 500, "Something went wrong",
                         "The app could not show this page. Nothing was changed.",
                         "Try again in a minute. If it keeps happening, tell us what you clicked.")
        fix = error.details.get("fix")
        return _page(request, error.status, _title(error.status), _sentence(error.message),
                     fix if isinstance(fix, str) else None)


def _sentence(message: str) -> str:
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _title(status: int) -> str:
    return {400: "That did not work", 401: "Not signed in", 403: "Not allowed", 404: "Not found",
            409: "Changed meanwhile", 503: "Not available right now"}.get(status, "That did not work")


def _page(request: web.Request, status: int, title: str, message: str, fix: str | None) -> web.Response:
    return render(request, "error.html", {"title": title, "message": message, "fix": fix}, status=status)
