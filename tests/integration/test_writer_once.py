"""Exactly one Xero draft per (company, deal, trigger), whatever happens: redelivery, replays, racing writers, and a
crash between "Xero said yes" and "we wrote it down". Against the Xero sandbox, the real store and broker."""

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from pdx_writer.adapters.ledger import Claim, MongoLedger
from tests.integration.writer_harness import WriterRig, open_rig, types


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


class Crash(Exception):
    pass


class CrashingLedger(MongoLedger):
    """Dies once right after Xero created the draft, before the ledger says so."""

    crashes = 1

    async def created(self, key: str, command_id: str, source_event_id: str, document: dict[str, Any]) -> None:
        if self.crashes:
            self.crashes -= 1
            raise Crash("the writer died here")
        await super().created(key, command_id, source_event_id, document)


class WatchedLedger(MongoLedger):
    """Remembers each claim's outcome, to prove two writers really overlapped."""

    def __init__(self, db: AsyncDatabase, lease_seconds: float, outcomes: list[str]) -> None:
        super().__init__(db, lease_seconds)
        self.outcomes = outcomes

    async def claim(self, key: str, command_id: str, company_id: str, deal_id: str) -> Claim:
        claim = await super().claim(key, command_id, company_id, deal_id)
        self.outcomes.append(claim.outcome)
        return claim


async def test_redelivery_and_replays_of_one_event_make_one_draft(rig: WriterRig) -> None:
    writer = rig.writer()
    command = rig.invoice()
    await writer.execute(command)
    await writer.execute(command)  # redelivered
    await writer.execute(rig.invoice(source_event_id=command.source_event_id))  # mapper ran twice
    later = rig.invoice()  # the deal re-entered the stage
    await writer.execute(later)

    [invoice] = rig.invoices()
    assert len(rig.calls("PUT", "Invoices")) == 1
    created, skipped = await rig.results()
    assert (created["type"], created["command_id"], created["xero_id"]) == (
        "DocumentCreated", command.id, invoice["InvoiceID"])
    assert (skipped["type"], skipped["source_event_id"]) == ("DocumentSkipped", later.source_event_id)
    assert "already has draft invoice INV-0001" in skipped["reason"]
    assert "open Triggers in the app's settings" in skipped["reason"]
    assert "When a deal enters the stage again" in skipped["reason"]


async def test_two_writers_racing_make_one_draft(infra, mongo_db, run_id) -> None:
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id, latency=0.03) as rig:
        outcomes: list[str] = []
        ledgers = [WatchedLedger(rig.db, 120.0, outcomes) for _ in range(2)]
        # The slow broker holds the winner between "written down" and "published", where the loser must wait.
        writers = [rig.writer(ledger=ledger, busy_wait=0.01, publish_delay=0.1) for ledger in ledgers]
        commands = [rig.invoice(), rig.invoice()]
        await asyncio.gather(*(w.execute(c) for w, c in zip(writers, commands, strict=True)))

        assert len(rig.invoices()) == 1 and len(rig.calls("PUT", "Invoices")) == 1
        assert "busy" in outcomes, outcomes  # they did overlap
        results = await rig.results()
        assert types(results) == ["DocumentCreated", "DocumentSkipped"], results


@pytest.mark.parametrize("kind", ["invoice", "quote"])
@pytest.mark.parametrize("same_command", [True, False], ids=["redelivered", "replayed"])
async def test_crash_after_xero_said_yes_finds_the_draft(rig: WriterRig, kind: str, same_command: bool) -> None:
    build = rig.invoice if kind == "invoice" else rig.quote
    collection = "Invoices" if kind == "invoice" else "Quotes"
    documents = rig.invoices if kind == "invoice" else rig.quotes
    command = build()
    with pytest.raises(Crash):
        await rig.writer(ledger=CrashingLedger(rig.db, 0.5)).execute(command)
    assert (await rig.ledger_entry(command))["state"] == "in_progress" and len(documents()) == 1

    again = command if same_command else build(source_event_id=command.source_event_id)
    await rig.writer(ledger=MongoLedger(rig.db, 0.5)).execute(again)

    [document] = documents()
    assert len(rig.calls("PUT", collection)) == 1
    entry = await rig.ledger_entry(command)
    assert (entry["state"], entry["document"]["xero_id"]) == ("created", document[f"{kind.title()}ID"])
    created = (await rig.results())
    assert types(created) == ["DocumentCreated"]
    assert (created[0]["command_id"], created[0]["kind"]) == (again.id, kind)


async def test_a_result_lost_after_writing_down_is_published_once(rig: WriterRig) -> None:
    class DyingPublisher:
        async def publish(self, message, topic: str, key: bytes) -> None:
            raise Crash("the writer died before the broker had the result")

    command = rig.invoice()
    dying = rig.writer(ledger=MongoLedger(rig.db, 0.5))
    dying.publisher = DyingPublisher()
    with pytest.raises(Crash):
        await dying.execute(command)
    entry = await rig.ledger_entry(command)
    assert (entry["state"], entry["result_published"]) == ("created", False)

    mark = rig.mark()
    await rig.writer(ledger=MongoLedger(rig.db, 0.5)).execute(command)  # redelivered: waits out the lease, tells
    await rig.writer().execute(command)  # and again: nothing more to say

    [invoice] = rig.invoices()
    assert rig.state.requests[mark:] == [] and len(rig.calls("PUT", "Invoices")) == 1
    [created] = await rig.results()
    assert (created["type"], created["xero_id"]) == ("DocumentCreated", invoice["InvoiceID"])
    assert (await rig.ledger_entry(command))["result_published"] is True


async def test_quote_lookup_ignores_another_deals_quote(rig: WriterRig) -> None:
    """Quotes have no Url: the look-up matches contact, Reference and Date, which another deal may share."""
    writer = rig.writer()
    await writer.execute(rig.quote("4201"))
    other = rig.quote("4202")
    with pytest.raises(Crash):
        await rig.writer(ledger=CrashingLedger(rig.db, 0.5)).execute(other)
    await rig.writer(ledger=MongoLedger(rig.db, 0.5)).execute(other)

    first, second = rig.quotes()
    assert len(rig.calls("PUT", "Quotes")) == 2
    assert (await rig.ledger_entry(other))["document"]["xero_id"] == second["QuoteID"]
    results = {m["deal_id"]: m["xero_id"] for m in await rig.results() if m["type"] == "DocumentCreated"}
    assert results == {"4201": first["QuoteID"], "4202": second["QuoteID"]}


async def test_a_crashed_batch_is_recovered_with_one_look_up_not_one_per_draft(rig: WriterRig) -> None:
    """After an unclear outcome every command of the batch must be looked up in Xero before anything is re-created;
    one call for all of them (Xero's ContactIDs takes a list), so the recovery does not need a dozen calls to all
    succeed at once while Xero is failing some."""
    commands = [rig.invoice(deal_id=str(4300 + n)) for n in range(6)]
    with pytest.raises(Crash):
        await rig.writer(ledger=CrashingLedger(rig.db, 0.5)).execute_batch(commands)
    assert len(rig.invoices()) == 6
    mark = len(rig.state.requests)

    await rig.writer(ledger=MongoLedger(rig.db, 0.5)).execute_batch(commands)

    assert len(rig.invoices()) == 6 and len(rig.calls("PUT", "Invoices")) == 1  # found, not made again
    assert len(rig.calls("GET", "Invoices", since=mark)) == 1
    assert types(await rig.results()) == ["DocumentCreated"] * 6
