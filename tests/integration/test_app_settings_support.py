"""Support for the settings sections' tests (no tests here): a browser for the app's sections in-process, the
gateway on the real store, a session made directly in the store (the entry's JWT handshake has its own tests), its
cookie, and the page's own CSRF token and version."""

import re
from dataclasses import dataclass
from html import unescape

import aiohttp
from aiohttp.test_utils import TestServer
from yarl import URL

from pdx_gateway.app_ui.session import COOKIE, MongoAppSessions


@dataclass
class AppBrowser:
    base: str  # the gateway's address, e.g. http://127.0.0.1:8080
    db: object
    company_id: str
    user_id: str
    user_name: str
    http: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url(path), allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def post(self, path: str, fields: list[tuple[str, str]] | dict[str, str]) -> tuple[int, str, str | None]:
        async with self.http.post(self.url(path), data=fields, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers.get("Location")

    async def form(self, path: str) -> list[tuple[str, str]]:
        """The section's form as the browser would post it unchanged: its inputs, selected options and textareas
        (checkbox macros post "false", and "true" when ticked). Disabled inputs are left out, as browsers do."""
        status, page = await self.get(path)
        assert status == 200, page
        return form_fields(page)

    async def settings(self) -> dict:
        return await self.db.company_settings.find_one({"_id": self.company_id}, {"_id": 0, "updated_at": 0}) or {}


async def open_browser(server: TestServer | str, db, company_id: str, *, admin: bool = True,
                       user_id: str = "12001", user_name: str = "Ann Admin") -> AppBrowser:
    """A session made in the store for this company and user, its cookie in a browser of its own."""
    base = server if isinstance(server, str) else str(server.make_url("")).rstrip("/")
    sessions = MongoAppSessions(db, ttl_seconds=600)
    token, _ = await sessions.create(company_id=company_id, user_id=user_id, user_name=user_name, is_admin=admin,
                                     company_domain="demo", embedded=None)
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({COOKIE: token}, URL(f"{base}/app/"))
    return AppBrowser(base, db, company_id, user_id, user_name, aiohttp.ClientSession(cookie_jar=jar))


def _attr(attrs: str, name: str) -> str | None:
    match = re.search(rf'\b{name}="([^"]*)"', attrs)
    return unescape(match[1]) if match else None


def form_fields(page: str) -> list[tuple[str, str]]:
    form = page.split("<form", 1)[1].split("</form>", 1)[0]
    fields: list[tuple[str, str]] = []
    for match in re.finditer(r"<input\b([^>]*)>|<select\b([^>]*)>(.*?)</select>|<textarea\b([^>]*)>(.*?)</textarea>",
                             form, re.DOTALL):
        attrs = match[1] or match[2] or match[4]
        name = _attr(attrs, "name")
        if name is None or re.search(r"\bdisabled\b", attrs):
            continue
        if match[1] is not None:
            kind = _attr(attrs, "type") or "text"
            if kind == "submit" or (kind == "checkbox" and not re.search(r"\bchecked\b", attrs)):
                continue
            fields.append((name, _attr(attrs, "value") or ""))
        elif match[2] is not None:
            selected = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', match[3])
            first = re.search(r'<option value="([^"]*)"', match[3])
            fields.append((name, unescape((selected or first)[1]) if (selected or first) else ""))
        else:
            fields.append((name, unescape(match[5])))
    return fields


def with_values(fields: list[tuple[str, str]], **changes: str) -> list[tuple[str, str]]:
    """The form with some inputs set; names use "__" for "." (``fields__due_days="30"``). A checkbox's name keeps
    its hidden "false" and gets "true" appended when set to "true"."""
    wanted = {name.replace("__", "."): value for name, value in changes.items()}
    out, done = [], set()
    for name, value in fields:
        if name in wanted and name not in done:
            out.append((name, wanted[name]))
            done.add(name)
        elif name not in wanted:
            out.append((name, value))
    return out + [(name, value) for name, value in wanted.items() if name not in done]


def field_error(page: str, name: str) -> str | None:
    """The error shown beside the input ``name``."""
    match = re.search(rf'id="f-{re.escape(name.replace(".", "-"))}-error">(.*?)</p>', page, re.DOTALL)
    return re.sub(r"<[^>]+>|⚠", "", unescape(match[1])).strip() if match else None
