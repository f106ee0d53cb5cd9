"""The master-data sync as ``bootstrap.py`` wires the mapper, on the real broker and store, reading records from the
Pipedrive sandbox: person, organisation and product events (as the gateway publishes them on ``RECORD_EVENTS``) come
out as ``SyncRecords`` on the commands topic, coalesced (50 edits of one organisation: one read, one contact, as it is
now), deleted records dropped, nothing for a company that switched updates off, companies kept apart; a company
whose Pipedrive is disconnected keeps its changes until it reconnects; a record that cannot be sent is explained in
``record_syncs`` for the settings page."""

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaProducer
from cryptography.fernet import Fernet

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.connections import ConnectionStore
from pdx_common.contracts import RecordChanged, SyncRecords
from pdx_common.crypto import TokenCipher
from pdx_devstack.seed import PD_CLIENT, connect_pipedrive
from pdx_mapper.adapters.record_changes import MongoRecordChanges
from pdx_mapper.bootstrap import create_app
from pdx_mapper.settings import MapperSettings
from pdx_sandbox.faults import Fault
from pdx_sandbox.pipedrive import PipedriveState
from pdx_sandbox.pipedrive import create_app as pipedrive_app
from tests.e2e.helpers import eventually
from tests.kafka_helpers import read_until

wait_until = partial(eventually, every=0.05)
ORG_KIWI, PRODUCT_CONSULT, PRODUCT_WIDGET, PRODUCT_SUPPORT = 101, 301, 302, 303
DELAY = 3.0  # long enough for 50 events to be counted before their record is due
RECONNECT_WAIT = 4.0  # while a company's Pipedrive is disconnected (10 minutes in production)


@dataclass
class Company:
    company_id: str
    pd: PipedriveState

    def gets(self, path: str) -> int:
        return sum(1 for r in self.pd.requests if r["method"] == "GET" and r["path"] == path)


@dataclass
class SyncRig:
    companies: list[Company]
    bootstrap: str
    producer: AIOKafkaProducer
    db: object
    start_mapper: Callable[[], Awaitable[TestServer]]
    mapper: TestServer
    sent: dict[str, int] = field(default_factory=dict)  # events published per company

    async def restart(self) -> None:
        """The mapper stops (finishing its round) and a new one starts on the same store and broker."""
        await self.mapper.close()
        self.mapper = await self.start_mapper()

    async def changed(self, company: Company, entity: str, entity_id: int, action: str = "change",
                      times: int = 1) -> None:
        """``times`` events for the record, as the gateway publishes Pipedrive's webhooks (keyed by company)."""
        for _ in range(times):
            event = RecordChanged(company_id=company.company_id, entity=entity, entity_id=str(entity_id),
                                  action=action, event_id=uuid.uuid4().hex, change_source="app")
            await self.producer.send_and_wait(topics.RECORD_EVENTS, event.model_dump_json().encode(),
                                              key=topics.company_key(company.company_id))
        self.sent[company.company_id] = self.sent.get(company.company_id, 0) + times

    async def synced(self, company: Company) -> list[dict]:
        """Every SyncRecords the mapper published for the company once its events are all counted (their entries
        wait the delay) and then handled: read up to a marker sent after them on the company's partition, so none
        means none."""
        await self.settle()
        marker = SyncRecords(company_id=company.company_id)
        await self.producer.send_and_wait(topics.XERO_COMMANDS, marker.model_dump_json().encode(),
                                          key=topics.company_key(company.company_id))
        seen = await read_until(self.bootstrap, topics.XERO_COMMANDS,
                                lambda found: any(m["id"] == marker.id for m in found),
                                match=lambda m: m.get("company_id") == company.company_id)
        assert any(m["id"] == marker.id for m in seen), "the marker never came back"
        return [m for m in seen if m["id"] != marker.id]

    async def settle(self) -> None:
        """Every company's events counted (each record's entry waits the delay), then every entry handled."""
        pending = [company_id for company_id, sent in self.sent.items() if sent]
        for company_id in pending:
            await wait_until(partial(self._counted, company_id))
        for company_id in pending:
            await wait_until(partial(self._settled, company_id))
            self.sent[company_id] = 0

    async def _counted(self, company_id: str) -> bool:
        entries = await self.db.record_changes.find({"company_id": company_id}).to_list()
        return sum(e["touches"] for e in entries) >= self.sent.get(company_id, 0)  # a redelivery counts again

    async def _settled(self, company_id: str) -> bool:
        return await self.db.record_changes.count_documents({"company_id": company_id}) == 0


async def _company(stack: AsyncExitStack, mongo_db, key: str, settings: CompanySettings) -> Company:
    pd = PipedriveState(company_id=random.randint(10**6, 10**9))
    server = TestServer(pipedrive_app(pd), host="127.0.0.1")
    await server.start_server()
    stack.push_async_callback(server.close)
    pd.base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        company_id = (await connect_pipedrive(session, ConnectionStore(mongo_db, TokenCipher(key)), pd.base_url))[
            "company_id"]
    await mongo_db.company_settings.insert_one({"_id": company_id, **settings.model_dump(mode="json")})
    return Company(company_id, pd)


RigFactory = Callable[..., Awaitable[SyncRig]]


@pytest.fixture
async def make_rig(infra, mongo_db) -> AsyncIterator[RigFactory]:
    """``await make_rig(settings_a, settings_b, ...)``: one sandbox company per settings, one mapper for all."""
    async with AsyncExitStack() as stack:
        async def make(*settings: CompanySettings) -> SyncRig:
            key = Fernet.generate_key().decode()
            companies = [await _company(stack, mongo_db, key, s) for s in settings]
            mapper_settings = MapperSettings(
                kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url, mongo_db=mongo_db.name,
                log_json=True, token_key=key, pipedrive_token_url=f"{companies[0].pd.base_url}/oauth/token",
                pipedrive_client_id=PD_CLIENT[0], pipedrive_client_secret=PD_CLIENT[1],
                kafka_session_timeout_ms=2000, kafka_heartbeat_interval_ms=500,
                record_sync_delay_seconds=DELAY, record_sync_poll_seconds=0.1,
                record_sync_reconnect_wait_seconds=RECONNECT_WAIT)

            async def start_mapper() -> TestServer:
                mapper = TestServer(create_app(mapper_settings), host="127.0.0.1")
                await mapper.start_server()
                stack.push_async_callback(mapper.close)  # closing twice is harmless
                return mapper

            producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
            await producer.start()
            stack.push_async_callback(producer.stop)
            return SyncRig(companies, infra.kafka_bootstrap, producer, mongo_db, start_mapper, await start_mapper())

        yield make


def address(number: int) -> dict:
    return {"street_number": str(number), "route": "Queen Street", "locality": "Auckland",
            "admin_area_level_1": "Auckland", "postal_code": "1010", "country": "New Zealand"}


async def test_fifty_edits_of_one_organisation_are_one_read_and_one_contact_as_it_is_now(make_rig):
    rig = await make_rig(CompanySettings())
    [kiwi] = rig.companies
    for number in range(1, 51):  # a user editing the address 50 times; each edit is one webhook
        kiwi.pd.change_record("organization", ORG_KIWI, {"address": address(number)})
    await rig.changed(kiwi, "organization", ORG_KIWI, times=50)

    [command] = await rig.synced(kiwi)
    assert (command["type"], command["items"]) == ("SyncRecords", [])
    [contact] = command["contacts"]
    assert contact["fields"] == ["Name", "Addresses"] and contact["create"] is False
    assert contact["contact"]["contact_number"] == "pd-org-101"
    assert contact["contact"]["name"] == "Kiwi Widgets Ltd"
    assert contact["contact"]["postal"] == {"line1": "50 Queen Street", "line2": None, "city": "Auckland",
                                            "region": "Auckland", "postal_code": "1010", "country": "New Zealand"}
    assert kiwi.gets(f"/api/v2/organizations/{ORG_KIWI}") == 1


async def test_deleted_products_are_dropped_and_the_changed_one_carries_its_prices(make_rig):
    rig = await make_rig(CompanySettings.model_validate({"money": {"tax_types": {"15": "OUTPUT2"}}}))
    [kiwi] = rig.companies
    kiwi.pd.change_record("product", PRODUCT_CONSULT, {"prices": [{"currency": "NZD", "price": 200}]})
    await rig.changed(kiwi, "product", PRODUCT_CONSULT)
    kiwi.pd.remove_record("product", PRODUCT_WIDGET)  # deleted, and its delete webhook arrives after an edit's
    await rig.changed(kiwi, "product", PRODUCT_WIDGET)
    await rig.changed(kiwi, "product", PRODUCT_WIDGET, "delete")
    kiwi.pd.remove_record("product", PRODUCT_SUPPORT)  # deleted, its delete webhook not here yet: Pipedrive says 404
    await rig.changed(kiwi, "product", PRODUCT_SUPPORT)

    [command] = await rig.synced(kiwi)
    [item] = command["items"]
    assert item["item"] | {"description": None} == {
        "code": "CONSULT-HR", "name": "HR consulting (hour)", "description": None, "unit_price": None,
        "account_code": "200", "tax_type": "OUTPUT2"}
    assert (item["prices"], item["product_id"], item["create"]) == ({"NZD": "200"}, "301", False)
    assert kiwi.gets(f"/api/v2/products/{PRODUCT_WIDGET}") == 0  # dropped unread
    assert kiwi.gets(f"/api/v2/products/{PRODUCT_SUPPORT}") == 1


async def test_a_company_with_updates_off_gets_nothing_and_its_changes_are_dropped(make_rig):
    off = CompanySettings.model_validate({"sync": {"update_xero": False}})
    rig = await make_rig(off)
    [kiwi] = rig.companies
    await rig.changed(kiwi, "organization", ORG_KIWI, times=3)
    await rig.changed(kiwi, "product", PRODUCT_WIDGET)

    assert await rig.synced(kiwi) == []
    assert kiwi.gets(f"/api/v2/organizations/{ORG_KIWI}") == 0


async def test_created_records_are_sent_to_be_created_when_the_company_creates_on_add(make_rig):
    rig = await make_rig(CompanySettings.model_validate({"sync": {"update_xero": False, "create_on_add": True}}))
    [kiwi] = rig.companies
    person = kiwi.pd.create_record("person", {"name": "Hemi Walker", "emails": [{"value": "hemi@example.com",
                                                                                  "primary": True}]})
    await rig.changed(kiwi, "person", person["id"], "create")
    await rig.changed(kiwi, "organization", ORG_KIWI)  # an edit: updates are off

    [command] = await rig.synced(kiwi)
    [contact] = command["contacts"]
    assert (contact["contact"]["contact_number"], contact["contact"]["email"], contact["create"]) == (
        f"pd-person-{person['id']}", "hemi@example.com", True)


async def test_two_companies_get_their_own_records_each_keyed_by_company(make_rig):
    rig = await make_rig(CompanySettings(), CompanySettings())
    first, second = rig.companies
    first.pd.change_record("organization", ORG_KIWI, {"name": "Kiwi Widgets (first)"})
    second.pd.change_record("organization", ORG_KIWI, {"name": "Kiwi Widgets (second)"})
    await rig.changed(first, "organization", ORG_KIWI, times=2)
    await rig.changed(second, "organization", ORG_KIWI, times=2)

    for company, name in ((first, "Kiwi Widgets (first)"), (second, "Kiwi Widgets (second)")):
        [command] = await rig.synced(company)
        assert [c["contact"]["name"] for c in command["contacts"]] == [name]
        assert company.gets(f"/api/v2/organizations/{ORG_KIWI}") == 1


async def test_changes_counted_before_a_restart_are_synced_by_the_next_mapper(make_rig):
    rig = await make_rig(CompanySettings())
    [kiwi] = rig.companies
    kiwi.pd.change_record("organization", ORG_KIWI, {"address": address(77)})
    await rig.changed(kiwi, "organization", ORG_KIWI, times=5)
    await wait_until(partial(rig._counted, kiwi.company_id))
    await rig.restart()  # before the record is due: the entry waits in the store, not in the stopped mapper

    [command] = await rig.synced(kiwi)
    assert [c["contact"]["postal"]["line1"] for c in command["contacts"]] == ["77 Queen Street"]


async def test_the_store_s_entries_lease_once_and_an_edit_during_a_sync_keeps_its_entry(mongo_db):
    changes = MongoRecordChanges(mongo_db)
    await changes.ensure_indexes()
    now = datetime.now(UTC).replace(microsecond=0)  # the store keeps milliseconds
    delay, lease = timedelta(seconds=60), timedelta(minutes=5)
    first = RecordChanged(company_id="7001", entity="organization", entity_id="101", action="create", event_id="a")
    await changes.note(first, now, delay)
    await changes.note(first.model_copy(update={"event_id": "b", "action": "change"}), now + delay / 2, delay)
    assert await changes.due_companies(now + delay / 2) == []  # a later event never postpones, nor hastens
    [entry] = await changes.take("7001", "lease-1", now + delay, lease, 50)
    assert (entry["touches"], entry["created"], entry["due_at"]) == (2, True, now + delay)
    assert await changes.take("7001", "lease-2", now + delay, lease, 50) == []  # leased once
    await changes.note(first.model_copy(update={"event_id": "c", "action": "change"}), now + delay, delay)

    assert await changes.finish("lease-1", [entry], now + delay, delay) == 0  # touched meanwhile: kept
    [kept] = await mongo_db.record_changes.find({}).to_list()
    assert (kept["touches"], kept["due_at"], "lease_id" in kept) == (3, now + 2 * delay, False)
    [again] = await changes.take("7001", "lease-3", now + 2 * delay, lease, 50)
    assert await changes.finish("lease-3", [again], now + 2 * delay, delay) == 1
    assert await mongo_db.record_changes.count_documents({}) == 0


async def _connect_xero(db, company: Company, tenant_id: str = "tenant-int") -> None:
    """The company's Xero connection as the gateway stores it (only its tenant matters here)."""
    await db.connections.insert_one({"_id": f"xero:{company.company_id}", "system": "xero",
                                     "company_id": company.company_id, "tenant_id": tenant_id, "status": "ok"})


async def _entry(db, company: Company, entity: str, entity_id: int) -> dict | None:
    return await db.record_changes.find_one({"_id": f"{company.company_id}:{entity}:{entity_id}"})


async def test_changes_of_a_company_whose_pipedrive_is_disconnected_wait_and_a_reconnect_sends_them(make_rig):
    rig = await make_rig(CompanySettings())
    [kiwi] = rig.companies
    pipedrive = {"_id": f"pipedrive:{kiwi.company_id}"}
    await rig.db.connections.update_one(pipedrive, {"$set": {"status": "broken", "broken_reason": "revoked"}})
    kiwi.pd.change_record("organization", ORG_KIWI, {"address": address(88)})
    await rig.changed(kiwi, "organization", ORG_KIWI)

    async def put_off() -> bool:  # due, found Pipedrive gone, and due again a longer wait later (not dropped)
        entry = await _entry(rig.db, kiwi, "organization", ORG_KIWI)
        return entry is not None and entry["due_at"] >= entry["first_event_at"] + timedelta(seconds=2 * DELAY)

    await wait_until(put_off)
    assert kiwi.gets(f"/api/v2/organizations/{ORG_KIWI}") == 0

    await rig.db.connections.update_one(pipedrive, {"$set": {"status": "ok"}, "$unset": {"broken_reason": ""}})
    [command] = await rig.synced(kiwi)  # entries settle only once sent
    assert [c["contact"]["postal"]["line1"] for c in command["contacts"]] == ["88 Queen Street"]
    assert await rig.db.record_syncs.count_documents({"company_id": kiwi.company_id}) == 0


async def test_records_that_cannot_be_sent_are_explained_for_the_settings_page_until_they_are_sent(make_rig):
    rig = await make_rig(CompanySettings.model_validate({"sync": {"create_on_add": True}}))
    [kiwi] = rig.companies
    await _connect_xero(rig.db, kiwi)
    refusal = Fault(status=403, paths=[f"/api/v2/organizations/{ORG_KIWI}"], methods=["GET"])
    kiwi.pd.faults.add(refusal)  # the installing user may not see this organisation (visibility)
    kiwi.pd.change_record("product", PRODUCT_WIDGET, {"code": None})
    await rig.changed(kiwi, "organization", ORG_KIWI)
    await rig.changed(kiwi, "product", PRODUCT_WIDGET)

    assert await rig.synced(kiwi) == []
    notes = {doc["_id"]: doc async for doc in rig.db.record_syncs.find({"company_id": kiwi.company_id})}
    at = {key: notes[key].pop("at") for key in notes}
    company = kiwi.company_id
    assert notes == {
        f"{company}:tenant-int:contact:pd-org-{ORG_KIWI}": {
            "_id": f"{company}:tenant-int:contact:pd-org-{ORG_KIWI}", "company_id": company,
            "tenant_id": "tenant-int", "kind": "contact", "key": f"pd-org-{ORG_KIWI}", "name": None,
            "state": "failed", "code": "pipedrive_refused",
            "message": "Pipedrive did not let the app read this organisation (403), so its change was not sent to "
                       "Xero.",
            "fix": "Give the user who installed the app access to this organisation in Pipedrive (visibility), then "
                   "save a change to it.", "xero_id": None},
        f"{company}:tenant-int:item:pd-product-{PRODUCT_WIDGET}": {
            "_id": f"{company}:tenant-int:item:pd-product-{PRODUCT_WIDGET}", "company_id": company,
            "tenant_id": "tenant-int", "kind": "item", "key": f"pd-product-{PRODUCT_WIDGET}", "name": "Widget",
            "state": "failed", "code": "no_code",
            "message": "The product 'Widget' has no code in Pipedrive, so it cannot be a Xero item.",
            "fix": "Give the product a code in Pipedrive; the change is then sent to Xero.", "xero_id": None}}
    assert all(isinstance(value, datetime) for value in at.values())

    kiwi.pd.faults.clear()  # access given, a code given: the next changes are sent and the notes go
    kiwi.pd.change_record("product", PRODUCT_WIDGET, {"code": "WIDGET-01"})
    await rig.changed(kiwi, "organization", ORG_KIWI)
    await rig.changed(kiwi, "product", PRODUCT_WIDGET)
    commands = await rig.synced(kiwi)  # one or two, as the two records fall due in one round or two
    assert ([c["contact"]["contact_number"] for m in commands for c in m["contacts"]],
            [i["item"]["code"] for m in commands for i in m["items"]]) == ([f"pd-org-{ORG_KIWI}"], ["WIDGET-01"])
    assert await rig.db.record_syncs.count_documents({"company_id": company}) == 0


async def test_a_linked_product_that_lost_its_code_is_explained_and_without_xero_nothing_is_noted(make_rig):
    rig = await make_rig(CompanySettings(), CompanySettings())
    linked, unconnected = rig.companies
    await _connect_xero(rig.db, linked)
    await rig.db.xero_links.insert_many([  # items keyed by their codes as they were
        {"_id": f"{linked.company_id}:tenant-int:item:widget-01", "company_id": linked.company_id,
         "tenant_id": "tenant-int", "kind": "item", "key": "widget-01", "xero_id": "item-1", "name": "Widget",
         "synced": {"Name": "Widget"}},  # made by a draft: known by its name
        {"_id": f"{linked.company_id}:tenant-int:item:sup-yr", "company_id": linked.company_id,
         "tenant_id": "tenant-int", "kind": "item", "key": "sup-yr", "xero_id": "item-2", "name": "Old name",
         "product_id": str(PRODUCT_SUPPORT)}])  # synced before: the writer marked its product
    for company in (linked, unconnected):
        for product_id in (PRODUCT_WIDGET, PRODUCT_SUPPORT, PRODUCT_CONSULT):  # consulting never was an item
            company.pd.change_record("product", product_id, {"code": None})
            await rig.changed(company, "product", product_id)

    for company in (linked, unconnected):
        assert await rig.synced(company) == []
    keys = sorted([doc["_id"] async for doc in rig.db.record_syncs.find(
        {"company_id": {"$in": [linked.company_id, unconnected.company_id]}})])
    assert keys == [f"{linked.company_id}:tenant-int:item:pd-product-{PRODUCT_WIDGET}",
                    f"{linked.company_id}:tenant-int:item:pd-product-{PRODUCT_SUPPORT}"]
