"""Pages: Jinja2 templates (autoescaped) under ``templates/``, every one extending ``base.html``.

``render(request, "triggers.html", {"errors": {...}, ...})`` adds what every page needs: the session, its CSRF
token, whether the viewer may change things (``read_only``), the navigation and the section shown.
"""

from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from pdx_gateway.app_ui.session import SESSION_KEY, AppSession

# (path, label): the sections, in the order an admin sets the app up.
NAV = (
    ("/app/connections", "Connections"),
    ("/app/triggers", "Triggers"),
    ("/app/rules", "Customers, products & money"),
    ("/app/customers", "Customers & products"),
    ("/app/mappings", "Field mappings"),
    ("/app/deal-fields", "Numbers on the deal"),
    ("/app/preview", "Preview"),
    ("/app/log", "Sync log"),
    ("/app/backfill", "Backfill"),
    ("/app/usage", "Usage"),
    ("/app/history", "History"),
)


def setup_templates(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("pdx_gateway.app_ui", "templates"),
                         autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)


def _common(request: web.Request) -> dict[str, Any]:
    session: AppSession | None = request.get(SESSION_KEY)
    return {"session": session, "csrf_token": session.csrf if session else "",
            "read_only": not (session and session.is_admin), "nav": NAV if session else (),
            "current": request.path, "saved": request.query.get("saved"), "errors": {}, "notice": None,
            # field name -> its label, so the error summary says which field ("Due after (days): must be 0 or more")
            "error_labels": {}}


def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, {**_common(request), **(context or {})},
                                              status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def saved_redirect(path: str, what: str = "1") -> web.HTTPSeeOther:
    """After a successful save: back to the section, which then shows its saved state (Post/Redirect/Get).
    ``raise saved_redirect("/app/triggers")``."""
    return web.HTTPSeeOther(f"{path}?saved={what}")
