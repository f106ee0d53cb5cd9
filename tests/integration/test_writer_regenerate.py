"""A person's Replay regenerates the trigger's existing draft in place: same document and number, lines replaced,
contact updated, never a second document; a document past DRAFT is left untouched and the deal is told why.
Against the Xero sandbox, the real store and broker, with redelivery and crashes."""

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from pdx_common.contracts import Contact, LineItem
from pdx_sandbox.xero import NZ_TENANT_ID
from pdx_writer.adapters.ledger import MongoLedger
from tests.integration.writer_harness import HOSTING, WriterRig, open_rig, types

AROHA = Contact(name="Aroha Studio Ltd", contact_number="pd-org-13", email="hello@aroha.co.nz",
                source="organization", source_id="13")
SUPPORT = LineItem(description="Support retainer, 3 months", quantity=Decimal("3"), unit_amount=Decimal("400"),
                   account_code="200", tax_rate=Decimal("15"))


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


class Crash(Exception):
    pass


class DyingLedger(MongoLedger):
    """Dies once like a kill -9 right after Xero updated the draft: nothing written down, the lease left held."""

    crashes = 1

    async def regenerated(self, key: str, command_id: str, document: dict[str, Any]) -> None:
        if self.crashes:
            self.crashes -= 1
            raise Crash("the writer died here")
        await super().regenerated(key, command_id, document)

    async def release_regeneration(self, key: str, command_id: str) -> None:
        if not self.crashes:
            return  # a killed process releases nothing
        await super().release_regeneration(key, command_id)


def documents(rig: WriterRig, kind: str) -> list[dict]:
    return rig.invoices() if kind == "invoice" else rig.quotes()


def builder(rig: WriterRig, kind: str):
    return rig.invoice if kind == "invoice" else rig.quote


async def user_action(rig: WriterRig, kind: str, xero_id: str, action: str) -> None:
    async with rig.session.post(f"{rig.url}/_sandbox/{kind}s/{xero_id}/{action}",
                                json={"tenant_id": NZ_TENANT_ID}) as resp:
        assert resp.status == 200, await resp.text()


def updates(rig: WriterRig, kind: str, xero_id: str, since: int = 0) -> int:
    return len(rig.calls("POST", f"{kind.title()}s/{xero_id}", since))


@pytest.mark.parametrize("kind", ["invoice", "quote"])
async def test_replay_updates_the_same_draft_in_place(rig: WriterRig, kind: str) -> None:
    build = builder(rig, kind)
    first = build()
    await rig.writer().execute(first)
    [before] = documents(rig, kind)
    id_field, number_field = f"{kind.title()}ID", f"{kind.title()}Number"

    replay = build(reference="Website rebuild, phase 2", contact=AROHA, line_items=(HOSTING, SUPPORT),
                   deal_value=Decimal("2400"), regenerate=True)
    await rig.writer().execute(replay)

    [after] = documents(rig, kind)
    assert (after[id_field], after[number_field], after["Status"]) == (before[id_field], before[number_field], "DRAFT")
    assert after["Reference"] == "Website rebuild, phase 2" and after["Contact"]["Name"] == "Aroha Studio Ltd"
    assert [line["Description"] for line in after["LineItems"]] == [HOSTING.description, SUPPORT.description]
    assert len(rig.calls("PUT", f"{kind.title()}s")) == 1 and updates(rig, kind, before[id_field]) == 1
    created, updated = await rig.results()
    assert (created["type"], updated["type"]) == ("DocumentCreated", "DocumentUpdated")
    assert (updated["xero_id"], updated["number"], updated["command_id"]) == (
        before[id_field], before[number_field], replay.id)
    assert (updated["contact_name"], Decimal(updated["total"])) == ("Aroha Studio Ltd", Decimal("2760"))
    entry = await rig.ledger_entry(replay)
    assert (entry["state"], entry["regenerated"], entry["document"]["contact_number"]) == (
        "created", [replay.id], "pd-org-13")
    assert Decimal(entry["document"]["total"]) == Decimal("2760")


async def test_the_deals_pipeline_is_kept_with_the_draft_and_told_on_creation_and_update(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice(pipeline_id=3))
    replay = rig.invoice(pipeline_id=3, reference="Website rebuild, phase 2", regenerate=True)
    await rig.writer().execute(replay)
    older = rig.invoice("4202")  # a command from before pipelines were sent: nothing said about one
    await rig.writer().execute(older)

    results = await rig.results()
    [unsaid] = [m for m in results if m["deal_id"] == "4202"]
    created, updated = [m for m in results if m["deal_id"] == "4201"]  # one deal's results keep their order
    assert (created["type"], created["pipeline_id"]) == ("DocumentCreated", 3)
    assert (updated["type"], updated["pipeline_id"]) == ("DocumentUpdated", 3)
    assert unsaid["type"] == "DocumentCreated" and "pipeline_id" not in unsaid
    assert (await rig.ledger_entry(replay))["document"]["pipeline_id"] == 3
    assert "pipeline_id" not in (await rig.ledger_entry(older))["document"]


@pytest.mark.parametrize(("kind", "action", "said"), [
    ("invoice", "approve", "is approved in Xero (awaiting payment), so Replay left it untouched: an approved invoice "
                           "is changed in Xero itself. To change it, open it in Xero"),
    ("quote", "send", "has been sent to the customer (Sent in Xero), so Replay left it untouched"),
])
async def test_a_document_past_draft_is_left_untouched(rig: WriterRig, kind: str, action: str, said: str) -> None:
    build = builder(rig, kind)
    await rig.writer().execute(build())
    [before] = documents(rig, kind)
    xero_id, number = before[f"{kind.title()}ID"], before[f"{kind.title()}Number"]
    await user_action(rig, kind, xero_id, action)
    mark = rig.mark()

    replay = build(reference="Website rebuild, phase 2", regenerate=True)
    await rig.writer().execute(replay)

    [after] = documents(rig, kind)
    assert after["Reference"] == "Website rebuild" and updates(rig, kind, xero_id) == 0
    assert len(rig.calls("GET", f"{kind.title()}s/{xero_id}", mark)) == 1  # it looked, it did not touch
    created, skipped = await rig.results()
    assert (created["type"], skipped["type"], skipped["source_event_id"]) == (
        "DocumentCreated", "DocumentSkipped", replay.source_event_id)
    assert skipped["reason"].startswith(f"{kind.title()} {number} {said}"), skipped["reason"]
    entry = await rig.ledger_entry(replay)
    assert (entry["state"], entry.get("regenerated"), entry["document"]["status"]) == ("created", None, "DRAFT")


async def test_a_refused_update_leaves_the_draft_and_the_ledger_as_they_were(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice())
    [before] = rig.invoices()
    bogus = LineItem(description="Travel", quantity=Decimal("1"), unit_amount=Decimal("90"), account_code="200",
                     tax_type="BOGUS")
    refused = rig.invoice(line_items=(HOSTING, bogus), regenerate=True)
    await rig.writer().execute(refused)

    [after] = rig.invoices()
    assert after["LineItems"] == before["LineItems"] and updates(rig, "invoice", before["InvoiceID"]) == 1
    assert (await rig.ledger_entry(refused))["state"] == "created"
    later = rig.invoice()  # the deal moves on: still no second document
    await rig.writer().execute(later)
    fixed = rig.invoice(line_items=(HOSTING,), regenerate=True)  # the admin fixed the mapping: Replay again
    await rig.writer().execute(fixed)

    [final] = rig.invoices()
    assert final["InvoiceID"] == before["InvoiceID"] and len(rig.calls("PUT", "Invoices")) == 1
    assert [line["Description"] for line in final["LineItems"]] == [HOSTING.description]
    created, not_updated, skipped, updated = await rig.results()
    assert [created["type"], not_updated["type"], skipped["type"], updated["type"]] == [
        "DocumentCreated", "DocumentSkipped", "DocumentSkipped", "DocumentUpdated"]
    assert not_updated["reason"].startswith("Draft invoice INV-0001 was not updated in Xero and is unchanged. "
                                            "Xero has no tax rate 'BOGUS'"), not_updated["reason"]
    assert "then replay the deal" in not_updated["reason"]
    assert "already has draft invoice INV-0001" in skipped["reason"]
    assert updated["command_id"] == fixed.id


async def test_one_regenerate_command_delivered_four_times_updates_once(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice())
    [invoice] = rig.invoices()
    replay = rig.invoice(reference="Website rebuild, phase 2", regenerate=True)
    await asyncio.gather(rig.writer().execute(replay), rig.writer().execute(replay))  # two writers at once
    await rig.writer().execute(replay)
    await rig.writer().execute(replay)

    assert updates(rig, "invoice", invoice["InvoiceID"]) == 1 and len(rig.invoices()) == 1
    results = await rig.results()
    assert types(results) == ["DocumentCreated"] + ["DocumentUpdated"] * 4
    assert len({m["id"] for m in results if m["type"] == "DocumentUpdated"}) == 1
    assert (await rig.ledger_entry(replay))["regenerated"] == [replay.id]


async def test_a_crash_between_the_update_and_the_ledger_is_harmless(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice())
    [invoice] = rig.invoices()
    replay = rig.invoice(reference="Website rebuild, phase 2", line_items=(SUPPORT,), regenerate=True)
    with pytest.raises(Crash):
        await rig.writer(ledger=DyingLedger(rig.db, 0.5)).execute(replay)
    assert rig.invoices()[0]["Reference"] == "Website rebuild, phase 2"  # Xero has it; the ledger does not
    assert "regenerated" not in await rig.ledger_entry(replay)

    await rig.writer(ledger=MongoLedger(rig.db, 0.5)).execute(replay)  # redelivered: waits out the dead lease

    [after] = rig.invoices()
    assert (after["InvoiceID"], after["InvoiceNumber"]) == (invoice["InvoiceID"], invoice["InvoiceNumber"])
    assert [line["Description"] for line in after["LineItems"]] == [SUPPORT.description]
    assert len(rig.calls("PUT", "Invoices")) == 1
    entry = await rig.ledger_entry(replay)
    assert (entry["state"], entry["regenerated"], entry.get("regen_owner")) == ("created", [replay.id], None)
    created, updated = await rig.results()
    assert (created["type"], updated["type"], updated["number"]) == ("DocumentCreated", "DocumentUpdated", "INV-0001")


async def test_without_regenerate_a_made_draft_is_still_skipped(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice())
    again = rig.invoice(reference="Website rebuild, phase 2")
    await rig.writer().execute(again)

    [invoice] = rig.invoices()
    assert invoice["Reference"] == "Website rebuild" and updates(rig, "invoice", invoice["InvoiceID"]) == 0
    created, skipped = await rig.results()
    assert (created["type"], skipped["type"]) == ("DocumentCreated", "DocumentSkipped")
    assert "already has draft invoice INV-0001" in skipped["reason"]


async def test_a_regenerate_command_that_made_the_draft_does_not_update_it_when_redelivered(rig: WriterRig) -> None:
    """A Replay of a failed trigger creates the draft; its own redelivery is not a second Replay."""
    replay = rig.invoice(regenerate=True)
    await rig.writer().execute(replay)
    await rig.writer().execute(replay)

    [invoice] = rig.invoices()
    assert updates(rig, "invoice", invoice["InvoiceID"]) == 0
    assert types(await rig.results()) == ["DocumentCreated"]
