"""Installing the Pipedrive app (OAuth) and Pipedrive's uninstall call.

``GET    /oauth/pipedrive/install``              -> 302 to Pipedrive's authorize page
``GET    /oauth/pipedrive/callback?code&state``  -> tokens stored, webhook registered, an HTML page; or, for a
                                                 salesperson signing in to a deal's link (Pipedrive allows one
                                                 callback URL per app), back to the link
                                                 (pdx_gateway.deal_actions.identity)
``DELETE /oauth/pipedrive/callback``             Pipedrive's uninstall, HTTP Basic client_id:client_secret::

    {"client_id": "b4e1...", "company_id": 7001, "user_id": 12001, "timestamp": "2026-11-27T10:00:00Z"}

  answered ``{"status": "uninstalled", "company_id": "7001", "erase_after": "2026-12-27T10:00:00+00:00"}``: the
  company's personal data goes after the grace period (pdx_gateway.erase).
"""

import hmac

import structlog
from aiohttp import web

from pdx_common.json_body import parse_json
from pdx_gateway.app_ui.entry import HOME, session_for_installer, set_session_cookie
from pdx_gateway.deal_actions import identity
from pdx_gateway.entrypoints import pages
from pdx_gateway.entrypoints.basic_auth import basic_credentials
from pdx_gateway.entrypoints.linking import connector_for, redirect_bound, same_browser, unbind
from pdx_gateway.erase import ERASURES
from pdx_gateway.errors import BadRequest, Unauthorized
from pdx_gateway.installs import install_pipedrive, uninstall_pipedrive
from pdx_gateway.keys import APP_SESSIONS, DB

log = structlog.get_logger()
routes = web.RouteTableDef()


@routes.get("/oauth/pipedrive/install")
async def install(request: web.Request) -> web.Response:
    c = connector_for(request, "pipedrive")
    state = await c.states.create("pipedrive")
    return redirect_bound(c, "pipedrive", c.pipedrive.authorize_url(state), state)


@routes.get("/oauth/pipedrive/callback")
async def callback(request: web.Request) -> web.Response:
    c = connector_for(request, "pipedrive")
    if identity.is_sign_in(request):  # this browser began a deal sign-in with this very state
        return await identity.finish(request, c)
    # The state is spent here, before anything else: a replayed or forged callback changes nothing.
    state = request.query.get("state", "")
    if not same_browser(request, "pipedrive", state) or await c.states.consume("pipedrive", state) is None:
        raise BadRequest("this install attempt is unknown, expired, already used or from another browser; "
                         "start the install again")
    code = request.query.get("code")
    if not code:
        raise BadRequest(f"Pipedrive did not authorise the app ({request.query.get('error', 'no code')})")
    installed = await install_pipedrive(c, code, request.app[ERASURES])
    opened = await session_for_installer(request.app[APP_SESSIONS], c, installed.company_id,
                                         installed.company_domain)
    in_pipedrive = (f"https://{installed.company_domain}.pipedrive.com/settings/marketplace/app/"
                    f"{c.settings.pipedrive_client_id}/app-settings") if installed.company_domain else None
    response = pages.installed(installed.company_id, installed.company_domain,
                               c.public(HOME) if opened else None, in_pipedrive)
    if opened:
        set_session_cookie(response, c.settings, opened[0])
    return unbind(response, "pipedrive")


@routes.delete("/oauth/pipedrive/callback")
async def uninstall(request: web.Request) -> web.Response:
    c = connector_for(request, "pipedrive")
    user, password = basic_credentials(request)
    settings = c.settings
    secret = settings.pipedrive_client_secret.get_secret_value() if settings.pipedrive_client_secret else ""
    # Both compared, in constant time, before the body is read.
    user_ok = hmac.compare_digest(user.encode(), (settings.pipedrive_client_id or "").encode())
    password_ok = hmac.compare_digest(password.encode(), secret.encode())
    if not (user_ok and password_ok):
        raise Unauthorized("wrong client credentials")
    raw = await request.read()
    company_id, user_id = _company_id(raw), _user_id(raw)
    installed = await c.store.get("pipedrive", company_id)
    installer = (installed or {}).get("installer_user_id")
    if user_id is not None and installer is not None and user_id != installer:
        # Another user of the company removed the app for themselves (they had signed in to a deal's link): the
        # company's installation, made with the installer's tokens, stays; only that user's sign-ins end.
        await identity.MongoDealLogins(request.app[DB]).end_user(company_id, user_id)
        log.info("pipedrive user uninstalled; the company's installation stays", user_id=user_id)
        return web.json_response({"status": "user_uninstalled", "company_id": company_id, "user_id": user_id})
    erase_after = await uninstall_pipedrive(c, company_id, request.app[ERASURES])
    await request.app[APP_SESSIONS].end_company(company_id)  # nobody of the company stays in its settings
    await identity.MongoDealLogins(request.app[DB]).end_company(company_id)  # nor signed in to its deals' links
    return web.json_response({"status": "uninstalled", "company_id": company_id,
                              "erase_after": erase_after.isoformat()})


def _user_id(raw: bytes) -> str | None:
    body = parse_json(raw)
    user_id = body.get("user_id") if isinstance(body, dict) else None
    return None if isinstance(user_id, bool) or not isinstance(user_id, int | str) or not str(user_id).strip() \
        else str(user_id).strip()


def _company_id(raw: bytes) -> str:
    body = parse_json(raw)  # nesting and number limits (pdx_common.json_body): a 400 from the error table
    company_id = body.get("company_id") if isinstance(body, dict) else None
    if isinstance(company_id, bool) or not isinstance(company_id, int | str) or not str(company_id).strip():
        raise BadRequest("the body must name the company_id")
    return str(company_id).strip()
