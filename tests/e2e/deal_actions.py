"""What a salesperson does from a deal, as the browser and Pipedrive do it: open an activity's Replay link (a GET that
shows a confirmation, then the form's POST), or press one of the panel's JSON modal actions (Pipedrive GETs the
modal's data, then POSTs the form, with its signed JWT).

A link acts only for a browser signed in with Pipedrive as a user of the deal's company: the helpers play a browser
logged in to the Pipedrive sandbox (its login cookie, which the sandbox sets when a deal is opened there as a user;
cookies do not tell ports apart, so it is the same browser on the gateway's host) that follows Continue with
Pipedrive through the sandbox's OAuth and the gateway's callback back to the link."""

import html
import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
from yarl import URL

from pdx_devstack.seed import PD_CLIENT
from pdx_devstack.stack import Stack
from pdx_sandbox.pipedrive import jwt
from pdx_sandbox.pipedrive.host import LOGIN_COOKIE
from pdx_sandbox.pipedrive.seed import REGULAR_USER_ID

_HREF = re.compile(r'href="([^"]*/deal/(?:replay|create-invoice|create-quote)\?[^"]*)"')
_FORM = re.compile(r'<form[^>]*method="post"[^>]*>(.*?)</form>', re.IGNORECASE | re.DOTALL)
_ACTION = re.compile(r'<form[^>]*action="([^"]*)"', re.IGNORECASE)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>', re.IGNORECASE)
_ATTR = re.compile(r'(name|value)="([^"]*)"')
_CONTINUE = re.compile(r'<a[^>]*href="([^"]*/sign-in\?[^"]*)"[^>]*>Continue with Pipedrive</a>')


def action_link(note: str) -> str:
    """The signed deal link in an activity's note (HTML, as Pipedrive shows it)."""
    found = _HREF.search(note)
    assert found, f"no Replay link in the note: {note}"
    return html.unescape(found.group(1))


def browser(url: str, user_id: int = REGULAR_USER_ID) -> aiohttp.ClientSession:
    """A browser logged in to the link's company in the Pipedrive sandbox as ``user_id``."""
    company_id = parse_qs(urlsplit(url).query)["company_id"][0]
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of an IP host (127.0.0.1), as a browser keeps them
    jar.update_cookies({LOGIN_COOKIE.format(company_id=company_id): str(user_id)}, URL(url))
    return aiohttp.ClientSession(cookie_jar=jar)


async def signed_in_page(session: aiohttp.ClientSession, url: str) -> str:
    """Open the link; on its "Continue with Pipedrive", sign in and come back: the confirmation page."""
    async with session.get(url) as resp:
        assert resp.status == 200, await resp.text()
        page = await resp.text()
    found = _CONTINUE.search(page)
    if found is None:
        return page
    async with session.get(urljoin(url, html.unescape(found.group(1)))) as resp:
        assert resp.status == 200 and str(resp.url) == url, (resp.status, str(resp.url), await resp.text())
        page = await resp.text()
    assert _CONTINUE.search(page) is None, page
    return page


async def open_link(url: str) -> str:
    """A person opens the link (signing in with Pipedrive): the confirmation page."""
    async with browser(url) as session:
        return await signed_in_page(session, url)


async def confirm(url: str) -> tuple[int, str]:
    """A person opens the link, signs in and presses the page's button: the page the POST leads to (after its
    redirect)."""
    async with browser(url) as session:
        page = await signed_in_page(session, url)
        form_html = _FORM.search(page)
        assert form_html, f"no form on the confirmation page: {page}"
        action = _ACTION.search(page, page.rfind("<form", 0, form_html.end()))
        target = urljoin(url, html.unescape(action.group(1))) if action and action.group(1) else url
        fields = {}
        for tag in _HIDDEN.findall(form_html.group(0)):
            attrs = dict(_ATTR.findall(tag))
            fields[attrs.get("name", "")] = html.unescape(attrs.get("value", ""))
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        async with session.post(target, data=fields, headers={"Origin": origin}) as resp:
            return resp.status, await resp.text()


def modal_query(stack: Stack, deal_id: int, user_id: int = REGULAR_USER_ID,
                issued_at: float | None = None) -> dict[str, str]:
    assert stack.seeded
    company = int(stack.seeded.company_id)
    return {"resource": "deal", "view": "details", "userId": str(user_id), "companyId": str(company),
            "selectedIds": str(deal_id), "token": jwt.app_token(user_id, company, PD_CLIENT[1], now=issued_at)}


async def modal(stack: Stack, action: str, deal_id: int, *, submit: bool,
                issued_at: float | None = None) -> tuple[int, dict[str, Any]]:
    """Pipedrive opening (GET) or submitting (POST) the deal's JSON modal ``action``. Pipedrive signs a token per
    opening: the same token (same second) is the same request, retried; ``issued_at`` makes another opening."""
    url = f"{stack.urls['gateway']}/deal/modal/{action}"
    query = modal_query(stack, deal_id, issued_at=issued_at)
    async with aiohttp.ClientSession() as session:
        if submit:
            request = session.post(url, params=query, json={})
        else:
            request = session.get(url, params=query)
        async with request as resp:
            return resp.status, await resp.json()
