"""Replay from the deal, on the real store with the Xero and Pipedrive sandboxes: a failure's activity links to the
signed Replay page and the deal's panel shows the failure first with Replay; a Replay's DocumentUpdated becomes one
"updated" activity (however often it is delivered), the deal's status "created" with the new number and total, and
the panel's document shows the new total and customer."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from pdx_common.contracts import RESULT, DocumentFailed, DocumentUpdated
from pdx_common.signed_links import verify
from pdx_crmcard.bootstrap import result_handler
from tests.integration.test_panel_rig import DEMO_DEAL, open_card

GATEWAY = "https://gateway.example"
KEY = "an-integration-link-signing-key-0123456789"


def failure(company_id: str, at: datetime) -> DocumentFailed:
    return DocumentFailed(company_id=company_id, deal_id=str(DEMO_DEAL), trigger_id="won", kind="invoice",
                          stage="mapping", code="product_code_required", occurred_at=at,
                          message="Product code required for the line “Widget”.",
                          fix="Add a product code to Widget in Pipedrive.")


async def test_a_failure_links_to_replay_in_its_activity_and_in_the_panel(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, gateway_url=GATEWAY, link_signing_key=KEY) as rig:
        await result_handler(rig.settings, rig.res)(failure(rig.company_id, datetime.now(UTC)))
        status, body = await rig.panel("deal", DEMO_DEAL)
        [activity] = rig.activities(DEMO_DEAL)

    assert activity["subject"] == "Xero draft invoice not created: Product code required for the line “Widget”"
    assert "Once fixed, <a href=\"https://gateway.example/deal/replay?company_id=" in activity["note"]
    assert "/api/" not in activity["note"]
    first = body["data"][0]
    assert status == 200 and first["header"] == "Not created: Product code required for the line “Widget”"
    assert first["fix"] == "Add a product code to Widget in Pipedrive. Then choose Replay."
    replay = first["replay"]
    assert replay["label"] == "Replay this deal" and replay["external"] is True
    query = dict(parse_qsl(urlsplit(replay["value"]).query))
    assert verify(KEY, "deal-replay", query, ("company_id", "deal_id"), datetime.now(UTC).timestamp()) == {
        "company_id": rig.company_id, "deal_id": str(DEMO_DEAL)}


async def test_a_replays_update_is_told_once_and_shown_with_its_new_total(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, gateway_url=GATEWAY, link_signing_key=KEY) as rig:
        handle = result_handler(rig.settings, rig.res)
        await handle(failure(rig.company_id, datetime.now(UTC) - timedelta(minutes=5)))
        created = await rig.draft(DEMO_DEAL)
        update = DocumentUpdated(
            company_id=rig.company_id, deal_id=str(DEMO_DEAL), command_id=uuid.uuid4().hex, trigger_id="won",
            kind="invoice", tenant_id=rig.tenant_id, xero_id=created["InvoiceID"], number=created["InvoiceNumber"],
            total=Decimal("2070.00"), currency_code="NZD", status="DRAFT", contact_name="Kiwi Widgets Ltd",
            contact_id=created["Contact"]["ContactID"], contact_number="pd-org-101",
            xero_url=f"https://go.xero.com/drafts/{created['InvoiceID']}",
            issue_date=datetime.now(UTC).date(), due_date=datetime.now(UTC).date() + timedelta(days=30))
        wire = RESULT.validate_json(update.model_dump_json())  # what the results consumer hands the handler
        assert isinstance(wire, DocumentUpdated)
        for _ in range(4):  # redelivered
            await handle(wire)
        _, body = await rig.panel("deal", DEMO_DEAL)
        subjects = [a["subject"] for a in rig.activities(DEMO_DEAL)]
        status = await mongo_db.deal_status.find_one({"_id": f"{rig.company_id}:{DEMO_DEAL}:won"})

    number = created["InvoiceNumber"]
    assert subjects.count(f"Draft invoice {number} updated in Xero") == 1
    assert subjects.count(f"Draft invoice {number} created in Xero") == 1
    assert status["state"] == "created" and status["number"] == number and status["total"] == "2070.00"
    assert body["data"][0]["id"] == "summary"  # the failure is settled: no failure object any more
    [shown] = [o for o in body["data"] if o["id"] == created["InvoiceID"]]
    assert shown["total"] == {"code": "NZD", "value": 2070.0}
    assert shown["amount_due"] == {"code": "NZD", "value": 2070.0}
    assert shown["due_date"] == (datetime.now(UTC).date() + timedelta(days=30)).isoformat()


async def test_an_update_older_than_the_stored_outcome_never_overwrites_it(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        created = await rig.draft(DEMO_DEAL)
        stored = await mongo_db.deal_status.find_one({"_id": f"{rig.company_id}:{DEMO_DEAL}:won"})
        late = DocumentUpdated(
            company_id=rig.company_id, deal_id=str(DEMO_DEAL), command_id="c-old", trigger_id="won", kind="invoice",
            tenant_id=rig.tenant_id, xero_id=created["InvoiceID"], number="INV-OLD", total=Decimal("1"),
            currency_code="NZD", status="DRAFT", contact_name="Kiwi Widgets Ltd", xero_url="https://go.xero.com/x",
            occurred_at=stored["at"] - timedelta(minutes=1))
        await result_handler(rig.settings, rig.res)(late)
        after = await mongo_db.deal_status.find_one({"_id": f"{rig.company_id}:{DEMO_DEAL}:won"})

    assert after["number"] == created["InvoiceNumber"] and after["result_id"] == stored["result_id"]
