"""Xero's numbers back on the deal, through the whole stack: a payment in the Xero sandbox reaches the deal fields the
admin chose and moves the deal to the paid stage, once however often Xero reports it, and never makes a draft."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import aiohttp
from pymongo import AsyncMongoClient

from pdx_devstack.peek import sandbox_get, sandbox_post
from pdx_devstack.seed import XERO_WEBHOOK_KEY
from tests.e2e.helpers import activities, admin, create_deal, eventually, invoices_for_deal, move, quotes, subjects

PAID_STAGE = 3  # Sales > Proposal Made: no trigger there (a paid stage never is one)


async def add_field(stack, name: str, field_type: str) -> dict:
    return await sandbox_post(stack.urls["pipedrive"], "/_sandbox/fields",
                              {"entity": "deal", "name": name, "field_type": field_type})


async def patch_settings(stack, patch: dict) -> None:
    code, out = await admin(stack, "settings", "patch", json.dumps(patch), "--company", stack.seeded.company_id)
    assert code == 0, out


async def deal_now(stack, deal_id: int) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.urls['pipedrive']}/_sandbox/deals") as resp:
            deals = (await resp.json())["data"]
    return next(d for d in deals if d["id"] == deal_id)


async def deal_writes(stack, deal_id: int) -> list[dict]:
    found = await sandbox_get(stack.urls["pipedrive"], "/_sandbox/requests",
                              {"path_prefix": f"/api/v2/deals/{deal_id}"})
    return [r for r in found if r["method"] == "PATCH"]


async def xero_says_again(stack, invoice_id: str, times: int) -> None:
    """Xero reporting the same invoice's update several times (its webhook retries and repeats), signed."""
    start = datetime.now(UTC)
    events = [{"resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice_id}", "resourceId": invoice_id,
               "eventDateUtc": (start + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
               "eventType": "UPDATE", "eventCategory": "INVOICE", "tenantId": stack.seeded.tenant_id,
               "tenantType": "ORGANISATION"} for n in range(times)]
    async with aiohttp.ClientSession() as session:
        for n, event in enumerate(events, 1):
            body = json.dumps({"events": [event], "firstEventSequence": n, "lastEventSequence": n,
                               "entropy": f"again{n}"}).encode()
            signature = base64.b64encode(hmac.new(XERO_WEBHOOK_KEY.encode(), body, hashlib.sha256).digest()).decode()
            async with session.post(f"{stack.urls['crm-card']}/webhooks/xero", data=body,
                                    headers={"x-xero-signature": signature,
                                             "Content-Type": "application/json"}) as resp:
                assert resp.status == 200


async def inbox_settled(stack, invoice_id: str) -> bool:
    client = AsyncMongoClient(stack.infra.mongo_url)
    try:
        col = client[stack.options.mongo_db].xero_webhook_inbox
        return await col.count_documents({"event.resourceId": invoice_id, "state": "done"}) >= 3 and \
            await col.count_documents({"event.resourceId": invoice_id, "state": "pending"}) == 0
    finally:
        await client.close()


async def test_a_payment_in_xero_sets_the_chosen_deal_fields_and_stage_once_and_makes_no_draft(stack):
    status, due = await add_field(stack, "Xero status", "varchar"), await add_field(stack, "Xero amount due",
                                                                                    "monetary")
    number, link = await add_field(stack, "Xero invoice number", "varchar"), await add_field(stack, "Xero link",
                                                                                             "varchar")
    await patch_settings(stack, {"deal_fields": {
        "status": {"key": status["key"], "field_type": "varchar"},
        "amount_due": {"key": due["key"], "field_type": "monetary"},
        "number": {"key": number["key"], "field_type": "varchar"},
        "link": {"key": link["key"], "field_type": "varchar"},
        "paid_stages": [{"pipeline_id": 1, "stage_id": PAID_STAGE}]}})
    try:
        deal = await create_deal(stack, title="Numbers come back")
        await move(stack, deal["id"], "Won")
        [invoice] = await eventually(lambda: invoices_for_deal(stack, deal["id"]))
        tenant = stack.seeded.tenant_id
        for action in ("approve", "pay"):
            await sandbox_post(stack.urls["xero"], f"/_sandbox/invoices/{invoice['InvoiceID']}/{action}",
                               {"tenant_id": tenant})

        async def paid() -> dict | None:
            now = await deal_now(stack, deal["id"])
            return now if (now["custom_fields"].get(status["key"]) == "Paid"
                           and now["stage_id"] == PAID_STAGE) else None

        now = await eventually(paid, timeout=90)
        assert now["custom_fields"][number["key"]] == invoice["InvoiceNumber"]
        assert invoice["InvoiceID"] in now["custom_fields"][link["key"]]
        amount = now["custom_fields"][due["key"]]
        assert float(amount["value"] if isinstance(amount, dict) else amount) == 0

        await xero_says_again(stack, invoice["InvoiceID"], 3)
        await eventually(lambda: inbox_settled(stack, invoice["InvoiceID"]))
        said_paid = [w for w in await deal_writes(stack, deal["id"])
                     if (w["json"] or {}).get("custom_fields", {}).get(status["key"]) == "Paid"]
        assert len(said_paid) == 1, said_paid
        assert said_paid[0]["json"]["stage_id"] == PAID_STAGE

        # Our own writes made nothing: still one invoice, no quote, one "created" activity.
        assert len(await invoices_for_deal(stack, deal["id"])) == 1
        assert not [q for q in await quotes(stack) if f"Deal {deal['id']}" in str(q.get("Reference"))]
        created = [s for s in subjects(await activities(stack, deal["id"])) if "created" in s.lower()]
        assert len(created) == 1, created
    finally:
        await patch_settings(stack, {"deal_fields": {"status": None, "amount_due": None, "number": None,
                                                     "link": None, "paid_stages": []}})
