"""One bad draft never sinks its batch, against the Xero sandbox, the real store and broker: a request Xero refuses as
a whole is split until only the draft at fault fails, with its own reason; drafts over Xero's limits are refused
before any call; numbers go out as JSON numbers; odd customer names are looked up safely; and no split or retry ever
makes a second copy of a draft."""

import json
from decimal import Decimal
from typing import Any

import pytest

from pdx_common.contracts import Contact, LineItem, NewItem
from pdx_writer.adapters.ledger import MongoLedger
from tests.integration.writer_harness import HOSTING, KOWHAI, WORKSHOP, WriterRig, open_rig, types
from tests.unit.test_xero_payloads import spec_errors

POISON = WORKSHOP.model_copy(update={"description": "Brand strategy workshop\x02 (pasted from a PDF)"})


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


class Crash(Exception):
    pass


class CrashingLedger(MongoLedger):
    """Dies when writing down the ``after``-th draft Xero created, as a writer killed mid-batch would."""

    def __init__(self, db, lease_seconds: float, after: int) -> None:
        super().__init__(db, lease_seconds)
        self.after = after

    async def created(self, key: str, command_id: str, source_event_id: str, document: dict[str, Any]) -> None:
        self.after -= 1
        if self.after == 0:
            raise Crash("the writer died here")
        await super().created(key, command_id, source_event_id, document)


def by_deal(results: list[dict], kind: str) -> dict[str, dict]:
    return {m["deal_id"]: m for m in results if m["type"] == kind}


def deal_of(invoice: dict) -> str:
    return invoice["Url"].split("/deal/")[1].split("?")[0]


def puts(rig: WriterRig, collection: str = "Invoices") -> list[tuple[int, list[str]]]:
    """Each PUT of drafts: its status and the deals it carried."""
    return [(r.status, [d["Url"].split("/deal/")[1].split("?")[0] for d in r.json[collection]])
            for r in rig.calls("PUT", collection)]


def assert_bodies_follow_the_spec(rig: WriterRig) -> None:
    for request in rig.state.requests:
        if request.method == "PUT":
            collection = request.path.rsplit("/", 1)[1]
            assert spec_errors(collection, request.json) == [], (request.path, request.json)


async def test_one_poisoned_draft_fails_alone_and_the_rest_are_made(rig: WriterRig) -> None:
    deals = [f"61{n:02}" for n in range(6)]
    commands = [rig.invoice(deal, line_items=(POISON, HOSTING) if deal == "6103" else (WORKSHOP, HOSTING))
                for deal in deals]
    await rig.writer().execute_batch(commands)

    assert sorted(deal_of(i) for i in rig.invoices()) == [d for d in deals if d != "6103"]
    assert puts(rig) == [(400, deals), (200, deals[:3]), (400, deals[3:]), (400, ["6103"]), (200, ["6104", "6105"])]
    keys = [r.headers["Idempotency-Key"] for r in rig.calls("PUT", "Invoices")]
    assert len(set(keys)) == len(keys)  # a part never reuses the refused whole's key
    results = await rig.results()
    assert sorted(by_deal(results, "DocumentCreated")) == [d for d in deals if d != "6103"]
    failed = by_deal(results, "DocumentFailed")["6103"]
    assert (failed["code"], failed["command_id"]) == ("invalid_character", commands[3].id)
    assert "0x02" in failed["message"] and "Retype" in failed["fix"]
    assert (await rig.ledger_entry(commands[3]))["state"] == "failed"
    assert_bodies_follow_the_spec(rig)


async def test_a_split_sent_again_replays_xeros_answers_and_makes_no_second_copy(rig: WriterRig) -> None:
    commands = [rig.invoice(deal, line_items=(POISON, HOSTING) if deal == "6202" else (WORKSHOP, HOSTING))
                for deal in ("6200", "6201", "6202", "6203")]
    await rig.writer().execute_batch(commands)
    first = {i["InvoiceID"] for i in rig.invoices()}
    assert len(first) == 3

    await rig.db.ledger.delete_many({})  # the writer forgot everything: only Xero's idempotency stands guard
    mark = rig.mark()
    await rig.writer().execute_batch(commands)

    assert {i["InvoiceID"] for i in rig.invoices()} == first
    again = rig.calls("PUT", "Invoices", mark)
    assert again and all(r.status in (200, 400) for r in again)
    results = await rig.results()
    created = [m for m in results if m["type"] == "DocumentCreated"]
    assert len(created) == 6 and {m["xero_id"] for m in created} == first  # announced twice, the same drafts


async def test_a_writer_killed_mid_split_finishes_without_a_duplicate(rig: WriterRig) -> None:
    deals = ["6300", "6301", "6302", "6303"]
    commands = [rig.invoice(deal, line_items=(POISON, HOSTING) if deal == "6303" else (WORKSHOP, HOSTING))
                for deal in deals]
    with pytest.raises(Crash):  # dies writing down 6301, which Xero has made
        await rig.writer(ledger=CrashingLedger(rig.db, 0.5, after=2)).execute_batch(commands)
    assert sorted(deal_of(i) for i in rig.invoices()) == ["6300", "6301"]

    await rig.writer(ledger=MongoLedger(rig.db, 0.5)).execute_batch(commands)  # redelivered

    assert sorted(deal_of(i) for i in rig.invoices()) == ["6300", "6301", "6302"]
    assert puts(rig) == [(400, deals), (200, ["6300", "6301"]), (400, ["6302", "6303"]), (200, ["6302"]),
                         (400, ["6303"])]
    entries = {c.deal_id: (await rig.ledger_entry(c))["state"] for c in commands}
    assert entries == {"6300": "created", "6301": "created", "6302": "created", "6303": "failed"}
    results = await rig.results()
    assert sorted(by_deal(results, "DocumentCreated")) == ["6300", "6301", "6302"]
    assert by_deal(results, "DocumentFailed")["6303"]["code"] == "invalid_character"


async def test_drafts_over_xeros_limits_are_refused_before_any_call(rig: WriterRig) -> None:
    long_title = "T" * 101
    too_long = rig.quote("6400", title=long_title)
    too_big = rig.invoice("6401", line_items=(HOSTING.model_copy(update={"description": "d" * 3999}),) * 900)
    mark = rig.mark()
    await rig.writer().execute_batch([too_long, too_big])
    assert rig.state.requests[mark:] == []  # not even a look-up

    fine = rig.quote("6402")
    await rig.writer().execute_batch([rig.quote("6400", title=long_title), fine])
    assert [q["Title"] for q in rig.quotes()] == [fine.title]
    assert all(long_title not in json.dumps(r.json) for r in rig.state.requests)
    results = await rig.results()
    failures = [m for m in results if m["type"] == "DocumentFailed"]  # in order per deal
    assert [(m["deal_id"], m["code"]) for m in failures if m["deal_id"] == "6400"] == [("6400", "too_long")] * 2
    title, size = (next(m for m in failures if m["deal_id"] == deal) for deal in ("6400", "6401"))
    assert "Xero accepts at most 100" in title["message"] and "Field mappings > Quote title" in title["fix"]
    assert size["code"] == "document_too_large" and "3.5 MB" in size["message"]
    assert types(results).count("DocumentCreated") == 1


async def test_numbers_are_sent_as_json_numbers_with_their_decimals(rig: WriterRig) -> None:
    retainer = LineItem(description="Retainer", quantity=Decimal("2.5"), unit_amount=Decimal("0.3333"),
                        account_code="200", tax_rate=Decimal("15"), discount_rate=Decimal("12.5"))
    audit = LineItem(description="Website audit", quantity=Decimal("1"), unit_amount=Decimal("480.0050"),
                     item_code="WEB-AUDIT", tax_rate=Decimal("15"), unmatched="create_item",
                     create_item=NewItem(code="WEB-AUDIT", name="Website audit", unit_price=Decimal("480.0050"),
                                         account_code="260", tax_type="OUTPUT2"))
    await rig.writer().execute_batch([rig.invoice("6500", line_items=(retainer, audit)),
                                      rig.quote("6501", line_items=(retainer,))])

    [put] = rig.calls("PUT", "Invoices")
    sent = put.json["Invoices"][0]["LineItems"]
    assert [(type(v), repr(v)) for v in (sent[0]["Quantity"], sent[0]["UnitAmount"], sent[0]["DiscountRate"],
                                         sent[1]["UnitAmount"])] == [
        (float, "2.5"), (float, "0.3333"), (float, "12.5"), (float, "480.005")]
    [item_put] = rig.calls("PUT", "Items")
    assert item_put.json["Items"][0]["SalesDetails"]["UnitPrice"] == 480.005
    [invoice] = rig.invoices()
    assert invoice["LineItems"][0]["UnitAmount"] == 0.3333 and invoice["LineItems"][0]["LineAmount"] == 0.73
    assert [q["LineItems"][0]["Quantity"] for q in rig.quotes()] == [2.5]
    assert types(await rig.results()) == ["DocumentCreated", "DocumentCreated"]
    assert_bodies_follow_the_spec(rig)


@pytest.mark.parametrize(("request_bytes", "statuses"), [
    (None, [(200, ["6600", "6601"]), (200, ["6602"])]),  # sized to fit from the start
    (10_000_000, [(413, ["6600", "6601", "6602"]), (200, ["6600"]), (200, ["6601", "6602"])]),  # Xero said 413
])
async def test_a_request_too_large_for_xero_is_split(rig: WriterRig, request_bytes: int | None,
                                                     statuses: list) -> None:
    long_lines = (HOSTING.model_copy(update={"description": "Managed hosting " + "x" * 3880}),) * 300
    commands = [rig.invoice(deal, line_items=long_lines) for deal in ("6600", "6601", "6602")]
    writer = rig.writer()
    if request_bytes:
        writer.request_bytes = request_bytes  # believes Xero takes more than it does
    await writer.execute_batch(commands)

    assert puts(rig) == statuses
    assert sorted(deal_of(i) for i in rig.invoices()) == ["6600", "6601", "6602"]
    assert types(await rig.results()) == ["DocumentCreated"] * 3


async def test_odd_customer_names_are_found_or_created_without_failing_the_others(rig: WriterRig) -> None:
    quoted = await rig.seed_contact(Name='Say "hi" Ltd')
    slashed = await rig.seed_contact(Name="Back\\slash & Co+")
    names = {"6700": 'Say "hi" Ltd', "6701": "Back\\slash & Co+", "6702": "Ōtaki Café 東京",
             "6703": "東" * 255, "6704": KOWHAI.name}
    odd_code = WORKSHOP.model_copy(update={"item_code": 'PD "7"\\b'})  # no such item: a description-only line
    commands = [rig.invoice(deal, contact=Contact(name=name, contact_number=f"pd-org-{deal}", source="organization",
                                                  source_id=deal), line_items=(odd_code, WORKSHOP))
                for deal, name in names.items()]
    mark = rig.mark()
    await rig.writer().execute_batch(commands)

    assert all(r.status < 400 for r in rig.state.requests[mark:])
    assert rig.calls("GET", "Items", mark)[0].query["where"] == 'Code=="CONSULT-HR" OR Code=="PD ""7""\\b"'
    assert {tuple(li.get("ItemCode") for li in i["LineItems"]) for i in rig.invoices()} == {(None, "CONSULT-HR")}
    contact_of = {deal_of(i): i["Contact"]["ContactID"] for i in rig.invoices()}
    assert sorted(contact_of) == sorted(names)
    assert (contact_of["6700"], contact_of["6701"]) == (quoted["ContactID"], slashed["ContactID"])
    assert sorted(c["Name"] for c in rig.contacts()) == sorted(names.values())  # found, not created twice
    assert types(await rig.results()) == ["DocumentCreated"] * 5
