"""Backfills and bulk replays (``pdx_gateway.jobs``) on the real store and broker: the dry run's counts and reasons,
each item published once, drafted deals skipped, never more than the window outstanding, one runner per job (a dead
one's job taken over when its lease lapses), cancel, restart; then through the operators' API and the settings app,
with the Pipedrive sandbox."""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from aiohttp import ClientSession

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import DealChanged, DocumentCreated, DocumentFailed
from pdx_common.kafka import make_broker
from pdx_common.service import KafkaPublisher
from pdx_common.settings import ServiceSettings
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from pdx_gateway.adapters.deal_events import MongoDealEvents
from pdx_gateway.adapters.jobs import MongoJobs
from pdx_gateway.adapters.settings_repo import MongoSettingsStore
from pdx_gateway.jobs import JobRunner, RunnerOptions, create_backfill, create_replay_failed, progress
from pdx_mapper.domain.mapping import MappingProblem
from pdx_mapper.preview import DraftPreview
from tests.e2e.helpers import eventually as wait_until
from tests.integration.conftest import API_TOKEN
from tests.integration.test_app_log_usage import AppStack, app_stack
from tests.kafka_helpers import deal_event_marker, read_to_markers

COMPANY = "7001"
XERO_URL = "https://go.xero.com/x"
SETTINGS = CompanySettings.model_validate({
    "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"},
                 {"pipeline_id": 1, "stage_id": 4, "action": "quote", "enabled": False}],
    "won_triggers": [{"pipeline_id": 2, "action": "quote"}]})


# The suite's condition wait, polled more often: these rigs answer in milliseconds.
eventually = partial(wait_until, timeout=30.0, every=0.05)


@dataclass
class FakeDeals:
    """The company's Pipedrive as a backfill reads it: deals by (pipeline, stage, status), and what each would make
    (``problems``: deal id -> mapping problem code)."""

    deals: list[dict[str, Any]] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    previewed: list[str] = field(default_factory=list)

    def add(self, n: int, *, pipeline: int = 1, stage: int = 5, status: str = "open", start: int = 1) -> list[str]:
        ids = [str(start + i) for i in range(n)]
        self.deals += [{"id": int(i), "title": f"Deal {i} title", "pipeline_id": pipeline, "stage_id": stage,
                        "status": status} for i in ids]
        return ids

    async def deals_of(self, *, pipeline_id: int, stage_id: int | None, status: str) -> list[dict[str, Any]]:
        return [d for d in self.deals if d["pipeline_id"] == pipeline_id and d["status"] == status
                and (stage_id is None or d["stage_id"] == stage_id)]

    async def preview(self, deal_id: str, settings: CompanySettings, action: str, today) -> DraftPreview:
        self.previewed.append(deal_id)
        code = self.problems.get(deal_id)
        if code:
            return DraftPreview(None, MappingProblem(code, f"Deal {deal_id} cannot: {code}.", f"Fix {code}."))
        return DraftPreview(object(), None)  # type: ignore[arg-type]


class Source:
    def __init__(self, fake: FakeDeals) -> None:
        self.deals, self.preview = fake.deals_of, fake.preview


@dataclass
class FakeWriter:
    """Stands in for mapper + writer + results consumer: answers each published item with a draft, in order, when
    not paused; records how many items were outstanding at most."""

    status: MongoDealStatus
    kafka: KafkaPublisher
    published: list[DealChanged] = field(default_factory=list)
    queue: list[tuple[str, str]] = field(default_factory=list)
    paused: bool = False
    max_outstanding: int = 0
    answer: str = "created"

    async def publish(self, message, topic: str, key: bytes) -> None:
        await self.kafka.publish(message, topic, key)
        self.published.append(message)
        for trigger in message.replay_triggers:
            self.queue.append((message.deal_id, trigger))
        self.max_outstanding = max(self.max_outstanding, len(self.queue))

    async def run(self) -> None:
        while True:  # a failure here fails the test (the fixture reads this task's result)
            if self.queue and not self.paused:
                deal, trigger = self.queue[0]
                await asyncio.sleep(0.005)
                if self.answer == "created":
                    await self.status.record(DocumentCreated(
                        company_id=COMPANY, deal_id=deal, command_id=uuid.uuid4().hex, trigger_id=trigger,
                        kind="invoice", tenant_id="t", xero_id=f"x-{deal}-{trigger}", number=f"INV-{deal}",
                        total="10", currency_code="NZD", status="DRAFT", xero_url=XERO_URL,
                        contact_name="C"))
                self.queue.pop(0)
            else:
                await asyncio.sleep(0.01)


@pytest.fixture
async def kafka(infra):
    broker = make_broker(ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap))
    await broker.start()
    try:
        yield KafkaPublisher(broker)
    finally:
        await broker.stop()


@dataclass
class Rig:
    db: Any
    jobs: MongoJobs
    fake: FakeDeals
    writer: FakeWriter
    runners: list[JobRunner] = field(default_factory=list)
    tasks: list[asyncio.Task] = field(default_factory=list)

    def runner(self, *, window: int = 5, lease: float = 30.0, owner: str | None = None) -> JobRunner:
        options = RunnerOptions(window=window, step_seconds=0.02, scan_seconds=0.05, lease_seconds=lease,
                                item_timeout_seconds=600)
        runner = JobRunner(self.jobs, MongoSettingsStore(self.db), self.writer, MongoDealEvents(self.db),
                           lambda company_id: Source(self.fake), options, owner=owner)
        self.runners.append(runner)
        self.tasks.append(asyncio.create_task(runner.run_forever()))
        return runner

    async def stop(self, runner: JobRunner) -> None:
        """As a gateway stops: its jobs let their leases go, its scan ends."""
        await runner.stop()
        await self.tasks[self.runners.index(runner)]

    async def state(self, job_id: str, *states: str) -> dict[str, Any] | None:
        job = await self.jobs.by_id(job_id)
        return job if job and job["state"] in states else None

    async def drafted_before(self, deal_ids: list[str], trigger: str = "p1-s5") -> None:
        await self.db.ledger.insert_many([{"_id": f"{COMPANY}:{d}:{trigger}", "state": "created"} for d in deal_ids])


@pytest.fixture
async def rig(mongo_db, kafka):
    await MongoSettingsStore(mongo_db).replace(COMPANY, SETTINGS, 1)
    writer = FakeWriter(MongoDealStatus(mongo_db), kafka)
    answering = asyncio.create_task(writer.run())
    running = Rig(mongo_db, MongoJobs(mongo_db), FakeDeals(), writer)
    try:
        yield running
        if answering.done():
            answering.result()
    finally:
        for runner in running.runners:
            await runner.stop()
        answering.cancel()
        await asyncio.gather(*running.tasks, answering, return_exceptions=True)


async def test_dry_run_counts_deals_drafted_and_failures_by_reason(rig: Rig) -> None:
    in_stage = rig.fake.add(12)
    rig.fake.add(3, stage=4, start=100)  # a switched-off trigger's stage: not part of a backfill
    won = rig.fake.add(2, pipeline=2, stage=9, status="won", start=200)
    rig.fake.add(2, pipeline=2, stage=9, status="open", start=300)  # open deals of a won trigger's pipeline: no
    await rig.drafted_before(in_stage[:3])
    rig.fake.problems.update({d: "no_customer" for d in in_stage[3:10]} | {in_stage[10]: "product_without_code"})
    rig.runner()
    job = await create_backfill(rig.jobs, COMPANY, start=False)
    checked = await eventually(lambda: rig.state(job["_id"], "ready"))
    assert checked["checked"] == {"deals": 14, "triggers": 14, "already_drafted": 3, "would_fail": 8,
                                  "would_make": 3}
    assert [(p["code"], p["count"]) for p in checked["problems"]] == [("no_customer", 7),
                                                                      ("product_without_code", 1)]
    no_customer = checked["problems"][0]
    assert no_customer["message"] == f"Deal {in_stage[3]} cannot: no_customer." and no_customer["fix"]
    assert [e["title"] for e in no_customer["examples"]] == [f"Deal {d} title" for d in in_stage[3:8]]
    assert {(i["deal_id"], i["trigger_id"]) for i in checked["items"]} == {
        (in_stage[11], "p1-s5"), (won[0], "p2-won"), (won[1], "p2-won")}
    assert set(rig.fake.previewed) == set(in_stage[3:]) | set(won)  # drafted deals are not even read
    assert rig.writer.published == []  # a dry run publishes nothing


async def test_run_publishes_each_item_once_skips_drafted_and_keeps_the_window(rig: Rig, infra) -> None:
    deals = rig.fake.add(60)
    await rig.drafted_before(deals[:10])
    rig.runner(window=5)
    job = await create_backfill(rig.jobs, COMPANY, start=False)
    await eventually(lambda: rig.state(job["_id"], "ready"))
    await rig.drafted_before([deals[10]])  # drafted by a live stage move between the check and the run
    assert await rig.jobs.start(COMPANY, job["_id"], datetime.now(UTC))
    done = await eventually(lambda: rig.state(job["_id"], "done"))
    assert progress(done) | {} == {"total": 50, "made": 49, "failed": 0, "skipped": 1, "waiting": 0,
                                   "no_answer": 0, "outstanding": 0, "to_do": 0}
    assert 1 < rig.writer.max_outstanding <= 5
    on_broker = await read_to_markers(infra.kafka_bootstrap, topics.DEAL_EVENTS, deal_event_marker,
                                      match=lambda m: m.get("event_id", "").startswith(f"backfill-{job['_id']}-"))
    assert sorted(int(m["deal_id"]) for m in on_broker) == [int(d) for d in deals[11:]]  # each once
    assert {(m["request"], tuple(m["replay_triggers"])) for m in on_broker} == {("backfill", ("p1-s5",))}


async def test_a_second_runner_never_runs_the_same_job(rig: Rig) -> None:
    deals = rig.fake.add(40)
    first, second = rig.runner(window=4), rig.runner(window=4)
    job = await create_backfill(rig.jobs, COMPANY, start=True)
    await eventually(lambda: rig.state(job["_id"], "done"))
    assert sorted(int(m.deal_id) for m in rig.writer.published) == [int(d) for d in deals]
    assert rig.writer.max_outstanding <= 4
    assert first.owner != second.owner


async def test_a_dead_gateways_job_is_taken_over_when_its_lease_lapses(rig: Rig) -> None:
    deals = rig.fake.add(10)
    job = await create_backfill(rig.jobs, COMPANY, start=True)
    from datetime import timedelta
    dead = await rig.jobs.claim("dead-gateway", timedelta(seconds=1), datetime.now(UTC), set())
    assert dead is not None and dead["_id"] == job["_id"]
    rig.runner(window=3)
    await eventually(lambda: rig.state(job["_id"], "done"))
    assert sorted(int(m.deal_id) for m in rig.writer.published) == [int(d) for d in deals]


async def test_cancel_stops_publishing(rig: Rig) -> None:
    rig.fake.add(30)
    rig.writer.paused = True
    runner = rig.runner(window=3)
    job = await create_backfill(rig.jobs, COMPANY, start=True)
    await eventually(lambda: asyncio.sleep(0, len(rig.writer.published) == 3))
    assert await rig.jobs.cancel(COMPANY, job["_id"], datetime.now(UTC))
    rig.writer.paused = False
    await eventually(lambda: asyncio.sleep(0, not rig.writer.queue))
    await eventually(lambda: asyncio.sleep(0, not runner._tasks))  # the runner let the job go
    cancelled = await rig.jobs.by_id(job["_id"])
    assert cancelled["state"] == "cancelled" and cancelled["lease"] is None
    assert len(rig.writer.published) == 3


async def test_a_restarted_gateway_resumes_where_the_job_was(rig: Rig) -> None:
    deals = rig.fake.add(20)
    rig.writer.paused = True
    first = rig.runner(window=5)
    job = await create_backfill(rig.jobs, COMPANY, start=True)
    await eventually(lambda: asyncio.sleep(0, len(rig.writer.published) == 5))
    await rig.stop(first)  # the gateway stops (its lease is let go)
    stored = await rig.jobs.by_id(job["_id"])
    assert stored["cursor"] == 5 and stored["state"] == "running"
    rig.writer.paused = False
    rig.runner(window=5)
    await eventually(lambda: rig.state(job["_id"], "done"))
    assert sorted(int(m.deal_id) for m in rig.writer.published) == [int(d) for d in deals]  # none twice


async def test_bulk_replay_replays_each_failed_deal_once_within_the_window(rig: Rig) -> None:
    status = MongoDealStatus(rig.db)
    for deal in range(1, 13):
        for trigger in ("p1-s5", "p2-won") if deal % 4 == 0 else ("p1-s5",):
            await status.record(DocumentFailed(company_id=COMPANY, deal_id=str(deal), trigger_id=trigger,
                                               stage="mapping", code="no_customer", message="m", fix="f"))
    await status.record(DocumentCreated(company_id=COMPANY, deal_id="99", command_id="c", trigger_id="p1-s5",
                                        kind="invoice", tenant_id="t", xero_id="x", number="INV-1", total="1",
                                        currency_code="NZD", status="DRAFT", xero_url=XERO_URL,
                        contact_name="C"))
    rig.runner(window=4)
    job = await create_replay_failed(rig.jobs, COMPANY)
    assert len(job["items"]) == 15
    done = await eventually(lambda: rig.state(job["_id"], "done"))
    assert progress(done)["made"] == 15
    assert sorted(int(m.deal_id) for m in rig.writer.published) == list(range(1, 13))  # one replay per deal
    assert rig.writer.max_outstanding <= 4


# --- through the operators' API and the settings app, with the Pipedrive sandbox ----------------------------------

@pytest.fixture
async def stack(infra, mongo_db, run_id):
    async with app_stack(infra, mongo_db, run_id, metering=False) as running:
        yield running


def _in_trigger_stage(s: AppStack, company) -> list[str]:
    return [str(d["id"]) for d in company.pd.deals.values()
            if d["pipeline_id"] == 1 and d["stage_id"] == 5 and d["status"] == "open" and not d["is_deleted"]]


async def _api(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"}) as http:
        async with http.request(method, url, json=body) as resp:
            return resp.status, await resp.json()


async def test_backfill_through_the_api_and_the_settings_app(stack: AppStack) -> None:
    a = stack.a
    await MongoSettingsStore(stack.db).replace(a.id, CompanySettings.model_validate({
        "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}]}), 1)
    good = {"currency": "NZD", "org_id": 101, "person_id": 201}
    line = [{"product_id": 301, "quantity": 2, "item_price": 100, "tax": 15, "tax_method": "exclusive"}]
    made = [str(a.pd.create_deal({"title": f"Backfill good {i}", "stage_id": 5, **good}, line)["id"])
            for i in range(4)]
    lonely = [str(a.pd.create_deal({"title": f"Backfill lonely {i}", "stage_id": 5, "currency": "NZD"},
                                   line)["id"]) for i in range(2)]
    await stack.db.ledger.insert_one({"_id": f"{a.id}:{made[0]}:p1-s5", "state": "created"})
    base = f"{stack.url}/api/companies/{a.id}"

    status, body = await _api("POST", f"{base}/backfill", {"dry_run": True})
    assert status == 202 and body["job"]["state"] == "dry_run"
    job_id = body["job"]["id"]

    async def checked():
        answer = (await _api("GET", f"{base}/jobs/{job_id}"))[1]["job"]
        return answer if answer["state"] != "dry_run" else None

    job = await eventually(checked, timeout=60)
    assert job["state"] == "ready", job
    in_stage = _in_trigger_stage(stack, a)
    assert job["checked"]["deals"] == len(in_stage) and job["checked"]["already_drafted"] == 1
    assert set(made[1:]) | set(lonely) <= set(in_stage)
    failing = {e["title"] for p in job["problems"] for e in p["examples"]}
    assert {f"Backfill lonely {i}" for i in range(2)} <= failing
    assert not {f"Backfill good {i}" for i in range(4)} & failing
    assert (await _api("POST", f"{base}/backfill", {"dry_run": "yes"}))[0] == 400

    async with stack.browser(a, admin=False) as viewer:
        status, page = await viewer.get("/app/backfill")
        assert status == 200 and "What a backfill would do" in page and "Make " not in page
        assert (await viewer.post("/app/backfill/start", {"job_id": job_id}))[0] == 403
    async with stack.browser(a) as admin:
        status, page = await admin.get("/app/backfill")
        would = job["checked"]["would_make"]
        assert f"Make {would} drafts" in page and "Backfill lonely 0" in page and "Fix it" in page
        assert (await admin.post("/app/backfill/start", {"job_id": job_id}, csrf=False))[0] == 403
        status, _, location = await admin.post("/app/backfill/start", {"job_id": job_id})
        assert status == 303 and location == "/app/backfill"

        running = await eventually(lambda: _published_items(stack, job_id))
        status_store = MongoDealStatus(stack.db)
        status, page = await admin.get("/app/backfill")
        assert "Making drafts" in page and " of " in page and "Stop the backfill" in page
        status, log_page = await admin.get("/app/log")
        assert "Backfill under way" in log_page
        for item in running:
            await status_store.record(DocumentCreated(
                company_id=a.id, deal_id=item["deal_id"], command_id=uuid.uuid4().hex, trigger_id="p1-s5",
                kind="invoice", tenant_id=a.tenant_id, xero_id=uuid.uuid4().hex, number="INV-9", total="230",
                currency_code="NZD", status="DRAFT", xero_url=XERO_URL,
                        contact_name="C"))
        done = await eventually(lambda: _job_in(stack, job_id, "done"), timeout=30)
        assert progress(done)["made"] == would and made[0] not in {i["deal_id"] for i in done["items"]}
        status, page = await admin.get("/app/backfill")
        assert "The last backfill is finished" in page and f"{would} made" in page


async def _published_items(s: AppStack, job_id: str) -> list[dict[str, Any]] | None:
    job = await MongoJobs(s.db).by_id(job_id)
    if not job or job["state"] != "running":
        return None
    items = [i for i in job["items"] if i.get("published_at")]
    return items if items and len(items) == len(job["items"]) else None


async def _job_in(s: AppStack, job_id: str, state: str) -> dict[str, Any] | None:
    job = await MongoJobs(s.db).by_id(job_id)
    return job if job and job["state"] == state else None


async def test_replay_all_failed_from_the_sync_log_and_the_api(stack: AppStack) -> None:
    a = stack.a
    status_store = MongoDealStatus(stack.db)
    for deal in ("41", "42", "43"):
        await status_store.record(DocumentFailed(company_id=a.id, deal_id=deal, trigger_id="p1-s5",
                                                 stage="mapping", code="no_customer", message="No customer.",
                                                 fix="Link one."))
    async with stack.browser(a, admin=False) as viewer:
        page = (await viewer.get("/app/log?state=failed"))[1]
        assert "Replay all failed" not in page
    async with stack.browser(a) as admin:
        page = (await admin.get("/app/log?state=failed"))[1]
        assert "Replay all failed (3)" in page
        status, _, location = await admin.post("/app/log/replay-all", {})
        assert status == 303 and location == "/app/log?state=failed"
        page = (await admin.get("/app/log?state=failed"))[1]
        assert "Replay of all failed deals" in page and "Replay all failed (" not in page
    async with stack.browser(a, admin=False) as viewer:
        page = (await viewer.get("/app/log?state=failed"))[1]
        assert "Replay of all failed deals" in page and "Stop" not in page
    status, body = await _api("POST", f"{stack.url}/api/companies/{a.id}/replay-failed?paced=true")
    assert status == 409 and body["error"]["job"]["kind"] == "replay_failed"
    job_id = body["error"]["job"]["id"]
    status, body = await _api("POST", f"{stack.url}/api/companies/{a.id}/jobs/{job_id}/cancel")
    assert status == 200 and body["job"]["state"] == "cancelled"
    status, body = await _api("POST", f"{stack.url}/api/companies/{a.id}/replay-failed?paced=true")
    assert status == 202 and body["job"]["progress"]["total"] == 3
    status, body = await _api("GET", f"{stack.url}/api/companies/{stack.b.id}/jobs/{job_id}")
    assert status == 404  # another company's job is not found
