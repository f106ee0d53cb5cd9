"""Who opened a deal's link: a Pipedrive user of the link's company, proven by signing in with Pipedrive.

A signed link (pages.py) names a company and a deal; it does not say who holds it, and links get forwarded. So a
deal page shows its action and acts only for a browser signed in as a user of that company:

1. Without that, the page offers **Continue with Pipedrive**: ``GET /deal/{action}/sign-in?<the link's query>``
   makes an OAuth state of kind ``deal-login`` (the link's company and its address to come back to), binds it to this
   browser (cookie ``pdx_oauth_deal``) and redirects to Pipedrive's authorize page with the app's own client id.
2. Pipedrive allows one callback URL per app, so ``/oauth/pipedrive/callback`` serves both the install and this:
   a state bound by ``pdx_oauth_deal`` is a sign-in (``finish``), anything else is an install, as before.
3. ``finish`` exchanges the code, asks ``GET /api/v1/users/me`` with the user's token who the user is, and forgets
   the tokens (never stored: the app acts with the installing admin's tokens). A user of the link's company gets a
   sign-in (cookie ``pdx_deal``, 8 hours, HttpOnly, SameSite=Lax, Secure over HTTPS; only its hash is stored in
   collection ``deal_logins``) and goes back to the link; a user of another company gets a 403 page.

    login = await signed_in(request)       # DealLogin(company_id="7001", user_id="12002") or None
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.http import ApiError
from pdx_gateway.adapters.oauth_states import DEAL_LOGIN
from pdx_gateway.connector import Connector
from pdx_gateway.deal_actions.render import standalone
from pdx_gateway.keys import DB, SETTINGS
from pdx_gateway.settings import GatewaySettings

log = structlog.get_logger()
COOKIE = "pdx_deal"
BINDING = "pdx_oauth_deal"  # the sign-in's state, for the callback's path only
LIFETIME = timedelta(hours=8)  # a working day: a salesperson signs in once, not on every link


@dataclass(frozen=True)
class DealLogin:
    company_id: str
    user_id: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MongoDealLogins:
    """Sign-ins of the deal pages (collection ``deal_logins``): the cookie's hash, company and user, expiry."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.deal_logins

    async def ensure_indexes(self) -> None:
        await self._col.create_index("expires_at", expireAfterSeconds=0)
        await self._col.create_index("company_id")  # uninstall and erasure

    async def create(self, company_id: str, user_id: str) -> str:
        """A new sign-in; returns the cookie's value (never stored). Sign-ins are rare (one per person per working
        day), so each makes sure of the indexes itself."""
        await self.ensure_indexes()
        token = secrets.token_urlsafe(32)
        await self._col.insert_one({"_id": _hash(token), "company_id": company_id, "user_id": user_id,
                                    "expires_at": datetime.now(UTC) + LIFETIME})
        return token

    async def get(self, token: str) -> DealLogin | None:
        if not token or len(token) > 100:
            return None
        doc = await self._col.find_one({"_id": _hash(token), "expires_at": {"$gt": datetime.now(UTC)}})
        return DealLogin(doc["company_id"], doc["user_id"]) if doc else None

    async def end_company(self, company_id: str) -> None:
        await self._col.delete_many({"company_id": company_id})

    async def end_user(self, company_id: str, user_id: str) -> None:
        ids = [user_id, int(user_id)] if user_id.isdigit() else [user_id]
        await self._col.delete_many({"company_id": company_id, "user_id": {"$in": ids}})


async def signed_in(request: web.Request, company_id: str) -> DealLogin | None:
    """This browser's sign-in, if it is for ``company_id`` (a sign-in for another company counts for nothing)."""
    login = await MongoDealLogins(request.config_dict[DB]).get(request.cookies.get(COOKIE, ""))
    return login if login is not None and login.company_id == company_id else None


def _secure(settings: GatewaySettings) -> bool:
    return (settings.public_url or "").startswith("https:")


async def start(request: web.Request, c: Connector, company_id: str, back_to: str) -> web.Response:
    """To Pipedrive's authorize page; the state remembers the company and where to come back to (the link)."""
    state = await c.states.create(DEAL_LOGIN, company_id=company_id, back_to=back_to)
    response = web.Response(status=302, headers={"Location": c.pipedrive.authorize_url(state)})
    response.set_cookie(BINDING, state, max_age=c.settings.oauth_state_ttl_seconds, path="/oauth/pipedrive/",
                        httponly=True, samesite="Lax", secure=_secure(c.settings))
    return response


def is_sign_in(request: web.Request) -> bool:
    """The callback's state is a deal sign-in begun in this browser (else the callback is an install)."""
    state = request.query.get("state", "")
    return bool(state) and hmac.compare_digest(request.cookies.get(BINDING, "").encode(), state.encode())


async def finish(request: web.Request, c: Connector) -> web.Response:
    """The callback of a sign-in: who the user is, then back to the link (or a page saying why not)."""
    found = await c.states.consume(DEAL_LOGIN, request.query.get("state", ""))
    if found is None:
        return _refused(400, "This sign-in has expired",
                        "The sign-in with Pipedrive took too long, or was already used.", None)
    back_to = _local(found.get("back_to"))
    company_id = str(found.get("company_id") or "")
    code = request.query.get("code")
    if not code:
        return _refused(403, "You did not sign in with Pipedrive",
                        "Pipedrive did not confirm who you are, so the deal's action cannot be shown.", back_to,
                        "Open the link again, choose Continue with Pipedrive and allow the app.")
    try:
        me = await c.pipedrive.me(await c.pipedrive.exchange(code))  # the tokens go no further than this line
    except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("deal sign-in failed at pipedrive", error=type(exc).__name__)
        return _refused(503, "Pipedrive could not confirm who you are",
                        "Pipedrive did not answer the sign-in just now.", back_to, "Try again in a minute.")
    user_id, their_company = str(me.get("id") or ""), str(me.get("company_id") or "")
    if their_company != company_id or not user_id:
        log.info("deal sign-in of another company refused", company_id=company_id, their_company=their_company)
        return _refused(403, "This link belongs to another Pipedrive company",
                        "You are signed in to Pipedrive as a user of another company, so this deal's actions are "
                        "not yours to take.", None,
                        "Open the link in a browser where you are logged in to the deal's Pipedrive company, or "
                        "send it to a colleague of that company.")
    if not _active(me):
        return _refused(403, "Your Pipedrive user is deactivated",
                        "Only active users of the company can use a deal's actions.", None,
                        "Ask a Pipedrive admin of your company to activate your user.")
    token = await MongoDealLogins(request.app[DB]).create(company_id, user_id)
    log.info("deal sign-in", company_id=company_id, user_id=user_id)
    response = web.Response(status=303, headers={"Location": back_to or "/deal/", "Cache-Control": "no-store"})
    response.set_cookie(COOKIE, token, max_age=int(LIFETIME.total_seconds()), path="/deal/", httponly=True,
                        samesite="Lax", secure=_secure(request.app[SETTINGS]))
    response.del_cookie(BINDING, path="/oauth/pipedrive/")
    return response


def _active(me: dict[str, Any]) -> bool:
    flag = me.get("active_flag", True)
    return flag is not False and flag != 0


def _local(back_to: Any) -> str | None:
    """Only a deal page of ours (the state stored it; checked again all the same)."""
    if isinstance(back_to, str) and back_to.startswith("/deal/") and "//" not in back_to and "\\" not in back_to:
        return back_to
    return None


def _refused(status: int, heading: str, message: str, back_to: str | None, fix: str | None = None) -> web.Response:
    response = standalone("deal_error.html", {
        "heading": heading, "message": message,
        "fix": fix or "Open the link again from the deal in Pipedrive.", "back_to": back_to}, status=status)
    response.del_cookie(BINDING, path="/oauth/pipedrive/")
    return response
