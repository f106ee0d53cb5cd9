"""Xero status flowing back: paying a draft in Xero tells the deal (Xero's signed webhook), and the panel shows it."""

import time

import aiohttp
import jwt

from pdx_devstack.peek import sandbox_post
from tests.e2e.helpers import activities, create_deal, eventually, invoices_for_deal, move, subjects


async def panel(stack, deal_id: int) -> dict:
    company = stack.seeded.company_id
    token = jwt.encode({"companyId": int(company), "userId": 12001, "exp": int(time.time()) + 300},
                       stack.panel_secret, algorithm="HS256")
    params = {"resource": "deal", "view": "details", "userId": "12001", "companyId": company,
              "selectedIds": str(deal_id), "isShared": "false", "token": token}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.urls['crm-card']}/panel", params=params) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


async def test_a_payment_in_xero_reaches_the_deal_and_its_panel(stack):
    deal = await create_deal(stack, title="Paid in Xero")
    await move(stack, deal["id"], "Won")
    [invoice] = await eventually(lambda: invoices_for_deal(stack, deal["id"]))
    tenant = stack.seeded.tenant_id
    await sandbox_post(stack.urls["xero"], f"/_sandbox/invoices/{invoice['InvoiceID']}/approve", {"tenant_id": tenant})
    await sandbox_post(stack.urls["xero"], f"/_sandbox/invoices/{invoice['InvoiceID']}/pay", {"tenant_id": tenant})

    found = await eventually(lambda: _paid(stack, deal["id"]))
    assert sum("paid" in s.lower() for s in subjects(found)) == 1
    body = await eventually(lambda: _panel_shows_paid(stack, deal["id"], invoice["InvoiceNumber"]))
    assert len(body["data"]) <= 10
    async with aiohttp.ClientSession() as session:  # what it cost and what came in, as operators see it
        async with session.get(f"{stack.urls['crm-card']}/metrics",
                               headers={"Authorization": f"Bearer {stack.api_token}"}) as resp:
            metrics = await resp.text()
    assert 'pdx_panel_latency_seconds_count{resource="deal"}' in metrics
    assert 'pdx_webhooks_total{outcome="accepted",source="xero"}' in metrics


async def _paid(stack, deal_id: int):
    found = await activities(stack, deal_id)
    return found if any("paid" in s.lower() for s in subjects(found)) else None


async def _panel_shows_paid(stack, deal_id: int, number: str):
    body = await panel(stack, deal_id)
    text = str(body)
    return body if number in text and "PAID" in text.upper() else None
