"""The sandbox plays Pipedrive's web app around the app's "Custom UI for app settings" iframe.

``GET /host/app-settings?company_id=7001&user_id=12001`` is a minimal Pipedrive settings screen embedding
``{settings_url}?id=<uuid>&userId=12001&companyId=7001&token=<JWT>&resource=settings&view=settings``, the JWT HS256
signed with the app's JWT secret (default: the client secret) carrying ``userId``, ``companyId``, ``iat`` and ``exp``
(5 minutes). ``static/host.js`` answers the @pipedrive/app-extensions-sdk messages: ``initialize`` -> ``{data: {}}``
(then ``body[data-app-initialised="true"]`` and the status "App initialised"), ``get_signed_token`` -> ``{data:
{token}}`` fetched from ``GET /host/token``, anything else -> ``{data: {}}``. Without ``initialize`` within 10 s
(``&init_timeout_ms=`` to shorten) the host says "The app did not respond" and sets ``data-app-initialised="false"``.
Pipedrive keeps an app's frame hidden until it initialises; the sandbox shows it throughout (dimmed after the
timeout), so a test can read and screenshot an error page that never initialises the SDK.

Opening a page as a user logs this browser in to the sandbox as that user (cookie ``pd_sandbox_login_<company>``,
one per company: cookies do not tell ports apart), as a browser is logged in to Pipedrive; ``/oauth/authorize``
then consents as them (oauth.py). Without the cookie the company's admin consents, as an install always did.

``GET /settings/marketplace/app/{client_id}/app-settings?user_id=..`` is the same page at Pipedrive's deep link.
Test variants of the first token: ``&token=expired`` (expired 5 minutes ago), ``&token=forged`` (signed with a wrong
secret), ``&token=other_company`` (its companyId is another company's than the query's). The settings URL comes from
``serve --app-settings-url`` or ``POST /_sandbox/app {"settings_url": "...", "jwt_secret": null}``.
"""

import html
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from pdx_sandbox.pipedrive import jwt
from pdx_sandbox.pipedrive.http import state_of
from pdx_sandbox.pipedrive.state import PipedriveState

STATIC = Path(__file__).parent / "static"
TOKEN_VARIANTS = ("valid", "expired", "forged", "other_company")
INIT_TIMEOUT_MS = 10_000
LOGIN_COOKIE = "pd_sandbox_login_{company_id}"


def log_in(response: web.StreamResponse, state: PipedriveState, user_id: int) -> web.StreamResponse:
    """This browser is now logged in to the sandbox company as ``user_id`` (a session cookie, as Pipedrive's)."""
    response.set_cookie(LOGIN_COOKIE.format(company_id=state.company_id), str(user_id), path="/", httponly=True,
                        samesite="Lax")
    return response


def logged_in(request: web.Request, state: PipedriveState) -> int | None:
    """The active user this browser is logged in as, or None (never logged in, or the user is gone)."""
    try:
        user_id = int(request.cookies.get(LOGIN_COOKIE.format(company_id=state.company_id), ""))
    except ValueError:
        return None
    user = state.users.get(user_id)
    return user_id if user is not None and user["active_flag"] else None


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(status=status, content_type="text/html", charset="utf-8", text=f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · Pipedrive (sandbox)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/host/static/host.css"></head>
{body}</html>""")


def _error(status: int, message: str) -> web.Response:
    return _page("Error", f'<body><header class="topbar">Pipedrive <span>sandbox</span></header>'
                          f'<main class="content"><h1>Something is wrong</h1><p class="error">'
                          f"{html.escape(message)}</p></main></body>", status)


def _ints(request: web.Request, state: PipedriveState) -> tuple[int, int] | web.Response:
    try:
        company_id = int(request.query.get("company_id") or state.company_id)
        user_id = int(request.query.get("user_id") or state.user_id)
    except ValueError:
        return _error(400, "company_id and user_id must be numbers")
    if company_id != state.company_id:
        return _error(404, f"Company {company_id} is not in this sandbox (it holds company {state.company_id}).")
    if user_id not in state.users:
        return _error(404, f"User {user_id} is not a user of company {company_id}.")
    if not state.users[user_id]["active_flag"]:
        return _error(403, f"User {user_id} is deactivated and cannot log in.")
    return company_id, user_id


def first_token(state: PipedriveState, user_id: int, company_id: int, variant: str) -> str:
    secret, now = state.signing_secret, time.time()
    if variant == "expired":
        return jwt.app_token(user_id, company_id, secret, now=now - 2 * jwt.TOKEN_TTL)
    if variant == "forged":
        return jwt.app_token(user_id, company_id, secret + "-not-the-secret", now=now)
    if variant == "other_company":
        return jwt.app_token(user_id, company_id + 1, secret, now=now)
    return jwt.app_token(user_id, company_id, secret, now=now)


def iframe_url(settings_url: str, frame_id: str, user_id: int, company_id: int, token: str) -> str:
    query = urlencode({"id": frame_id, "userId": user_id, "companyId": company_id, "token": token,
                       "resource": "settings", "view": "settings"})
    return f"{settings_url}{'&' if '?' in settings_url else '?'}{query}"


async def app_settings(request: web.Request) -> web.Response:
    state = state_of(request)
    ids = _ints(request, state)
    if isinstance(ids, web.Response):
        return ids
    company_id, user_id = ids
    if not state.app_settings_url:
        return _error(409, "No app settings URL is set: start the sandbox with --app-settings-url or POST "
                           '/_sandbox/app {"settings_url": "..."}.')
    variant = request.query.get("token", "valid")
    if variant not in TOKEN_VARIANTS:
        return _error(400, f"token must be one of {', '.join(TOKEN_VARIANTS)}")
    try:
        timeout_ms = int(request.query.get("init_timeout_ms") or INIT_TIMEOUT_MS)
    except ValueError:
        return _error(400, "init_timeout_ms must be a number")
    frame_id = str(uuid.uuid4())
    src = iframe_url(state.app_settings_url, frame_id, user_id, company_id,
                     first_token(state, user_id, company_id, variant))
    user = state.users[user_id]
    e = html.escape
    body = f"""<body data-company-id="{company_id}" data-user-id="{user_id}" data-frame-id="{frame_id}"
 data-init-timeout-ms="{timeout_ms}" data-token-variant="{e(variant)}">
<header class="topbar">Pipedrive <span>sandbox</span>
 <span class="who">{e(user["name"])} · {e(state.company_name)}{" · admin" if user["is_admin"] else ""}</span></header>
<div class="layout">
<nav class="sidenav" aria-label="Settings"><p class="nav-title">Settings</p><ul>
 <li>Personal preferences</li><li>Company settings</li><li>Tools and apps</li>
 <li class="current" aria-current="page">Marketplace apps</li></ul></nav>
<main class="content">
<p class="crumbs">Tools and apps › Marketplace apps › Xero drafts</p>
<h1>Xero drafts</h1>
<p id="app-status" class="status" role="status" data-state="loading">Loading the app…</p>
<div id="app-snackbar" class="snackbar" role="status" aria-live="polite" hidden></div>
<iframe id="app-frame" class="app-frame loading" title="Xero drafts settings" data-src="{e(src)}"></iframe>
</main></div>
<script src="/host/static/host.js"></script>
</body>"""
    return log_in(_page("Xero drafts settings", body), state, user_id)


async def deep_link(request: web.Request) -> web.Response:
    """``GET /settings/marketplace/app/{client_id}/app-settings[?user_id=12002]``: Pipedrive's deep link to an app's
    settings (``https://{company}.pipedrive.com/settings/marketplace/app/{CLIENT_ID}/app-settings``), same page."""
    if request.match_info["client_id"] != state_of(request).client_id:
        return _error(404, "No app with this client id is installed in this company.")
    return await app_settings(request)


async def token(request: web.Request) -> web.Response:
    """``GET /host/token?company_id=7001&user_id=12001`` -> ``{"token": "<JWT>"}``: what get_signed_token gives."""
    state = state_of(request)
    ids = _ints(request, state)
    if isinstance(ids, web.Response):
        return web.json_response({"error": "unknown company or user"}, status=ids.status)
    company_id, user_id = ids
    answer = web.json_response({"token": jwt.app_token(user_id, company_id, state.signing_secret)})
    answer.headers["Cache-Control"] = "no-store"
    return answer


async def index(request: web.Request) -> web.Response:
    """``GET /host/``: the company, its users and links to the settings screen as each of them."""
    state = state_of(request)
    e = html.escape
    rows = []
    for user_id, user in sorted(state.users.items()):
        link = f"/host/app-settings?{urlencode({'company_id': state.company_id, 'user_id': user_id})}"
        role = "admin" if user["is_admin"] else "regular user"
        open_link = f'<a href="{e(link)}">open app settings</a>' if user["active_flag"] else "deactivated"
        rows.append(f"<tr><td>{user_id}</td><td>{e(user['name'])}</td><td>{role}</td><td>{open_link}</td></tr>")
    configured = (f"App settings URL: <code>{e(state.app_settings_url)}</code>" if state.app_settings_url else
                  "No app settings URL yet (--app-settings-url or POST /_sandbox/app).")
    body = f"""<body><header class="topbar">Pipedrive <span>sandbox</span></header><main class="content">
<h1>{e(state.company_name)} (company {state.company_id}, {e(state.company_domain)})</h1><p>{configured}</p>
<table class="users"><thead><tr><th>User id</th><th>Name</th><th>Role</th><th></th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<p>Token variants for tests: add <code>&amp;token=expired</code>, <code>forged</code> or <code>other_company</code>.</p>
</main></body>"""
    return _page("Sandbox company", body)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/host", index)
    r.add_get("/host/", index)
    r.add_get("/host/app-settings", app_settings)
    r.add_get("/host/token", token)
    r.add_get("/settings/marketplace/app/{client_id}/app-settings", deep_link)
    r.add_static("/host/static", STATIC)
