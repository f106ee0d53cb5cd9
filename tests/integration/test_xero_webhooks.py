"""Xero's webhook into the crm-card: signed events update the read model after the answer, a draft we created
that is paid writes exactly one activity on its deal (however often Xero says so), a mis-signed delivery changes
nothing, and Xero's intent-to-receive handshake passes."""

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_sandbox.xero import NZ_TENANT_ID
from pdx_sandbox.xero.webhooks import intent_to_receive, payload, sign
from tests.integration.test_panel_rig import ORG_KIWI, WEBHOOK_KEY, CardRig, open_card


async def eventually(check: Callable[[], object], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def settled(rig: CardRig) -> None:
    """Every delivery the sandbox queued was answered and every stored event handled."""
    async def idle() -> bool:
        return not rig.xero.webhook_queue and await rig.res.inbox.pending() == 0
    async with asyncio.timeout(60):
        while not await idle():
            await asyncio.sleep(0.05)


async def post(rig: CardRig, body: bytes, signature: str) -> int:
    async with rig.session.post(f"{rig.card_url}/webhooks/xero", data=body,
                                headers={"x-xero-signature": signature}) as resp:
        assert await resp.read() == b""
        return resp.status


def subjects(rig: CardRig, deal_id: int) -> list[str]:
    return [a["subject"] for a in rig.activities(deal_id)]


async def test_the_intent_to_receive_handshake_passes(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        assert await intent_to_receive(f"{rig.card_url}/webhooks/xero", WEBHOOK_KEY)
        assert await rig.xero.intent_to_receive(f"{rig.card_url}/webhooks/xero")


async def test_without_a_webhook_key_every_delivery_is_refused(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, xero_webhook_key=None) as rig:
        body = payload([], 1)
        assert await post(rig, body, sign(body, WEBHOOK_KEY)) == 401


async def test_a_payment_updates_the_panel_and_writes_one_activity(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        rig.xero.webhook_url = f"{rig.card_url}/webhooks/xero"
        invoice = await rig.draft(5)
        number, invoice_id = invoice["InvoiceNumber"], invoice["InvoiceID"]
        rig.xero.approve_invoice(NZ_TENANT_ID, invoice_id)
        await eventually(lambda: f"Invoice {number} approved in Xero" in subjects(rig, 5))
        rig.xero.pay_invoice(NZ_TENANT_ID, invoice_id)
        await eventually(lambda: f"Invoice {number} paid" in subjects(rig, 5))
        await settled(rig)
        _, body = await rig.panel("organization", ORG_KIWI)

        last = rig.xero.webhook_deliveries[-1]  # Xero sends the same batch again (our answer was lost, say)
        assert await post(rig, last.body, last.signature) == 200
        rig.xero.emit(NZ_TENANT_ID, "INVOICE", "UPDATE", invoice_id)  # and a later event, same state
        await settled(rig)
        paid = [s for s in subjects(rig, 5) if s == f"Invoice {number} paid"]

    assert all(d.status == 200 for d in rig.xero.webhook_deliveries)
    shown = next(o for o in body["data"] if o["id"] == invoice_id)
    assert shown["status"] == {"color": "green", "label": "Paid"}
    assert shown["amount_due"] == {"code": "NZD", "value": 0.0}
    assert len(paid) == 1
    assert subjects(rig, 5) == [f"Draft invoice {number} created in Xero", f"Invoice {number} approved in Xero",
                                f"Invoice {number} paid"]


async def test_a_mis_signed_delivery_gets_401_and_changes_nothing(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        invoice = await rig.draft(5)
        rig.xero.approve_invoice(NZ_TENANT_ID, invoice["InvoiceID"])  # no webhook URL yet: nothing sent
        event = rig.xero.webhook_events[-1]
        body = payload([event], 1)
        calls, before = rig.xero_calls(), await MongoXeroDocuments(rig.db).for_deal(rig.company_id, rig.tenant_id, "5")
        for signature in (sign(body, WEBHOOK_KEY + "-wrong"), "", sign(body + b" ", WEBHOOK_KEY)):
            assert await post(rig, body, signature) == 401  # answered: a refused delivery stores nothing first
        after = await MongoXeroDocuments(rig.db).for_deal(rig.company_id, rig.tenant_id, "5")
        stored = await rig.db.xero_webhook_inbox.count_documents({})

    assert stored == 0 and rig.xero_calls() == calls
    assert before == after and after[0]["status"] == "DRAFT"
    assert len(rig.activities(5)) == 1  # only "draft created"


async def test_an_invoice_we_did_not_create_joins_the_panel_without_an_activity(infra, mongo_db) -> None:
    today = datetime.now(UTC).date()
    async with open_card(infra, mongo_db) as rig:
        ours = await rig.draft(5)
        theirs = (await rig.xero_client().create_documents("Invoices", [{
            "Type": "ACCREC", "Contact": {"ContactID": ours["Contact"]["ContactID"]}, "Status": "AUTHORISED",
            "Date": (today - timedelta(days=60)).isoformat(), "DueDate": (today - timedelta(days=30)).isoformat(),
            "LineItems": [{"ItemCode": "WIDGET-01", "Quantity": 4}]}], "made-in-xero"))[0]
        body = payload([rig.xero.webhook_events[-1]], 7)
        assert await post(rig, body, sign(body, WEBHOOK_KEY)) == 200
        await rig.res.inbox_worker.drain()
        _, panel = await rig.panel("organization", ORG_KIWI)

    shown = next(o for o in panel["data"] if o["id"] == theirs["InvoiceID"])
    assert "source" not in shown and shown["overdue"]["color"] == "red"
    assert panel["data"][0]["overdue_total"] == {"code": "NZD", "value": theirs["AmountDue"]}
    assert len(rig.activities(5)) == 1


async def test_events_of_an_organisation_nobody_connected_are_ignored(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        event = {"resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/x", "resourceId": "x",
                 "eventDateUtc": "2026-01-01T00:00:00.000", "eventType": "UPDATE", "eventCategory": "INVOICE",
                 "tenantId": "00000000-0000-0000-0000-00000000dead", "tenantType": "ORGANISATION"}
        contact = {**event, "eventCategory": "CONTACT", "tenantId": NZ_TENANT_ID}
        body = json.dumps({"events": [event, contact], "firstEventSequence": 1, "lastEventSequence": 2,
                           "entropy": "ABC"}).encode()
        calls = rig.xero_calls()
        assert await post(rig, body, sign(body, WEBHOOK_KEY)) == 200
        assert await rig.res.inbox_worker.drain() == 2
        outcomes = sorted([d["outcome"] async for d in rig.db.xero_webhook_inbox.find()])

    assert outcomes == ["ignored", "no company"] and rig.xero_calls() == calls


async def test_a_signed_body_that_is_not_a_batch_is_a_400(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        body = b'{"not": "events"}'
        assert await post(rig, body, sign(body, WEBHOOK_KEY)) == 400


async def test_a_burst_of_events_costs_one_call_and_our_own_new_drafts_cost_none(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        drafts = [await rig.draft(deal) for deal in range(1, 9)]  # the seeded deals
        created = [e for e in rig.xero.webhook_events if e["eventType"] == "CREATE" and e["eventCategory"] == "INVOICE"]
        updates = [{**e, "eventType": "UPDATE", "eventDateUtc": "2026-11-27T10:00:00.000"} for e in created]
        assert len(created) >= len(drafts)
        calls = rig.xero_calls()
        body = payload(created + updates, 1)
        assert await post(rig, body, sign(body, WEBHOOK_KEY)) == 200
        await rig.res.inbox_worker.drain()
        outcomes = sorted({d["outcome"] async for d in rig.db.xero_webhook_inbox.find()})

    assert rig.xero_calls() - calls == 1  # eight changed invoices in one GET /Invoices?IDs=...
    assert outcomes == ["applied", "known"]
