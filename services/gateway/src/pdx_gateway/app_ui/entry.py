"""The app's entry: the URL registered in Pipedrive's Developer Hub as the "Custom UI for app settings" iframe.

``GET /app/pipedrive/settings?id=<sdk id>&userId=12001&companyId=7001&token=<JWT>&resource=settings&view=settings``

The JWT is verified (HS256 only, expiry required, signed with the app's secret, for the company the query names);
the company must have the app installed; Pipedrive is asked who the user is and whether they are an admin. Then a
session scoped to that company and user is made, and the browser goes on to the settings (303, so the token leaves
the address bar and the history).
"""

import re

import structlog
from aiohttp import web

from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.pipedrive_jwt import PipedriveJwtError, verify
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import COOKIE, AppSession, MongoAppSessions
from pdx_gateway.connector import Connector
from pdx_gateway.keys import APP_SESSIONS, CONNECTIONS, CONNECTOR, SETTINGS
from pdx_gateway.settings import GatewaySettings

log = structlog.get_logger()
routes = web.RouteTableDef()
SDK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
HOME = "/app/connections"


class EntryRefused(Exception):
    def __init__(self, status: int, title: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.fix = status, title, message, fix


@routes.get("/pipedrive/settings")
async def enter(request: web.Request) -> web.Response:
    try:
        token, session = await _open_session(request)
    except EntryRefused as refused:
        log.info("settings app entry refused", reason=refused.message)
        return render(request, "error.html", {"title": refused.title, "message": refused.message,
                                              "fix": refused.fix}, status=refused.status)
    response = web.Response(status=303, headers={"Location": HOME})
    set_session_cookie(response, request.config_dict[SETTINGS], token)
    log.info("settings app opened", company_id=session.company_id, user_id=session.user_id, admin=session.is_admin)
    return response


async def _open_session(request: web.Request) -> tuple[str, AppSession]:
    app, query = request.config_dict, request.query
    try:
        caller = verify(query.get("token"), app[SETTINGS].app_secret(), query.get("companyId"))
    except PipedriveJwtError as exc:
        raise EntryRefused(401, "We could not confirm who you are",
                           f"Pipedrive's sign-in for this page was refused: {exc}. No settings are shown.",
                           "Open the app again from Pipedrive (Settings > Apps > Xero drafts). If you followed a "
                           "link or bookmark, it has expired.") from None
    if caller.user_id is None or (query.get("userId") and query.get("userId") != caller.user_id):
        raise EntryRefused(401, "We could not confirm who you are", "Pipedrive's sign-in names no user, or "
                           "another user than the page.", "Open the app again from Pipedrive.")
    pipedrive = await app[CONNECTIONS].get("pipedrive", caller.company_id)
    if pipedrive is None:
        raise EntryRefused(403, "The app is not installed for your company",
                           "Your Pipedrive company has not installed Xero drafts, or uninstalled it.",
                           "Ask a Pipedrive admin to install the app from the Pipedrive Marketplace.")
    name, is_admin = await _who(app.get(CONNECTOR), caller.company_id, caller.user_id)
    embedded = query.get("id") if SDK_ID.fullmatch(query.get("id") or "") else None
    return await app[APP_SESSIONS].create(company_id=caller.company_id, user_id=caller.user_id, user_name=name,
                                          is_admin=is_admin, company_domain=pipedrive.get("company_domain"),
                                          embedded=embedded)


async def _who(connector: Connector | None, company_id: str, user_id: str) -> tuple[str, bool]:
    """The user's name, and whether Pipedrive says they are an admin of the company (never assumed)."""
    if connector is None:
        raise EntryRefused(503, "Not available right now", "The app cannot reach Pipedrive from here.",
                           "Ask whoever runs the app to finish its Pipedrive settings.")
    try:
        user = await connector.pipedrive_api(company_id).request("GET", f"/api/v1/users/{int(user_id)}")
    except (ApiError, ConnectionMissing, ValueError) as exc:
        log.warning("pipedrive user look-up failed", company_id=company_id, error=str(exc)[:200])
        raise EntryRefused(503, "We could not check your Pipedrive user",
                           "Pipedrive did not tell us who you are, so no settings are shown.",
                           "Try again in a minute. If Pipedrive says the app is disconnected, reinstall it.") from None
    if not isinstance(user, dict) or str(user.get("id")) != user_id or not user.get("active_flag", True):
        raise EntryRefused(403, "Your Pipedrive user is not active", "Pipedrive does not list you as an active "
                           "user of this company.", "Ask a Pipedrive admin of your company.")
    return str(user.get("name") or f"User {user_id}"), is_admin(user)


def is_admin(user: dict) -> bool:
    """Pipedrive's v1 user lists its permission sets in ``access``; an admin of the global app is a company admin.
    Older answers only carry ``is_admin`` (1/0)."""
    access = user.get("access")
    if isinstance(access, list) and access:
        return any(isinstance(a, dict) and a.get("app") == "global" and a.get("admin") is True for a in access)
    return user.get("is_admin") in (1, True)


def set_session_cookie(response: web.StreamResponse, settings: GatewaySettings, token: str) -> None:
    """Inside Pipedrive the app is a third-party iframe: over HTTPS its cookie is SameSite=None, Secure and
    Partitioned (CHIPS), so browsers that block third-party cookies still keep it, in Pipedrive's partition only.
    Over plain HTTP (the local run) it is a first-party Lax cookie."""
    https = (settings.public_url or "").startswith("https:")
    response.set_cookie(COOKIE, token, max_age=settings.app_session_ttl_seconds, path="/", httponly=True,
                        secure=https, samesite="None" if https else "Lax", partitioned=https or None)


async def session_for_installer(sessions: MongoAppSessions, connector: Connector, company_id: str,
                                company_domain: str | None) -> tuple[str, AppSession] | None:
    """At install the admin who installed has just proved who they are to Pipedrive: they get a session, so the
    install page can lead straight to the settings. None when Pipedrive does not say who they are."""
    try:
        me = await connector.pipedrive_api(company_id).request("GET", "/api/v1/users/me")
    except (ApiError, ConnectionMissing) as exc:
        log.warning("installer look-up failed", company_id=company_id, error=str(exc)[:200])
        return None
    if not isinstance(me, dict) or me.get("id") is None:
        return None
    return await sessions.create(company_id=company_id, user_id=str(me["id"]),
                                 user_name=str(me.get("name") or "you"), is_admin=is_admin(me),
                                 company_domain=company_domain, embedded=None)
