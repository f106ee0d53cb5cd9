"""Xero's numbers on the deal, the write and its store (``deal_field_writes``) on the real store, Pipedrive faked:
the same news handled many times at once is written once; other values that arrive while a write is under way are
written after it, so the deal ends with the newest; a writer that died mid-way is taken over; values that return to
earlier ones are written again."""

import asyncio
from datetime import UTC, datetime, timedelta

from pdx_common.company_settings import CompanySettings, DealFieldRef, DealFields
from pdx_crmcard.adapters.deal_field_writes import STALE, MongoDealFieldWrites
from pdx_crmcard.deal_numbers import DealNumbers
from tests.integration.test_xero_webhooks import eventually

STATUS = "a" * 40
FIELDS = DealFields(status=DealFieldRef(key=STATUS))


class Docs:
    """The read model of one deal: one invoice whose status the test changes."""

    def __init__(self) -> None:
        self.invoice = {"company_id": "7001", "tenant_id": "t", "deal_id": "42", "kind": "invoice", "xero_id": "inv-1",
                        "number": "INV-0042", "status": "AUTHORISED", "date": "2026-11-27"}

    async def for_deal(self, company_id: str, tenant_id: str, deal_id: str) -> list[dict]:
        return [dict(self.invoice)]


class Pipedrive:
    """``update_deal`` that waits for ``gate`` (a slow Pipedrive), noting each body it gets."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[str] = []

    async def update_deal(self, company_id: str, deal_id: str, body: dict) -> None:
        self.sent.append(body["custom_fields"][STATUS])
        await self.gate.wait()


def writer(mongo_db, docs: Docs, pipedrive: Pipedrive) -> DealNumbers:
    async def settings_of(company_id: str) -> CompanySettings:
        return CompanySettings(deal_fields=FIELDS)
    return DealNumbers(settings_of, docs, MongoDealFieldWrites(mongo_db), pipedrive.update_deal)


async def test_the_same_news_handled_ten_times_at_once_is_written_once(mongo_db) -> None:
    docs, pipedrive = Docs(), Pipedrive()
    numbers = writer(mongo_db, docs, pipedrive)
    tasks = [asyncio.create_task(numbers.tell(docs.invoice)) for _ in range(10)]
    await eventually(lambda: sum(t.done() for t in tasks) == 9)  # all but the writer: nothing to do
    pipedrive.gate.set()
    await asyncio.gather(*tasks)
    await numbers.tell(docs.invoice)  # and once more, later
    assert pipedrive.sent == ["Awaiting payment"]


async def test_values_that_arrive_during_a_write_are_written_after_it_the_newest_last(mongo_db) -> None:
    docs, pipedrive = Docs(), Pipedrive()
    numbers = writer(mongo_db, docs, pipedrive)
    first = asyncio.create_task(numbers.tell(docs.invoice))
    await eventually(lambda: pipedrive.sent == ["Awaiting payment"])
    docs.invoice["status"] = "PAID"
    await numbers.tell(docs.invoice)  # the payment's webhook, while Pipedrive is still busy with the approval
    assert pipedrive.sent == ["Awaiting payment"]
    pipedrive.gate.set()
    await first
    stored = await mongo_db.deal_field_writes.find_one({"_id": "deal-fields:7001:42"})
    assert pipedrive.sent == ["Awaiting payment", "Paid"]
    assert (stored["state"], stored["body"]) == ("written", {"custom_fields": {STATUS: "Paid"}})


async def test_a_writer_that_died_mid_way_is_taken_over_and_earlier_values_are_written_again(mongo_db) -> None:
    docs, pipedrive = Docs(), Pipedrive()
    pipedrive.gate.set()
    numbers = writer(mongo_db, docs, pipedrive)
    await numbers.tell(docs.invoice)
    await mongo_db.deal_field_writes.update_one({"_id": "deal-fields:7001:42"}, {"$set": {
        "state": "writing", "at": datetime.now(UTC) - STALE - timedelta(seconds=1)}})  # died before it said so
    await numbers.tell(docs.invoice)
    for status in ("PAID", "AUTHORISED", "AUTHORISED"):
        docs.invoice["status"] = status
        await numbers.tell(docs.invoice)
    assert pipedrive.sent == ["Awaiting payment", "Awaiting payment", "Paid", "Awaiting payment"]
