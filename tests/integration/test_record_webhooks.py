"""Pipedrive's person, organisation and product webhooks through the gateway, on the real broker and store: one
RecordChanged per Pipedrive event, refusals that publish nothing, other objects ignored; the four webhooks of an
install; companies installed before get their record webhooks when the gateway starts (and from the CLI), without a
moment in which the deal webhook's events are refused; the round stops by finishing the company in flight."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_common import topics
from pdx_devstack.infra import free_port
from pdx_gateway import cli
from pdx_gateway.adapters.mongo import MongoSeenEvents, MongoWebhookCredentials
from pdx_gateway.bootstrap import create_app
from pdx_gateway.domain.webhook import PipedriveWebhook
from pdx_gateway.handlers import accept_record_webhook
from pdx_sandbox.faults import Fault
from pdx_sandbox.pipedrive import PipedriveState
from pdx_sandbox.pipedrive import create_app as pipedrive_app
from pdx_sandbox.xero import XeroState
from pdx_sandbox.xero import create_app as xero_app
from tests.integration.test_gateway_claims import RecordingPublisher
from tests.integration.test_gateway_webhooks import post
from tests.integration.test_gateway_webhooks import published_for as deals_up_to_sentinel
from tests.integration.test_gateway_webhooks import send_sentinel as send_deal_sentinel
from tests.integration.test_oauth_pipedrive import API_TOKEN, OAuthStack, oauth_settings, started
from tests.kafka_helpers import read_until

ORG, PERSON, PRODUCT = 101, 201, 301
RECORDS = ("person", "organization", "product")


def record_hook(company: str, entity: str, entity_id: str, *, action: str = "change", event_id: str | None = None,
                attempt: int = 1, data: dict | None = None, **meta) -> dict:
    body = {"meta": {"id": event_id or uuid.uuid4().hex, "action": action, "entity": entity, "entity_id": entity_id,
                     "company_id": company, "version": "2.0", "attempt": attempt, "change_source": "app",
                     "user_id": "12001", "timestamp": "2026-11-30T10:00:00Z", **meta},
            "data": data if data is not None else {"id": int(entity_id), "name": "Kiwi Widgets Ltd"},
            "previous": {"name": "Kiwi Widgets"}}
    if action == "delete":
        body["data"] = None
    return body


@pytest.fixture
async def company(mongo_db, run_id):
    company_id = str(int(run_id, 16) % 10**9)
    await MongoWebhookCredentials(mongo_db).set(company_id, "hook-user", "s3cret-password")
    return company_id


async def records_up_to(bootstrap: str, company: str, sentinel: str) -> list[dict]:
    """The company's record events up to the one with event id ``sentinel`` (keyed by company: one partition, so
    everything sent before it is in)."""
    return await read_until(bootstrap, topics.RECORD_EVENTS, lambda seen: any(m["event_id"] == sentinel for m in seen),
                            match=lambda m: m["company_id"] == company)


async def send_sentinel(gateway, company: str) -> str:
    event_id = f"sentinel-{uuid.uuid4().hex}"
    assert (await post(gateway, company, record_hook(company, "person", "999", event_id=event_id)))[0] == 200
    return event_id


# --- accepting -------------------------------------------------------------------------------------------------------

async def test_each_pipedrive_event_of_a_person_organisation_or_product_is_published_once(gateway, infra, company):
    events = {entity: uuid.uuid4().hex for entity in RECORDS}
    ids = {"person": "201", "organization": "101", "product": "301"}
    answers = {entity: [(await post(gateway, company, record_hook(company, entity, ids[entity], event_id=event,
                                                                  attempt=n)))[1]["status"] for n in (1, 2, 3)]
               for entity, event in events.items()}
    deleted = uuid.uuid4().hex
    status, answer = await post(gateway, company, record_hook(company, "product", "302", action="delete",
                                                              event_id=deleted))

    assert answers == {entity: ["accepted", "duplicate", "duplicate"] for entity in RECORDS}
    assert (status, answer["status"]) == (200, "accepted")  # a delete carries no data
    published = await records_up_to(infra.kafka_bootstrap, company, await send_sentinel(gateway, company))
    assert [(m["entity"], m["entity_id"], m["action"], m["event_id"]) for m in published[:-1]] == [
        *((entity, ids[entity], "change", events[entity]) for entity in RECORDS), ("product", "302", "delete", deleted)]
    first = published[0]
    assert first["type"] == "RecordChanged" and first["change_source"] == "app"
    assert first["pipedrive_user_id"] == "12001" and first["event_timestamp"].startswith("2026-11-30T10:00:00")


async def test_retries_arriving_at_the_same_time_publish_the_record_event_once(gateway, infra, company):
    event_id = uuid.uuid4().hex
    answers = await asyncio.gather(*(post(gateway, company, record_hook(company, "organization", "101",
                                                                        event_id=event_id, attempt=n))
                                     for n in (1, 2, 3, 4)))
    assert sorted(a[1]["status"] for a in answers) == ["accepted", "duplicate", "duplicate", "duplicate"]
    published = await records_up_to(infra.kafka_bootstrap, company, await send_sentinel(gateway, company))
    assert [m["event_id"] for m in published[:-1]] == [event_id]


def _bad(company: str, change) -> dict:
    body = record_hook(company, "organization", "101")
    change(body)
    return body


@pytest.mark.parametrize("change", [
    pytest.param(lambda b: b.update(data=None), id="a change without data"),
    pytest.param(lambda b: b["meta"].update(action="create") or b.update(data={}), id="a create with empty data"),
    pytest.param(lambda b: b["data"].update(id=102), id="data of another organisation"),
    pytest.param(lambda b: b["meta"].update(entity_id="org-101"), id="not a Pipedrive id"),
    pytest.param(lambda b: b["meta"].update(action="merge"), id="an unknown action"),
    pytest.param(lambda b: b["meta"].update(version="1.0"), id="webhooks v1"),
    pytest.param(lambda b: b["meta"].update(company_id="1"), id="another company"),
])
async def test_a_bad_record_payload_gets_400_and_publishes_nothing(gateway, infra, company, change):
    status, answer = await post(gateway, company, _bad(company, change))

    assert status == 400 and answer["error"]["code"] == "bad_request"
    published = await records_up_to(infra.kafka_bootstrap, company, await send_sentinel(gateway, company))
    assert [m["event_id"] for m in published] == [published[-1]["event_id"]]  # the sentinel alone


async def test_a_record_webhook_with_wrong_credentials_gets_401_and_publishes_nothing(gateway, infra, company):
    status, _ = await post(gateway, company, record_hook(company, "person", "201"), auth=("hook-user", "wrong"))

    assert status == 401
    published = await records_up_to(infra.kafka_bootstrap, company, await send_sentinel(gateway, company))
    assert len(published) == 1


@pytest.mark.parametrize("entity", ["activity", "note", "user", "lead", "pipeline"])
async def test_other_objects_are_answered_ignored_and_publish_nothing(gateway, infra, company, entity):
    status, answer = await post(gateway, company, record_hook(company, entity, "5"))

    assert (status, answer) == (200, {"status": "ignored"})
    published = await records_up_to(infra.kafka_bootstrap, company, await send_sentinel(gateway, company))
    assert len(published) == 1
    await send_deal_sentinel(gateway, company, "5")  # a deal event would be keyed as this one: read up to it
    assert [m["data"]["title"] for m in await deals_up_to_sentinel(infra, company, "5")] == ["sentinel"]


async def test_a_failed_publish_releases_the_claim_so_pipedrive_s_next_attempt_publishes(mongo_db):
    seen, publisher = MongoSeenEvents(mongo_db), RecordingPublisher(fail_first=1)
    hook = PipedriveWebhook.model_validate(record_hook("7001", "product", "301"))

    with pytest.raises(ConnectionError):
        await accept_record_webhook(hook, publisher, seen)
    assert await accept_record_webhook(hook, publisher, seen) == "accepted"
    assert await accept_record_webhook(hook, publisher, seen) == "duplicate"
    assert [(m.entity, m.entity_id, m.event_id) for m in publisher.published] == [("product", "301", hook.meta.id)]


# --- the webhooks in Pipedrive ------------------------------------------------------------------------------------

class Rig(OAuthStack):
    """An OAuth stack whose gateway can be stopped and started again on its address (a deploy)."""

    server: TestServer | None = None
    port: int = 0

    async def start(self) -> None:
        self.server, _ = await started(create_app(self.settings), self.port)

    async def stop(self) -> None:
        """Returns once the gateway has stopped (its background round finished)."""
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@asynccontextmanager
async def rig_running(infra, mongo_db) -> AsyncIterator[Rig]:
    company_id = random.randint(10**6, 10**9)
    pd = PipedriveState(company_id=company_id, retry_delays=(0.05, 0.05, 0.05))
    xero = XeroState()
    pd_server, pd_url = await started(pipedrive_app(pd))
    pd.base_url = pd_url
    xero_server, xero_url = await started(xero_app(xero))
    port = free_port()
    settings = oauth_settings(infra, mongo_db.name, port, pd_url, xero_url)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            rig = Rig(f"http://127.0.0.1:{port}", pd, pd_url, xero, xero_url, mongo_db, settings, browser,
                      str(company_id))
            rig.port = port
            await rig.start()
            try:
                yield rig
            finally:
                await rig.stop()
    finally:
        await xero_server.close()
        await pd_server.close()


@pytest.fixture
async def rig(infra, mongo_db) -> AsyncIterator[Rig]:
    async with rig_running(infra, mongo_db) as running:
        yield running


def hooks_by_entity(pd: PipedriveState) -> dict[str, dict]:
    hooks = list(pd.webhooks.values())
    assert len({h["event_object"] for h in hooks}) == len(hooks), hooks
    return {h["event_object"]: h for h in hooks}


def registrations(pd: PipedriveState) -> int:
    return len([r for r in pd.requests if (r["method"], r["path"]) == ("POST", "/api/v1/webhooks")])


async def wait_for(condition, timeout: float = 60.0):
    async with asyncio.timeout(timeout):
        while not (result := await condition()):
            await asyncio.sleep(0.02)
    return result


async def send(rig: Rig, body: dict, auth: tuple[str, str]) -> int:
    headers = {"Authorization": aiohttp.encode_basic_auth(*auth)}
    async with rig.browser.post(f"{rig.gateway_url}/webhooks/pipedrive/{rig.company_id}", json=body,
                                headers=headers) as resp:
        return resp.status


def creds(hook: dict) -> tuple[str, str]:
    return hook["http_auth_user"], hook["http_auth_password"]


async def make_it_installed_before(rig: Rig, company_id: str | None = None) -> dict:
    """What an install before issue 12 left: the deal webhook alone, its id in ``webhook_id``. The old deal webhook
    (with its credentials) is returned."""
    company_id = company_id or rig.company_id
    for hook_id, hook in list(rig.pd.webhooks.items()):
        if hook["event_object"] != "deal":
            del rig.pd.webhooks[hook_id]
    [deal] = rig.pd.webhooks.values()
    await rig.db.companies.update_one({"_id": company_id}, {"$unset": {"webhook_ids": ""}})
    return dict(deal)


async def complete(db, company_id: str) -> dict | None:
    doc = await db.companies.find_one({"_id": company_id})
    ids = (doc or {}).get("webhook_ids") or {}
    return doc if set(ids) == {"deal", *RECORDS} and not doc.get("retired_webhook_ids") else None


async def test_a_users_edits_in_pipedrive_arrive_as_record_events(rig, infra):
    await rig.install()
    async with rig.browser.post(f"{rig.pd_url}/_sandbox/organizations/{ORG}",
                                json={"name": "Kiwi Widgets Limited"}) as r:
        assert r.status == 200
    async with rig.browser.post(f"{rig.pd_url}/_sandbox/products/{PRODUCT}",
                                json={"prices": [{"currency": "NZD", "price": 200}]}) as r:
        assert r.status == 200
    async with rig.browser.delete(f"{rig.pd_url}/_sandbox/products/302") as r:
        assert r.status == 200

    published = await read_until(infra.kafka_bootstrap, topics.RECORD_EVENTS, lambda seen: len(seen) >= 3,
                                 match=lambda m: m["company_id"] == rig.company_id)
    assert sorted((m["entity"], m["entity_id"], m["action"], m["change_source"]) for m in published) == [
        ("organization", str(ORG), "change", "app"), ("product", str(PRODUCT), "change", "app"),
        ("product", "302", "delete", "app")]  # Pipedrive delivers each event on its own: any order
    assert {d["status"] for d in rig.pd.deliveries} == {200}


async def test_a_company_installed_before_gets_its_record_webhooks_when_the_gateway_starts(rig, infra):
    await rig.install()
    old = await make_it_installed_before(rig)

    await rig.restart()

    doc = await wait_for(lambda: complete(rig.db, rig.company_id))
    hooks = hooks_by_entity(rig.pd)
    assert sorted(hooks) == ["deal", "organization", "person", "product"]
    assert doc["webhook_ids"] == {entity: h["id"] for entity, h in hooks.items()}
    assert doc["webhook_id"] == hooks["deal"]["id"] != old["id"]  # the old deal webhook was replaced...
    assert len({creds(h) for h in hooks.values()}) == 1 and creds(hooks["deal"]) != creds(old)  # ...one new set
    deletes = [r["path"] for r in rig.pd.requests if r["method"] == "DELETE"]
    assert deletes == [f"/api/v1/webhooks/{old['id']}"]
    deal_event = {"meta": {"id": uuid.uuid4().hex, "action": "change", "entity": "deal", "entity_id": "1",
                           "company_id": rig.company_id, "version": "2.0"}, "data": {"id": 1}}
    # Pipedrive's retries of what the old webhook sent still authenticate for a while; the new credentials do.
    assert await send(rig, deal_event, creds(old)) == 200
    assert await send(rig, deal_event, creds(hooks["deal"])) == 200
    assert await send(rig, deal_event, (old["http_auth_user"], "wrong")) == 401

    async with rig.browser.post(f"{rig.pd_url}/_sandbox/persons/{PERSON}", json={"name": "Aroha Ngata-Smith"}) as r:
        assert r.status == 200
    [event] = await read_until(infra.kafka_bootstrap, topics.RECORD_EVENTS, lambda seen: len(seen) >= 1,
                               match=lambda m: m["company_id"] == rig.company_id)
    assert (event["entity"], event["entity_id"]) == ("person", str(PERSON))

    registered = registrations(rig.pd)
    await rig.restart()  # done: nothing more is registered
    await rig.stop()
    assert registrations(rig.pd) == registered and len(rig.pd.webhooks) == 4


async def test_a_failed_registration_keeps_the_deal_webhook_working_and_the_next_start_finishes(rig):
    await rig.install()
    old = await make_it_installed_before(rig)
    fault = Fault(status=500, paths=["/api/v1/webhooks"], methods=["POST"], count=1)
    rig.pd.faults.add(fault)

    await rig.restart()
    await wait_for(lambda: _true(fault.hits == 1))
    await rig.stop()  # the round is over

    credentials = MongoWebhookCredentials(rig.db)
    assert await credentials.verify(rig.company_id, *creds(old))  # the old deal webhook still authenticates
    assert [h["event_object"] for h in rig.pd.webhooks.values()] == ["deal"] and await complete(rig.db,
                                                                                             rig.company_id) is None
    await rig.start()
    await wait_for(lambda: complete(rig.db, rig.company_id))
    assert sorted(hooks_by_entity(rig.pd)) == ["deal", "organization", "person", "product"]
    assert old["id"] not in rig.pd.webhooks


async def _true(value: bool) -> bool:
    return value


async def test_stopping_the_gateway_lets_the_company_in_flight_finish_and_leaves_the_rest_for_later(rig):
    await rig.install()
    await make_it_installed_before(rig)
    # Three more companies installed before, on the same Pipedrive (their webhooks name their own URLs).
    others = [str(int(rig.company_id) + n) for n in (1, 2, 3)]
    connection = await rig.db.connections.find_one({"_id": f"pipedrive:{rig.company_id}"})
    company = await rig.db.companies.find_one({"_id": rig.company_id})
    for n, other in enumerate(others):
        await rig.db.connections.insert_one({**connection, "_id": f"pipedrive:{other}", "company_id": other})
        await rig.db.companies.insert_one({**company, "_id": other, "webhook_id": 9001 + n})  # gone: a 404
    fault = Fault(status=None, delay=0.2, paths=["/api/v1/webhooks"], methods=["POST"])
    rig.pd.faults.add(fault)

    await rig.restart()
    await wait_for(lambda: _true(fault.hits >= 1))  # the first company's registration is under way
    await rig.stop()

    done = [c for c in sorted([rig.company_id, *others]) if await complete(rig.db, c)]
    assert len(done) == 1, done  # the company in flight finished, the round stopped before the next
    assert len(rig.pd.webhooks) == 4  # its four (its old deal webhook deleted); nothing yet of the others
    rig.pd.faults.clear()
    await rig.start()
    for c in [rig.company_id, *others]:
        await wait_for(lambda c=c: complete(rig.db, c))


async def test_the_cli_registers_what_pipedrive_lost_and_changes_nothing_when_all_are_there(rig):
    await rig.install()
    before = hooks_by_entity(rig.pd)

    status, body = await _cli(rig, "webhooks", "--company", rig.company_id)
    assert status == 200 and body["registered"] is False
    assert body["webhooks"] == {e: h["id"] for e, h in before.items()} and hooks_by_entity(rig.pd) == before

    del rig.pd.webhooks[before["person"]["id"]]  # an admin deleted one in Pipedrive's settings
    status, body = await _cli(rig, "webhooks", "--company", rig.company_id)

    after = hooks_by_entity(rig.pd)
    assert status == 200 and body["registered"] is True and body["deleted"] == 4
    assert sorted(after) == ["deal", "organization", "person", "product"]
    assert body["webhooks"] == {e: h["id"] for e, h in after.items()}
    assert creds(after["deal"]) != creds(before["deal"])
    status, shown = await _cli(rig, "webhooks", "--company", rig.company_id, "--show")
    assert shown["missing"] == [] and shown["to_delete"] == [] and shown["webhooks"] == body["webhooks"]
    status, body = await _cli(rig, "webhooks", "--company", "404404")
    assert status == 404 and body["error"]["code"] == "not_found"
    code = await asyncio.to_thread(cli.main, ["--url", rig.gateway_url, "--token", API_TOKEN, "webhooks",
                                              "--company", rig.company_id])
    assert code == 0


async def _cli(rig: Rig, *args: str) -> tuple[int, dict]:
    """The CLI's call, as ``python -m pdx_gateway.cli --url ... --token ... <args>`` makes it."""
    return await cli.run(cli.parser().parse_args(["--url", rig.gateway_url, "--token", API_TOKEN, *args]))


async def test_one_gateway_at_a_time_changes_a_companys_webhooks(mongo_db):
    credentials = MongoWebhookCredentials(mongo_db)
    assert not await credentials.take_webhooks_lease("c1", "round", 60)  # not installed: the round leaves it alone
    assert await credentials.take_webhooks_lease("c1", "install", 60, create=True)  # its first install
    await credentials.set("c1", "u1", "p1")
    assert not await credentials.take_webhooks_lease("c1", "round", 60)
    assert not await credentials.take_webhooks_lease("c1", "reinstall", 60, create=True)
    await credentials.release_webhooks_lease("c1", "install")
    assert await credentials.take_webhooks_lease("c1", "round", 60)
    assert not await credentials.take_webhooks_lease("c1", "install", 60, create=True)
    assert await credentials.take_webhooks_lease("c1", "round", -1)  # its gateway died: the lease lapses
    assert await credentials.take_webhooks_lease("c1", "install", 60, create=True)


async def test_rotated_credentials_keep_working_until_the_old_webhook_is_gone_and_the_grace_is_over(mongo_db):
    from datetime import timedelta

    credentials = MongoWebhookCredentials(mongo_db)
    await credentials.set("c1", "u1", "p1")
    await credentials.remember_webhook("c1", 7)
    assert await credentials.rotate("c1", "u2", "p2", [7])
    assert await credentials.verify("c1", "u1", "p1") and await credentials.verify("c1", "u2", "p2")
    assert not await credentials.verify("c1", "u1", "p2") and not await credentials.verify("c1", "u2", "p1")
    await credentials.settle("c1", timedelta(seconds=-1))  # the old webhook still exists: no end yet
    assert await credentials.verify("c1", "u1", "p1")
    await credentials.deleted("c1", 7)
    await credentials.settle("c1", timedelta(hours=1))
    assert await credentials.verify("c1", "u1", "p1")  # Pipedrive's retries of what it sent still authenticate
    await mongo_db.companies.update_one({"_id": "c1"}, {"$set": {"previous_credentials.0.until": datetime.now(UTC)}})
    assert not await credentials.verify("c1", "u1", "p1") and await credentials.verify("c1", "u2", "p2")
    await credentials.set("c1", "u3", "p3")  # a reinstall: the old ones stop at once
    assert not await credentials.verify("c1", "u2", "p2") and await credentials.verify("c1", "u3", "p3")
    assert not await credentials.rotate("c404", "u", "p", [])


@pytest.mark.parametrize("pipedrive", ["revoked the app's tokens", "fails"])
async def test_an_uninstall_forgets_the_company_even_when_pipedrive_refuses_to_delete_its_webhooks(rig, pipedrive):
    from tests.integration.test_oauth_pipedrive import PD_CLIENT, stored, uninstall

    await rig.install()
    if pipedrive == "fails":
        rig.pd.faults.add(Fault(status=500, paths=["/api/v1/webhooks"], methods=["DELETE"]))
    else:
        rig.pd.revoke_tokens()  # Pipedrive ended the app's access before telling us

    assert await uninstall(rig, PD_CLIENT) == 200

    assert await stored(rig.db) == {"connections": 0, "companies": 0, "company_settings": 0}
    deletes = [r for r in rig.pd.requests if r["method"] == "DELETE" and r["path"].startswith("/api/v1/webhooks/")]
    assert len(deletes) <= 1  # the first refusal says it: no call for the others
