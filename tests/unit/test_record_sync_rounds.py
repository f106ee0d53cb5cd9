"""The master-data sync's use case with fakes: which due records a round reads, what it publishes, and which
entries it drops, keeps for later or leaves for the next round. The real store and broker: the integration tests."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import RecordChanged, SyncRecords
from pdx_common.http import ApiError, ConnectionMissing
from pdx_mapper.adapters.record_changes import entry_id
from pdx_mapper.adapters.record_syncs import Note
from pdx_mapper.entrypoints.record_sync_loop import loop_context, run_forever
from pdx_mapper.record_sync import RecordSync, SyncOptions

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DELAY = timedelta(seconds=60)
KEY = "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"  # a custom field's 40-hex key


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeChanges:
    """``MongoRecordChanges`` in memory (no leases lapse within a test)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    async def note(self, event: RecordChanged, now: datetime, delay: timedelta) -> None:
        key = entry_id(event.company_id, event.entity, event.entity_id)
        entry = self.entries.setdefault(key, {"_id": key, "company_id": event.company_id, "entity": event.entity,
                                              "entity_id": event.entity_id, "due_at": now + delay, "touches": 0,
                                              "lease_id": None})
        entry["touches"] += 1
        if event.action == "create":
            entry["created"] = True
        if event.action == "delete":
            entry["deleted"] = True

    async def due_companies(self, now: datetime) -> list[str]:
        due = sorted((e for e in self.entries.values() if e["due_at"] <= now and e["lease_id"] is None),
                     key=lambda e: e["due_at"])
        return list(dict.fromkeys(e["company_id"] for e in due))

    async def take(self, company_id: str, lease_id: str, now: datetime, lease: timedelta,
                   per_kind: int) -> list[dict[str, Any]]:
        taken = []
        for kinds in (("person", "organization"), ("product",)):
            due = [e for e in self.entries.values() if e["company_id"] == company_id and e["entity"] in kinds
                   and e["due_at"] <= now and e["lease_id"] is None][:per_kind]
            for entry in due:
                entry["lease_id"] = lease_id
            taken += [dict(e) for e in due]
        return taken

    async def finish(self, lease_id: str, entries: list[dict[str, Any]], now: datetime, delay: timedelta) -> int:
        deleted = [e["_id"] for e in entries if self.entries.get(e["_id"], {}).get("touches") == e["touches"]]
        for key in deleted:
            del self.entries[key]
        await self.release(lease_id, [e["_id"] for e in entries], now + delay)
        return len(deleted)

    async def release(self, lease_id: str, ids: list[str], due_at: datetime) -> None:
        for key in ids:
            if key in self.entries and self.entries[key]["lease_id"] == lease_id:
                self.entries[key].update(due_at=due_at, lease_id=None)

    async def postpone(self, company_id: str, lease_id: str, now: datetime, due_at: datetime) -> int:
        waiting = [e for e in self.entries.values() if e["company_id"] == company_id and e["due_at"] <= now
                   and e["lease_id"] in (lease_id, None)]
        for entry in waiting:
            entry.update(due_at=due_at, lease_id=None)
        return len(waiting)


class FakeOutcomes:
    """``MongoRecordOutcomes`` in memory: the companies' Xero organisations, item links' names and the notes."""

    def __init__(self) -> None:
        self.tenants: dict[str, str] = {"7001": "tenant-1", "7002": "tenant-2"}
        self.item_links: set[tuple[str, str, str]] = set()  # (company, tenant, product id or name) of item links
        self.notes: dict[tuple[str, str, str, str], Note] = {}  # (company, tenant, kind, key lower)

    async def tenant(self, company_id: str) -> str | None:
        return self.tenants.get(company_id)

    async def item_linked(self, company_id: str, tenant_id: str, product_id: str, name: str | None) -> bool:
        return bool({(company_id, tenant_id, product_id), (company_id, tenant_id, name)} & self.item_links)

    async def failed(self, company_id: str, tenant_id: str, notes: list[Note], now: datetime) -> None:
        for note in notes:
            self.notes[(company_id, tenant_id, note.kind, note.key.lower())] = note

    async def clear(self, company_id: str, tenant_id: str, kind: str, keys: list[str]) -> int:
        gone = [k for k in self.notes if k[:3] == (company_id, tenant_id, kind) and k[3] in {x.lower() for x in keys}]
        for key in gone:
            del self.notes[key]
        return len(gone)

    def texts(self, company_id: str = "7001") -> dict[tuple[str, str], tuple[str | None, str, str, str]]:
        return {(kind, key): (n.name, n.code, n.message, n.fix)
                for (company, _, kind, key), n in self.notes.items() if company == company_id}


class FakeSettings:
    def __init__(self, **by_company: CompanySettings) -> None:
        self.by_company = by_company

    async def get(self, company_id: str) -> CompanySettings:
        return self.by_company.get(company_id, CompanySettings())


class FakeReader:
    """Pipedrive's records by (company, entity, id); an exception stands for how Pipedrive answered."""

    def __init__(self, records: dict[tuple[str, str, str], Any]) -> None:
        self.records, self.reads, self.field_reads = records, [], []

    async def record(self, company_id: str, entity: str, entity_id: str) -> dict[str, Any] | None:
        self.reads.append((company_id, entity, entity_id))
        found = self.records.get((company_id, entity, entity_id))
        if isinstance(found, Exception):
            raise found
        return found

    async def fields(self, company_id: str, entity: str) -> list[dict[str, Any]]:
        self.field_reads.append((company_id, entity))
        return [{"field_name": "GST number", "field_code": KEY}]


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, SyncRecords, bytes]] = []

    async def publish(self, message, topic: str, key: bytes) -> None:
        self.published.append((topic, message, key))


def org(org_id: int, name: str = "Kiwi Widgets Ltd", **extra: Any) -> dict[str, Any]:
    return {"id": org_id, "name": name, "address": None, "custom_fields": {}, **extra}


def product(product_id: int, code: str | None = "WIDGET-01") -> dict[str, Any]:
    return {"id": product_id, "name": "Widget", "code": code, "tax": 15, "prices": [{"currency": "NZD", "price": 25}]}


def event(company: str, entity: str, entity_id: int, action: str = "change") -> RecordChanged:
    return RecordChanged(company_id=company, entity=entity, entity_id=str(entity_id), action=action,
                         event_id=f"e-{company}-{entity}-{entity_id}-{action}")


def rig(records: dict, **settings: CompanySettings) -> tuple[RecordSync, FakeChanges, FakeReader, FakePublisher,
                                                              Clock]:
    changes, reader, publisher, clock = FakeChanges(), FakeReader(records), FakePublisher(), Clock()
    sync = RecordSync(changes, FakeSettings(**settings), reader, publisher, FakeOutcomes(), SyncOptions(delay=DELAY),
                      clock)
    return sync, changes, reader, publisher, clock


async def test_fifty_edits_of_one_organisation_are_one_read_and_one_contact_after_the_delay():
    sync, changes, reader, publisher, clock = rig({("7001", "organization", "101"): org(101)})
    for _ in range(50):
        await sync.note(event("7001", "organization", 101))
    assert await sync.run_round() is False and publisher.published == []  # not due yet
    clock.now += DELAY
    await sync.run_round()
    [(topic, command, key)] = publisher.published
    assert (topic, key) == (topics.XERO_COMMANDS, topics.company_key("7001"))
    assert [c.contact.contact_number for c in command.contacts] == ["pd-org-101"] and command.items == ()
    assert reader.reads == [("7001", "organization", "101")] and changes.entries == {}


async def test_later_edits_never_postpone_the_sync():
    sync, _, _, publisher, clock = rig({("7001", "organization", "101"): org(101)})
    await sync.note(event("7001", "organization", 101))
    clock.now += DELAY - timedelta(seconds=1)
    await sync.note(event("7001", "organization", 101))
    clock.now += timedelta(seconds=1)
    await sync.run_round()
    assert len(publisher.published) == 1


async def test_a_company_s_batch_holds_at_most_fifty_contacts_and_fifty_items():
    records = {("7001", "organization", str(n)): org(n) for n in range(1, 61)}
    records |= {("7001", "product", str(n)): product(n, f"P-{n}") for n in range(1, 56)}
    sync, changes, _, publisher, clock = rig(records)
    for company, entity, entity_id in records:
        await sync.note(event(company, entity, int(entity_id)))
    clock.now += DELAY
    assert await sync.run_round() is True  # a full batch: more may be due at once
    assert await sync.run_round() is False
    assert [(len(c.contacts), len(c.items)) for _, c, _ in publisher.published] == [(50, 50), (10, 5)]
    assert changes.entries == {}


async def test_a_deleted_record_is_dropped_unread_and_a_record_gone_from_pipedrive_is_dropped():
    sync, changes, reader, publisher, clock = rig({("7001", "product", "302"): None,
                                                    ("7001", "organization", "101"): org(101)})
    await sync.note(event("7001", "organization", 101))
    await sync.note(event("7001", "organization", 101, "delete"))
    await sync.note(event("7001", "product", 302))
    clock.now += DELAY
    await sync.run_round()
    assert reader.reads == [("7001", "product", "302")]
    assert publisher.published == [] and changes.entries == {}


async def test_with_update_xero_off_nothing_is_read_or_published():
    off = CompanySettings.model_validate({"sync": {"update_xero": False}})
    sync, changes, reader, publisher, clock = rig({("7001", "organization", "101"): org(101)}, **{"7001": off})
    await sync.note(event("7001", "organization", 101, "create"))
    clock.now += DELAY
    await sync.run_round()
    assert (reader.reads, publisher.published, changes.entries) == ([], [], {})


async def test_with_update_xero_off_and_create_on_add_only_new_records_are_sent_to_be_created():
    company = CompanySettings.model_validate({"sync": {"update_xero": False, "create_on_add": True}})
    sync, changes, reader, publisher, clock = rig({("7001", "organization", "101"): org(101),
                                                    ("7001", "organization", "102"): org(102, "Tui Timber")},
                                                   **{"7001": company})
    await sync.note(event("7001", "organization", 101))
    await sync.note(event("7001", "organization", 102, "create"))
    await sync.note(event("7001", "organization", 102))
    clock.now += DELAY
    await sync.run_round()
    [(_, command, _)] = publisher.published
    assert [(c.contact.contact_number, c.create) for c in command.contacts] == [("pd-org-102", True)]
    assert reader.reads == [("7001", "organization", "102")] and changes.entries == {}


async def test_a_record_pipedrive_cannot_answer_for_now_waits_a_delay_and_the_others_go():
    sync, changes, _, publisher, clock = rig({
        ("7001", "organization", "101"): ApiError("pipedrive", 503, "busy", "/api/v2/organizations/101"),
        ("7001", "organization", "102"): org(102, "Tui Timber"),
        ("7001", "organization", "103"): ApiError("pipedrive", 403, "forbidden", "/api/v2/organizations/103")})
    for org_id in (101, 102, 103):
        await sync.note(event("7001", "organization", org_id))
    clock.now += DELAY
    await sync.run_round()
    [(_, command, _)] = publisher.published
    assert [c.contact.contact_number for c in command.contacts] == ["pd-org-102"]
    assert list(changes.entries) == ["7001:organization:101"]  # a refusal is noted, an outage waits
    assert changes.entries["7001:organization:101"]["due_at"] == clock.now + DELAY
    assert sync.outcomes.texts() == {("contact", "pd-org-103"): (
        None, "pipedrive_refused",
        "Pipedrive did not let the app read this organisation (403), so its change was not sent to Xero.",
        "Give the user who installed the app access to this organisation in Pipedrive (visibility), then save a "
        "change to it.")}


async def test_an_edit_while_the_record_syncs_keeps_its_entry_for_another_round():
    sync, changes, _, publisher, clock = rig({})

    class EditedMeanwhile(FakeReader):
        async def record(self, company_id, entity, entity_id):
            await sync.note(event("7001", "organization", 101))  # the webhook of an edit made just now
            return org(101)

    sync.reader = EditedMeanwhile({})
    await sync.note(event("7001", "organization", 101))
    clock.now += DELAY
    await sync.run_round()
    assert len(publisher.published) == 1
    assert changes.entries["7001:organization:101"]["due_at"] == clock.now + DELAY


async def test_a_company_without_pipedrive_keeps_its_entries_until_it_reconnects_and_other_companies_go_on():
    records = {("gone", "organization", "1"): ConnectionMissing("pipedrive", "gone"),
               ("7001", "product", "302"): product(302)}
    sync, changes, reader, publisher, clock = rig(records)
    for n in range(1, 61):  # more than a batch waits: all are put off at once
        await sync.note(event("gone", "organization", n))
    await sync.note(event("7001", "product", 302))
    clock.now += DELAY
    await sync.run_round()
    await sync.run_round()
    assert [(c.company_id, len(c.items)) for _, c, _ in publisher.published] == [("7001", 1)]
    assert len(changes.entries) == 60
    assert {e["due_at"] for e in changes.entries.values()} == {clock.now + timedelta(minutes=10)}
    assert reader.reads.count(("gone", "organization", "1")) == 1

    clock.now += timedelta(minutes=10)  # reconnected: the same entries are read and sent
    records |= {("gone", "organization", str(n)): org(n) for n in range(1, 61)}
    await sync.run_round()
    await sync.run_round()
    assert [(c.company_id, len(c.contacts)) for _, c, _ in publisher.published[1:]] == [("gone", 50), ("gone", 10)]
    assert changes.entries == {}


async def test_the_wait_for_a_reconnect_is_never_shorter_than_the_delay():
    sync, changes, _, _, clock = rig({("gone", "organization", "1"): ConnectionMissing("pipedrive", "gone")})
    sync.options = SyncOptions(delay=timedelta(hours=1))
    await sync.note(event("gone", "organization", 1))
    clock.now += timedelta(hours=1)
    await sync.run_round()
    assert changes.entries["gone:organization:1"]["due_at"] == clock.now + timedelta(hours=1)


async def test_a_nameless_organisation_is_noted_and_a_product_without_a_code_never_an_item_is_only_logged():
    sync, changes, _, publisher, clock = rig({("7001", "product", "304"): product(304, code=None),
                                              ("7001", "organization", "105"): org(105, name=" ")})
    await sync.note(event("7001", "product", 304))
    await sync.note(event("7001", "organization", 105))
    clock.now += DELAY
    await sync.run_round()
    assert publisher.published == [] and changes.entries == {}
    assert sync.outcomes.texts() == {("contact", "pd-org-105"): (
        None, "no_name", "This organisation has no name in Pipedrive, so it cannot be a Xero contact.",
        "Give the organisation a name in Pipedrive; the change is then sent to Xero.")}


NO_CODE = ("Widget", "no_code", "The product 'Widget' has no code in Pipedrive, so it cannot be a Xero item.",
           "Give the product a code in Pipedrive; the change is then sent to Xero.")


async def test_a_product_without_a_code_is_noted_when_products_are_created_on_add():
    company = CompanySettings.model_validate({"sync": {"create_on_add": True}})
    sync, changes, _, publisher, clock = rig({("7001", "product", "304"): product(304, code=" ")},
                                             **{"7001": company})
    await sync.note(event("7001", "product", 304, "create"))
    clock.now += DELAY
    await sync.run_round()
    assert publisher.published == [] and changes.entries == {}
    assert sync.outcomes.texts() == {("item", "pd-product-304"): NO_CODE}
    assert list(sync.outcomes.notes) == [("7001", "tenant-1", "item", "pd-product-304")]


@pytest.mark.parametrize("link", ["302", "Widget"], ids=["linked by the sync (product id)", "by a draft (name)"])
async def test_a_linked_product_that_lost_its_code_is_noted_and_the_note_goes_once_it_has_one_again(link):
    records = {("7001", "product", "302"): product(302, code=None)}
    sync, changes, _, publisher, clock = rig(records)
    sync.outcomes.item_links.add(("7001", "tenant-1", link))  # its Xero item, linked under its old code
    await sync.note(event("7001", "product", 302))
    clock.now += DELAY
    await sync.run_round()
    assert publisher.published == [] and sync.outcomes.texts() == {("item", "pd-product-302"): NO_CODE}

    records[("7001", "product", "302")] = product(302, code="WIDGET-02")
    await sync.note(event("7001", "product", 302))
    clock.now += DELAY
    await sync.run_round()
    [(_, command, _)] = publisher.published
    assert [i.item.code for i in command.items] == ["WIDGET-02"]
    assert sync.outcomes.texts() == {} and changes.entries == {}


async def test_a_refused_product_and_person_are_noted_and_a_later_read_removes_the_notes():
    records = {("7001", "product", "302"): ApiError("pipedrive", 403, "forbidden", "/api/v2/products/302"),
               ("7001", "person", "7"): ApiError("pipedrive", 400, "bad", "/api/v2/persons/7")}
    sync, _, _, publisher, clock = rig(records)
    await sync.note(event("7001", "product", 302))
    await sync.note(event("7001", "person", 7))
    clock.now += DELAY
    await sync.run_round()
    assert sync.outcomes.texts() == {
        ("item", "pd-product-302"): (
            None, "pipedrive_refused",
            "Pipedrive did not let the app read product 302 (403), so its change was not sent to Xero.",
            "Give the user who installed the app access to this product in Pipedrive (visibility), then save a "
            "change to it."),
        ("contact", "pd-person-7"): (
            None, "pipedrive_refused",
            "Pipedrive did not let the app read this person (400), so its change was not sent to Xero.",
            "Check that the person can be opened in Pipedrive by the user who installed the app, then save a "
            "change to it. If it fails again, tell your administrator.")}

    records |= {("7001", "product", "302"): product(302), ("7001", "person", "7"): org(7, "Hemi Walker")}
    await sync.note(event("7001", "product", 302))
    await sync.note(event("7001", "person", 7))
    clock.now += DELAY
    await sync.run_round()
    assert len(publisher.published) == 1 and sync.outcomes.texts() == {}


async def test_without_xero_connected_a_record_not_sent_is_only_logged(capsys):
    company = CompanySettings.model_validate({"sync": {"create_on_add": True}})
    sync, changes, _, _, clock = rig({("7003", "product", "304"): product(304, code=None)}, **{"7003": company})
    await sync.note(event("7003", "product", 304))
    clock.now += DELAY
    await sync.run_round()
    assert sync.outcomes.notes == {} and changes.entries == {}
    assert "Xero is not connected" in capsys.readouterr().out


async def test_field_definitions_are_read_only_for_a_tax_number_field_named_and_a_record_with_custom_values():
    by_name = CompanySettings.model_validate({"customer": {"tax_number_field": "GST number"}})
    records = {("7001", "organization", "101"): org(101, custom_fields={KEY: "123-456"}),
               ("7001", "person", "201"): {"id": 201, "name": "Aroha Ngata", "custom_fields": {}},
               ("7002", "organization", "101"): org(101, custom_fields={KEY: "999"})}
    by_key = CompanySettings.model_validate({"customer": {"tax_number_field": KEY}})
    sync, _, reader, publisher, clock = rig(records, **{"7001": by_name, "7002": by_key})
    for company, entity, entity_id in records:
        await sync.note(event(company, entity, int(entity_id)))
    clock.now += DELAY
    await sync.run_round()
    assert reader.field_reads == [("7001", "organization")]
    numbers = {(c.company_id, s.contact.contact_number): s.contact.tax_number
               for _, c, _ in publisher.published for s in c.contacts}
    assert numbers == {("7001", "pd-org-101"): "123-456", ("7001", "pd-person-201"): None,
                       ("7002", "pd-org-101"): "999"}


async def test_a_command_the_broker_refused_leaves_the_records_due_again_and_other_companies_go_on():
    sync, changes, _, publisher, clock = rig({("7001", "product", "302"): product(302),
                                              ("7002", "product", "302"): product(302)})

    class Refusing(FakePublisher):
        async def publish(self, message, topic: str, key: bytes) -> None:
            if message.company_id == "7001":
                raise ConnectionError("broker gone")
            await super().publish(message, topic, key)

    sync.publisher = publisher = Refusing()
    await sync.note(event("7001", "product", 302))
    await sync.note(event("7002", "product", 302))
    clock.now += DELAY
    await sync.run_round()
    assert [c.company_id for _, c, _ in publisher.published] == ["7002"]
    assert list(changes.entries) == ["7001:product:302"]
    assert changes.entries["7001:product:302"]["due_at"] == clock.now + DELAY


class SlowRounds:
    """Rounds that wait for ``release``; the first one fails when ``fail_first``."""

    def __init__(self, fail_first: bool = False) -> None:
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.rounds = self.finished = 0
        self.fail_first = fail_first

    async def run_round(self) -> bool:
        self.rounds += 1
        if self.fail_first and self.rounds == 1:
            raise RuntimeError("store gone")
        self.started.set()
        await self.release.wait()
        self.finished += 1
        return False


async def test_stopping_lets_the_round_in_flight_finish_and_never_cancels_it():
    rounds = SlowRounds()
    context = loop_context(lambda: rounds, 0.01)(None)
    await anext(context)  # the app runs
    await rounds.started.wait()
    stopping = asyncio.create_task(anext(context, None))  # the app stops while a round is in flight
    for _ in range(5):
        await asyncio.sleep(0)
    assert not stopping.done()  # waits for the round rather than cancelling it
    rounds.release.set()
    await stopping
    assert (rounds.rounds, rounds.finished) == (1, 1)


async def test_a_failed_round_is_logged_and_the_loop_goes_on():
    rounds, stop = SlowRounds(fail_first=True), asyncio.Event()
    rounds.release.set()
    task = asyncio.create_task(run_forever(rounds, 0.01, stop))
    await rounds.started.wait()
    stop.set()
    await task
    assert rounds.rounds >= 2 and rounds.finished >= 1
