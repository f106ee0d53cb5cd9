"""The deal pages' templates (the settings app's, ``deal_*.html``) and headers: standalone pages opened in a tab of
their own, so they may not be framed by anyone (``frame-ancestors 'none'``), load nothing but our stylesheet, and
post forms only to themselves.

    return page(request, "deal_error.html", {"heading": "...", "message": "...", "fix": None}, status=403)
"""

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from pdx_gateway.errors import as_gateway_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           # same-origin, not no-referrer: a form POST must carry its Origin, which the POST checks; links out to
           # Pipedrive carry no referrer (and so not the result's request id).
           "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
PAGE_DEFAULTS = {"company_domain": None, "deal_url": None, "fix": None, "back_to": None}
_standalone: jinja2.Environment | None = None


def page(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, {**PAGE_DEFAULTS, **context}, status=status)


def standalone(template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """The same page outside the ``/deal`` sub-app (the OAuth callback), with the same headers."""
    global _standalone
    if _standalone is None:
        _standalone = jinja2.Environment(loader=jinja2.PackageLoader("pdx_gateway.app_ui", "templates"),
                                         autoescape=jinja2.select_autoescape(default=True),
                                         undefined=jinja2.StrictUndefined)
    text = _standalone.get_template(template).render({**PAGE_DEFAULTS, **context})
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8", headers=HEADERS)


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(HEADERS)
        raise
    response.headers.update(HEADERS)
    return response


@web.middleware
async def page_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page in plain words for anything unforeseen on the pages (the modals answer Pipedrive's JSON themselves)."""
    if request.match_info.route.name in ("modal-get", "modal-post"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return page(request, "deal_error.html", {
            "heading": "This page does not exist", "message": "The address is not one of a deal's actions.",
            "fix": "Open the deal in Pipedrive and use the action from its Xero panel."}, status=404)
    except web.HTTPMethodNotAllowed:
        return page(request, "deal_error.html", {
            "heading": "This page was the answer to a form", "message": "It cannot be opened again by reloading.",
            "fix": "Open the link again from the deal in Pipedrive."}, status=405)
    except web.HTTPException:
        raise
    except Exception as exc:
        error = as_gateway_error(exc)  # the gateway's one error table; unforeseen ones are logged there
        return page(request, "deal_error.html", {
            "heading": "Something went wrong", "message": "The app could not do this just now.",
            "fix": "Try again in a minute. If it keeps happening, ask an admin to replay the deal from the Sync log "
                   "in the Xero drafts app's settings."}, status=error.status if error.status >= 500 else 503)
