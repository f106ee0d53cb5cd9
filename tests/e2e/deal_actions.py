"""What a salesperson does from a deal, as the browser and Pipedrive do it: open an activity's Replay link (a GET that
shows a confirmation, then the form's POST), or press one of the panel's JSON modal actions (Pipedrive GETs the
modal's data, then POSTs the form, with its signed JWT)."""

import html
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from pdx_devstack.seed import PD_CLIENT
from pdx_devstack.stack import Stack
from pdx_sandbox.pipedrive import jwt
from pdx_sandbox.pipedrive.seed import REGULAR_USER_ID

_HREF = re.compile(r'href="([^"]*/deal/(?:replay|create-invoice|create-quote)\?[^"]*)"')
_FORM = re.compile(r'<form[^>]*method="post"[^>]*>(.*?)</form>', re.IGNORECASE | re.DOTALL)
_ACTION = re.compile(r'<form[^>]*action="([^"]*)"', re.IGNORECASE)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>', re.IGNORECASE)
_ATTR = re.compile(r'(name|value)="([^"]*)"')


def action_link(note: str) -> str:
    """The signed deal link in an activity's note (HTML, as Pipedrive shows it)."""
    found = _HREF.search(note)
    assert found, f"no Replay link in the note: {note}"
    return html.unescape(found.group(1))


async def open_link(url: str) -> str:
    """A person opens the link: the confirmation page."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.text()


async def confirm(url: str) -> tuple[int, str]:
    """A person opens the link and presses the page's button: the page the POST leads to (after its redirect)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert resp.status == 200, await resp.text()
            page = await resp.text()
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
