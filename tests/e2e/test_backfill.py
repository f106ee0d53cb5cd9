"""A backfill on the whole stack: 200 deals sitting in the "Won" trigger stage, 40 of them drafted live before; the
backfill (through the operators' CLI) makes the other 160 and no second draft of any, while a live deal of ANOTHER
company, moved into its trigger stage during the run, still gets its draft within one Xero minute."""

import secrets
import time
from pathlib import Path

import aiohttp
from pymongo import AsyncMongoClient

from pdx_common.connections import ConnectionStore
from pdx_common.crypto import TokenCipher
from pdx_devstack.peek import sandbox_get, sandbox_post
from pdx_devstack.processes import spawn, stop_children, wait_for_line
from pdx_devstack.seed import connect_pipedrive, connect_xero
from pdx_devstack.stack import Stack
from pdx_gateway.adapters.mongo import MongoWebhookCredentials
from tests.e2e.helpers import admin, create_deal, eventually, invoices, move

OTHER_COMPANY = 7002
XERO_MINUTE = 60.0  # seconds of the Xero sandbox's clock; the stack runs it at xero_clock_speed


async def _webhook(stack: Stack, http: aiohttp.ClientSession, pd_url: str, token: str, company_id: str,
                   db) -> int:
    """The webhooks (deal, person, organisation, product), registered as an install registers them: fresh Basic
    credentials stored first. The deal webhook's id."""
    user, password = f"pd-{company_id}", secrets.token_urlsafe(24)
    credentials = MongoWebhookCredentials(db)
    await credentials.set(company_id, user, password)
    for entity in ("deal", "person", "organization", "product"):
        body = {"subscription_url": f"{stack.urls['gateway']}/webhooks/pipedrive/{company_id}", "event_action": "*",
                "event_object": entity, "name": f"Xero sync ({entity})", "version": "2.0", "http_auth_user": user,
                "http_auth_password": password}
        async with http.post(f"{pd_url}/api/v1/webhooks", json=body,
                             headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status in (200, 201), await resp.text()
            hook = (await resp.json())["data"]
        await credentials.remember_webhook(company_id, hook["id"], entity)
    return (await credentials.webhook_ids(company_id))["deal"]


async def test_backfill_of_200_deals_keeps_another_companys_live_deal_on_time(stack: Stack, tmp_path: Path) -> None:
    assert stack.seeded and stack.infra
    company = stack.seeded.company_id
    speed = stack.options.xero_clock_speed
    client = AsyncMongoClient(stack.infra.mongo_url, tz_aware=True)
    db = client[stack.options.mongo_db]
    store = ConnectionStore(db, TokenCipher(stack.token_key))
    other = spawn("pipedrive-sandbox-7002", ["-m", "pdx_sandbox.pipedrive", "serve", "--port", "0",
                                             "--company-id", str(OTHER_COMPANY), "--company-domain", "other",
                                             "--retry-delays", "0.5,1,2"], tmp_path)
    try:
        other_url = wait_for_line(other, r"listening on (http://\S+)").group(1)
        async with aiohttp.ClientSession() as http:
            # The other company: its own Pipedrive and Xero organisation, its webhook, "Won" -> invoice.
            connected = await connect_pipedrive(http, store, other_url)
            other_id = connected["company_id"]
            tenant = (await sandbox_post(stack.urls["xero"], "/_sandbox/tenants",
                                         {"name": "Other Co", "base_currency": "NZD", "country_code": "NZ"}))
            await connect_xero(http, store, stack.urls["xero"], other_id, tenant["tenantId"])
            await _webhook(stack, http, other_url, connected["access_token"], other_id, db)
            patched = await admin(stack, "settings", "patch",
                                  '{"triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}]}',
                                  "--company", other_id)
            assert patched[0] == 0, patched

            # 40 deals drafted live, as any deal moved into "Won".
            drafted = [(await create_deal(stack, title=f"Backfill early {i}"))["id"] for i in range(40)]
            for deal_id in drafted:
                await move(stack, deal_id, "Won")
            await eventually(lambda: _drafted(stack, drafted), timeout=600)

            # 160 deals that were in "Won" before the app was there: no webhook while they are created.
            hooks = await sandbox_get(stack.urls["pipedrive"], "/_sandbox/webhooks")
            token = await _access_token(store, company)
            for hook in hooks:
                async with http.delete(f"{stack.urls['pipedrive']}/api/v1/webhooks/{hook['id']}",
                                       headers={"Authorization": f"Bearer {token}"}) as resp:
                    assert resp.status == 200, await resp.text()
            sitting = [(await create_deal(stack, title=f"Backfill sitting {i}", stage="Won"))["id"]
                       for i in range(160)]
            await _webhook(stack, http, stack.urls["pipedrive"], token, company, db)
            assert not await _drafted(stack, sitting[:1])

            code, checked = await admin(stack, "backfill", "--company", company, "--dry-run", "--wait")
            assert code == 0 and checked["job"]["state"] == "ready", checked
            job = checked["job"]
            assert job["checked"]["already_drafted"] >= 40 and job["checked"]["would_make"] >= 160

            code, started = await admin(stack, "job", "--company", company, job["id"], "--start")
            assert code == 0 and started["job"]["state"] == "running"
            # During the run: the other company's live deal.
            await eventually(lambda: _some_made(stack, sitting), timeout=300)
            live = await sandbox_post(other_url, "/_sandbox/deals", {
                "title": "Other live deal", "currency": "NZD", "stage": "Negotiations Started", "org_id": 101,
                "person_id": 201, "products": [{"product_id": 301, "quantity": 1, "item_price": 100, "tax": 15,
                                                "tax_method": "exclusive"}]})
            moved = time.monotonic()
            await sandbox_post(other_url, f"/_sandbox/deals/{live['id']}/move", {"stage": "Won"})
            await eventually(lambda: _other_invoice(stack, tenant["tenantId"], live["id"]),
                             timeout=XERO_MINUTE / speed, every=0.2)
            waited = time.monotonic() - moved
            still_running = (await admin(stack, "job", "--company", company, job["id"]))[1]["job"]
            assert still_running["state"] == "running", "the live deal must be measured during the backfill"

            code, done = await admin(stack, "job", "--company", company, job["id"], "--wait")
            assert code == 0 and done["job"]["state"] == "done", done
            mine = await _invoice_counts(stack, drafted + sitting)
            assert len(mine) == 200 and set(mine.values()) == {1}, "one draft per deal, none twice"
            print(f"backfill: {done['job']['progress']}; other company's live draft after {waited:.1f}s")
    finally:
        stop_children([other])
        await client.close()


async def _access_token(store: ConnectionStore, company_id: str) -> str:
    doc = await store.get("pipedrive", company_id)
    assert doc is not None
    return store.decrypt(doc, "access_token")


async def _invoice_counts(stack: Stack, deal_ids: list[int]) -> dict[int, int]:
    wanted, counts = set(deal_ids), {}
    for invoice in await invoices(stack):
        url = invoice.get("Url") or ""
        for deal_id in wanted:
            if f"/deal/{deal_id}?" in url:
                counts[deal_id] = counts.get(deal_id, 0) + 1
    return counts


async def _drafted(stack: Stack, deal_ids: list[int]) -> bool:
    return len(await _invoice_counts(stack, deal_ids)) == len(deal_ids)


async def _some_made(stack: Stack, deal_ids: list[int]) -> bool:
    return len(await _invoice_counts(stack, deal_ids)) >= 20


async def _other_invoice(stack: Stack, tenant_id: str, deal_id: int) -> bool:
    found = await sandbox_get(stack.urls["xero"], f"/_sandbox/tenants/{tenant_id}/invoices")
    return any(f"/deal/{deal_id}?" in (i.get("Url") or "") for i in found)

