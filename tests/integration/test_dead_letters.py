"""Dead letters are operable: the crm-card keeps each one once (counted, its deal told once), operators list, inspect
and re-drive them through the gateway's API and CLI, and re-driving twice makes no second draft (the ledger)."""

import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from pdx_common import topics
from pdx_common.contracts import COMMAND, DeadLettered, DealChanged
from pdx_common.dead_letters import MongoDeadLetters
from pdx_crmcard.adapters.activity_log import MongoActivityLog
from pdx_crmcard.bootstrap import Resources, dead_letter_handler
from tests.integration.conftest import API_TOKEN
from tests.integration.writer_harness import open_rig
from tests.kafka_helpers import read_until


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


def card(mongo_db, written: list[tuple]) -> Resources:
    res = Resources()
    res.dead_letters, res.activity_log = MongoDeadLetters(mongo_db), MongoActivityLog(mongo_db)

    async def write_activity(company_id: str, deal_id: str, subject: str, note: str) -> object:
        written.append((company_id, deal_id, subject, note))
        return len(written)
    res.write_activity = write_activity  # type: ignore[method-assign]
    return res


def stored_count(topic: str, consumer: str) -> float:
    return REGISTRY.get_sample_value("pdx_dead_letters_stored_total", {"topic": topic, "consumer": consumer}) or 0.0


async def test_each_dead_letter_is_kept_once_counted_and_its_deal_told_once(mongo_db, run_id):
    written: list[tuple] = []
    handle = dead_letter_handler(card(mongo_db, written))
    billing = DeadLettered(company_id=f"c{run_id}", deal_id="42", source_topic=topics.DOCUMENT_RESULTS,
                           consumer="pdx-metering", payload={"$set": {"a.b": 1}},
                           error="ValueError: at https://internal/x", attempts=5)
    told_already = DeadLettered(company_id=f"c{run_id}", deal_id="43", source_topic=topics.DEAL_EVENTS,
                                consumer="pdx-mapper", payload={"y": 2}, error="KeyError: 'z'", attempts=5)
    before = stored_count(topics.DOCUMENT_RESULTS, "pdx-metering")
    for dead in (billing, billing, told_already, told_already):  # redelivered
        await handle(dead)

    assert stored_count(topics.DOCUMENT_RESULTS, "pdx-metering") == before + 1
    listed = await MongoDeadLetters(mongo_db).of_company(f"c{run_id}")
    assert [d["id"] for d in listed] == [billing.id, told_already.id]
    assert listed[0]["payload"] == {"$set": {"a.b": 1}}  # whatever arrived, even keys MongoDB refuses as fields
    [(company, deal, subject, note)] = written  # the mapper told deal 43 itself, with the reference
    assert (company, deal) == (f"c{run_id}", "42") and billing.id in note
    assert "internal" not in note and "ValueError" not in note


async def test_oldest_first_is_the_insertion_order_when_stored_at_ties(mongo_db, run_id):
    store, now = MongoDeadLetters(mongo_db), datetime.now(UTC)
    await store.ensure_indexes()
    letters = [DeadLettered(company_id=f"c{run_id}", deal_id=str(n), source_topic=topics.DEAL_EVENTS,
                            consumer="pdx-mapper", payload={}, error="e", attempts=5) for n in range(12)]
    for letter in letters:
        assert await store.store(letter, now)
    # A store's natural order is no promise (a descending index scanned backwards, a document moved or restored):
    # move the first one to the end of the collection, as a restore would.
    raw = await mongo_db.dead_letters.find_one({"_id": letters[0].id})
    await mongo_db.dead_letters.delete_one({"_id": letters[0].id})
    await mongo_db.dead_letters.insert_one(raw)
    listed = await store.of_company(f"c{run_id}")
    assert [d["id"] for d in listed] == [d.id for d in letters]
    assert "seq" not in listed[0]


async def api(gateway, method: str, path: str, token: str = API_TOKEN) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, gateway.make_url(f"/api{path}"),
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json(content_type=None)


async def cli(gateway, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pdx_gateway.cli", "--url", str(gateway.make_url("")), "--token", API_TOKEN, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_operators_list_inspect_and_redrive_and_twice_makes_one_draft(gateway, rig, infra):
    command = rig.invoice(deal_id="5301")
    dead = DeadLettered(company_id=rig.company_id, deal_id="5301", source_topic=topics.XERO_COMMANDS,
                        consumer="pdx-xero-writer", payload=command.model_dump(mode="json"),
                        error="ApiError: xero answered 400", attempts=5)
    other = DeadLettered(company_id=f"{rig.company_id}9", deal_id="1", source_topic=topics.DEAL_EVENTS,
                         consumer="pdx-mapper", payload={}, error="e", attempts=5)
    store = MongoDeadLetters(rig.db)
    for letter in (dead, other):
        assert await store.store(letter, datetime.now(UTC))
    base = f"/companies/{rig.company_id}/dead-letters"

    assert (await api(gateway, "GET", base, token="wrong"))[0] == 401
    status, listed = await api(gateway, "GET", base)
    assert status == 200 and [d["id"] for d in listed["dead_letters"]] == [dead.id]
    assert "payload" not in listed["dead_letters"][0] and listed["dead_letters"][0]["state"] == "waiting"
    status, one = await api(gateway, "GET", f"{base}/{dead.id}")
    assert status == 200 and one["payload"]["id"] == command.id and one["error"] == dead.error
    assert (await api(gateway, "GET", f"{base}/{other.id}"))[0] == 404  # another company's

    code, out = await cli(gateway, "redrive", "--company", rig.company_id, "--id", dead.id)
    assert code == 0 and dead.id in out
    status, again = await api(gateway, "POST", f"{base}/{dead.id}/redrive")
    assert status == 200 and again["dead_letter"]["redrives"] == 2 and again["dead_letter"]["state"] == "redriven"
    assert (await api(gateway, "POST", f"{base}/redrive"))[1] == {"redriven": []}  # none waiting any more
    code, out = await cli(gateway, "dead-letters", "--company", rig.company_id, "--state", "redriven")
    assert code == 0 and dead.id in out

    republished = await read_until(infra.kafka_bootstrap, topics.XERO_COMMANDS, lambda seen: len(seen) >= 2,
                                   match=lambda m: m.get("id") == command.id)
    assert len(republished) == 2
    writer = rig.writer()
    for body in republished:
        await writer.execute(COMMAND.validate_python(body))
    assert len(rig.invoices()) == 1 and len(rig.calls("PUT", "Invoices")) == 1


async def test_redrive_all_sends_every_waiting_letter_of_the_company_keyed_as_before(gateway, mongo_db, run_id,
                                                                                      infra):
    company = f"c{run_id}"
    events = [DealChanged(company_id=company, deal_id=str(n), event_id=f"e{run_id}", action="delete")
              for n in (1, 2)]
    letters = [DeadLettered(company_id=company, deal_id=e.deal_id, source_topic=topics.DEAL_EVENTS,
                            consumer="pdx-mapper", payload=e.model_dump(mode="json"), error="e", attempts=5)
               for e in events]
    now = datetime.now(UTC)  # stored in the same millisecond: the insertion order decides
    for letter in letters:
        await MongoDeadLetters(mongo_db).store(letter, now)
    status, body = await api(gateway, "POST", f"/companies/{company}/dead-letters/redrive")
    assert status == 200 and body["redriven"] == [d.id for d in letters]
    seen = await read_until(infra.kafka_bootstrap, topics.DEAL_EVENTS, lambda got: len(got) >= 2,
                            match=lambda m: m.get("event_id") == f"e{run_id}")
    assert sorted(m["deal_id"] for m in seen) == ["1", "2"]
