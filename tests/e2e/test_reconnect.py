"""The user removes the app in Xero: the deal waits (one activity asking to reconnect), and reconnecting through the
signed connect link makes the draft, once."""

import re

import aiohttp

from pdx_devstack.peek import sandbox_post
from tests.e2e.helpers import activities, create_deal, eventually, invoices_for_deal, move, subjects


async def connect_again(stack) -> None:
    company = stack.seeded.company_id
    api = {"Authorization": f"Bearer {stack.api_token}"}
    async with aiohttp.ClientSession(headers=api) as session:
        async with session.post(f"{stack.urls['gateway']}/api/companies/{company}/xero/connect-link") as resp:
            link = (await resp.json())["url"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(link) as resp:
            page = await resp.text()
    assert resp.status == 200 and "Xero connected" in page, page
    assert re.search(r"\d+ waiting document", page)


async def test_a_revoked_xero_connection_parks_the_deal_and_a_reconnect_completes_it(stack):
    await sandbox_post(stack.urls["xero"], "/_sandbox/revoke-all", {})
    deal = await create_deal(stack, title="Won while Xero was disconnected")
    await move(stack, deal["id"], "Won")

    [waiting] = await eventually(lambda: activities(stack, deal["id"]))
    assert waiting["subject"] == "Xero draft invoice waiting: reconnect Xero"
    assert "nothing needs replaying" in waiting["note"]

    await connect_again(stack)
    found = await eventually(lambda: _created(stack, deal["id"]))
    assert subjects(found) == ["Xero draft invoice waiting: reconnect Xero", subjects(found)[1]]
    assert len(await invoices_for_deal(stack, deal["id"])) == 1


async def _created(stack, deal_id: int):
    found = await activities(stack, deal_id)
    return found if any(s.startswith("Draft invoice") for s in subjects(found)) else None
