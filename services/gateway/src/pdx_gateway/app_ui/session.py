"""Who is using the settings app: a session scoped to one Pipedrive company and user, made from the JWT Pipedrive
signs when it opens the app's iframe (or at install, for the admin who installed). Stored server-side (collection
``app_sessions``, only a hash of the cookie's value), so a stolen database holds no usable session.

Every page and action takes the company from the session, never from the request: one company's session cannot
name another company.
"""

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

COOKIE = "pdx_app"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class AppSession:
    id: str  # the stored hash, never the cookie's value
    company_id: str
    user_id: str
    user_name: str
    is_admin: bool
    csrf: str
    company_domain: str | None = None
    # The SDK identifier Pipedrive put in the iframe's query; None when the app is open as a plain page.
    embedded: str | None = None


class NoSession(Exception):
    """No valid session: the page says to open the app from Pipedrive."""


class ReadOnly(Exception):
    """A non-admin tried to change something."""


class CsrfRefused(Exception):
    """A form without this session's CSRF token, or from another origin."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MongoAppSessions:
    def __init__(self, db: AsyncDatabase, ttl_seconds: int) -> None:
        self._col, self._ttl = db.app_sessions, ttl_seconds

    async def ensure_indexes(self) -> None:
        await self._col.create_index("expires_at", expireAfterSeconds=0)
        await self._col.create_index("company_id")  # erasure

    async def create(self, *, company_id: str, user_id: str, user_name: str, is_admin: bool,
                     company_domain: str | None, embedded: str | None) -> tuple[str, AppSession]:
        """A new session; returns the cookie's value (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        session = AppSession(_hash(token), company_id, user_id, user_name, is_admin, secrets.token_urlsafe(24),
                             company_domain, embedded)
        doc = {**asdict(session), "_id": session.id, "expires_at": datetime.now(UTC) + timedelta(seconds=self._ttl)}
        doc.pop("id")
        await self._col.insert_one(doc)
        return token, session

    async def get(self, token: str) -> AppSession | None:
        if not token or len(token) > 100:
            return None
        doc = await self._col.find_one({"_id": _hash(token), "expires_at": {"$gt": datetime.now(UTC)}})
        if doc is None:
            return None
        fields = {k: doc.get(k) for k in AppSession.__dataclass_fields__ if k != "id"}
        return AppSession(id=doc["_id"], **fields)

    async def end(self, session: AppSession) -> None:
        await self._col.delete_one({"_id": session.id})

    async def end_company(self, company_id: str) -> None:
        """Uninstall or erasure: every session of the company ends."""
        await self._col.delete_many({"company_id": company_id})


SESSION_KEY = web.RequestKey("pdx_app_session", AppSession)


def app_session(request: web.Request) -> AppSession:
    """The request's session (put there by the session middleware); every app route has one."""
    session = request.get(SESSION_KEY)
    if session is None:
        raise NoSession()
    return session


def require_admin(request: web.Request) -> AppSession:
    session = app_session(request)
    if not session.is_admin:
        raise ReadOnly()
    return session


def check_csrf(session: AppSession, form_value: str | None) -> None:
    if not form_value or not hmac.compare_digest(form_value.encode(), session.csrf.encode()):
        raise CsrfRefused()


async def posted_form(request: web.Request, *, admin: bool = True):
    """The posted form of an app action, after the CSRF check (and, by default, the admin check).

    Every POST in the app goes through here: ``form = await posted_form(request)``.
    """
    session = require_admin(request) if admin else app_session(request)
    form = await request.post()
    value = form.get(CSRF_FIELD)
    check_csrf(session, value if isinstance(value, str) else None)
    return form
