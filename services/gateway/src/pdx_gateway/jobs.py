"""Backfills and bulk replays: long jobs for one company, paced with the Xero budget.

A **backfill** makes drafts for deals that were already sitting in a trigger stage (or already won) when the app was
set up. It is checked first (a dry run: how many deals, how many already have their draft, how many would fail and
why, how many would be made), then started. A **bulk replay** (``replay_failed``) re-runs every failed deal of the
company, as the sync log's Replay does one by one.

Pacing: a job never has more than ``window`` items outstanding, an item being outstanding from its publish until the
crm-card's results consumer records an outcome for it (``deal_status``) newer than the publish. So a backfill moves
as fast as the company's drafts are really being made: the company's live deals keep their place in the writer's
queue for the company, and other companies never wait (the writer's queues are per company).

Every gateway process runs a :class:`JobRunner`. A job is run under a lease in the store, so two gateways never run
one job at once, and a dead gateway's job is taken over when its lease lapses. The cursor is stored after each
publish; an item published again after a crash is harmless (the writer's ledger makes each trigger one draft).

Example (what ``POST /api/companies/7001/backfill {"dry_run": true}`` does, then ``.../jobs/<id>/start``)::

    job = await create_backfill(MongoJobs(db), "7001", start=False)   # state "dry_run"; the runner checks it
    ...                                                              # state "ready", counts and problems stored
    await MongoJobs(db).start("7001", job["_id"], now)               # state "running", then "done"
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
import structlog
from aiohttp import web

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.connections import TokenProvider
from pdx_common.contracts import DealChanged, new_id
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.pipedrive import PipedriveClient
from pdx_gateway.adapters.jobs import MongoJobs, utc
from pdx_gateway.adapters.settings_repo import MongoSettingsStore
from pdx_gateway.errors import NotFound, NothingToReplay
from pdx_gateway.handlers import replay_deal
from pdx_gateway.ports import Publisher, StageEvents

log = structlog.get_logger()

EXAMPLES = 5  # deal titles shown per kind of failure
PAGE = 500  # Pipedrive's largest page


class DealSource(Protocol):
    """What a backfill reads from the company's Pipedrive."""

    async def deals(self, *, pipeline_id: int, stage_id: int | None, status: str) -> list[dict[str, Any]]: ...

    async def preview(self, deal_id: str, settings: CompanySettings, action: str, today: date) -> Any: ...


Sources = Callable[[str], DealSource | None]


@dataclass(frozen=True)
class RunnerOptions:
    window: int = 20  # items outstanding at most, per job
    step_seconds: float = 0.5  # how often a running job looks at its outcomes
    scan_seconds: float = 1.0  # how often a gateway looks for a job to take
    lease_seconds: float = 30.0
    # An item without any outcome this long (a lost message, a deal deleted meanwhile) stops holding its window slot.
    item_timeout_seconds: float = 600.0
    preview_concurrency: int = 4


RUNNER_OPTIONS = web.AppKey("job_runner_options", RunnerOptions)


# --- creating jobs and showing them -------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


class JobBusy(Exception):
    """The company already has a job of this kind checking or running."""

    def __init__(self, job: dict[str, Any]) -> None:
        super().__init__("a job of this kind is already under way")
        self.job = job


async def create_backfill(jobs: MongoJobs, company_id: str, *, start: bool) -> dict[str, Any]:
    """A backfill to check (state ``dry_run``); with ``start`` it runs as soon as it is checked."""
    busy = await jobs.active(company_id, "backfill")
    if busy is not None:
        raise JobBusy(busy)
    now = _now()
    await jobs.supersede_ready(company_id, "backfill", now)
    return await jobs.create(_job(company_id, "backfill", "dry_run", [], now, start_when_checked=start))


async def create_replay_failed(jobs: MongoJobs, company_id: str) -> dict[str, Any]:
    """A paced replay of every deal whose last outcome is a failure; it runs at once (state ``running``)."""
    busy = await jobs.active(company_id, "replay_failed")
    if busy is not None:
        raise JobBusy(busy)
    pairs = await jobs.failed_pairs(company_id)
    items = [{"deal_id": deal, "trigger_id": trigger} for deal, trigger in pairs]
    now = _now()
    job = _job(company_id, "replay_failed", "running", items, now)
    job["started_at"] = now
    if not items:
        job.update(state="done", finished_at=now)
    return await jobs.create(job)


def _job(company_id: str, kind: str, state: str, items: list[dict[str, Any]], now: datetime,
         **extra: Any) -> dict[str, Any]:
    return {"_id": new_id(), "company_id": company_id, "kind": kind, "state": state, "items": items, "cursor": 0,
            "checked": None, "problems": [], "created_at": now, "started_at": None, "finished_at": None,
            "lease": None, "error": None, **extra}


def progress(job: dict[str, Any]) -> dict[str, int]:
    """Counts of a job's items: ``{"total": 160, "made": 40, "failed": 2, "skipped": 1, "waiting": 0,
    "no_answer": 0, "outstanding": 20, "to_do": 97}``."""
    items = job.get("items") or []
    cursor = job.get("cursor") or 0
    counts = {"total": len(items), "made": 0, "failed": 0, "skipped": 0, "waiting": 0, "no_answer": 0,
              "outstanding": 0, "to_do": 0}
    names = {"created": "made", "failed": "failed", "skipped": "skipped", "already_drafted": "skipped",
             "parked": "waiting", "no_answer": "no_answer"}
    for index, item in enumerate(items):
        outcome = item.get("outcome")
        if outcome:
            counts[names.get(outcome, "skipped")] += 1
        elif index < cursor:
            counts["outstanding"] += 1
        else:
            counts["to_do"] += 1
    return counts


def view(job: dict[str, Any]) -> dict[str, Any]:
    """The job as the API answers it (and the pages read it): no item list, which can be long."""
    return {"id": job["_id"], "company_id": job["company_id"], "kind": job["kind"], "state": job["state"],
            "created_at": _iso(job.get("created_at")), "started_at": _iso(job.get("started_at")),
            "finished_at": _iso(job.get("finished_at")), "checked": job.get("checked"),
            "problems": job.get("problems") or [], "progress": progress(job), "error": job.get("error"),
            "start_when_checked": bool(job.get("start_when_checked"))}


def progress_line(job: dict[str, Any]) -> str:
    """``"40 made, 2 failed, 3 skipped of 160; 20 on their way."``"""
    p = job["progress"]
    parts = [f"{p['made']} made", f"{p['failed']} failed", f"{p['skipped']} skipped"]
    if p["waiting"]:
        parts.append(f"{p['waiting']} waiting for Xero")
    if p["no_answer"]:
        parts.append(f"{p['no_answer']} without an answer")
    line = f"{', '.join(parts)} of {p['total']}"
    if job["state"] == "running" and p["outstanding"]:
        line += f"; {p['outstanding']} on their way"
    return line + "."


def _iso(at: Any) -> str | None:
    return utc(at).isoformat() if isinstance(at, datetime) else None


# --- the dry run --------------------------------------------------------------------------------------------------

@dataclass
class _Candidate:
    deal_id: str
    trigger_id: str
    action: str
    title: str


async def check_backfill(company_id: str, settings: CompanySettings, source: DealSource, jobs: MongoJobs,
                         concurrency: int = 4) -> tuple[list[dict[str, Any]], dict[str, int], list[dict[str, Any]]]:
    """The dry run: the items to publish (deals that would make a draft), the counts, and the failures grouped by
    the mapping problem's code (its first message and fix, how many, up to five deal titles)."""
    candidates: dict[tuple[str, str], _Candidate] = {}
    for trigger in settings.triggers:
        if trigger.makes == "none":
            continue
        for deal in await source.deals(pipeline_id=trigger.pipeline_id, stage_id=trigger.stage_id, status="open"):
            _add(candidates, deal, trigger.id, trigger.makes)
    for won in settings.won_triggers:
        if won.makes == "none":
            continue
        for deal in await source.deals(pipeline_id=won.pipeline_id, stage_id=None, status="won"):
            _add(candidates, deal, won.id, won.makes)
    drafted = await jobs.drafted(company_id, list(candidates))
    to_check = [c for key, c in candidates.items() if key not in drafted]
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    limit = asyncio.Semaphore(concurrency)

    async def one(candidate: _Candidate) -> Any:
        async with limit:
            return await source.preview(candidate.deal_id, settings, candidate.action, today)

    results = await asyncio.gather(*(one(c) for c in to_check))
    items, problems = [], {}
    for candidate, result in zip(to_check, results, strict=True):
        problem = getattr(result, "problem", None)
        if problem is None:
            items.append({"deal_id": candidate.deal_id, "trigger_id": candidate.trigger_id,
                          "title": candidate.title})
            continue
        group = problems.setdefault(problem.code, {"code": problem.code, "message": problem.message,
                                                   "fix": problem.fix, "count": 0, "examples": []})
        group["count"] += 1
        if len(group["examples"]) < EXAMPLES:
            group["examples"].append({"deal_id": candidate.deal_id, "title": candidate.title})
    counts = {"deals": len({c.deal_id for c in candidates.values()}), "triggers": len(candidates),
              "already_drafted": len(drafted), "would_fail": len(to_check) - len(items), "would_make": len(items)}
    ordered = sorted(problems.values(), key=lambda g: (-g["count"], g["code"]))
    return items, counts, ordered


def _add(candidates: dict[tuple[str, str], _Candidate], deal: dict[str, Any], trigger_id: str, action: str) -> None:
    if deal.get("is_deleted") or deal.get("id") is None:
        return
    deal_id = str(deal["id"])
    candidates.setdefault((deal_id, trigger_id),
                          _Candidate(deal_id, trigger_id, action, str(deal.get("title") or f"Deal {deal_id}")))


# --- the company's Pipedrive, as the gateway reads it --------------------------------------------------------------

class PipedriveDealSource:
    """Deals listed with Pipedrive v2's filters (``pipeline_id``, ``stage_id``, ``status``) and its cursor paging,
    and each deal previewed as the settings app's Preview does (``pdx_mapper.preview.preview_draft``)."""

    def __init__(self, session: aiohttp.ClientSession, tokens: TokenProvider, company_id: str,
                 base_url: str | None) -> None:
        self._session, self._tokens, self._company_id, self._base_url = session, tokens, company_id, base_url

    async def deals(self, *, pipeline_id: int, stage_id: int | None, status: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"pipeline_id": pipeline_id, "status": status}
        if stage_id is not None:
            params["stage_id"] = stage_id
        client = PipedriveClient(self._session, self._tokens, self._company_id, self._base_url, timeout=30)
        return await client.listed("/api/v2/deals", params, page_size=PAGE)

    async def preview(self, deal_id: str, settings: CompanySettings, action: str, today: date) -> Any:
        from pdx_mapper.adapters.pipedrive import PipedriveDealReader
        from pdx_mapper.preview import preview_draft

        reader = PipedriveDealReader(self._session, self._tokens, self._base_url)
        return await preview_draft(reader, self._company_id, deal_id, settings, action, today)


# --- the runner ---------------------------------------------------------------------------------------------------

class JobRunner:
    """Takes checking and running jobs under a lease and moves them on; one per gateway process.

    It stops by finishing what it is doing (``stop``), never by cancelling a store operation in flight: a cancelled
    operation that is opening a new connection to the store leaves that socket unclosed."""

    def __init__(self, jobs: MongoJobs, settings: MongoSettingsStore, publisher: Publisher,
                 stage_events: StageEvents, sources: Sources, options: RunnerOptions | None = None,
                 owner: str | None = None) -> None:
        self.jobs, self.settings, self.publisher, self.stage_events = jobs, settings, publisher, stage_events
        self.sources, self.options = sources, options or RunnerOptions()
        self.owner = owner or new_id()
        self._tasks: dict[str, asyncio.Task] = {}
        self._lease = timedelta(seconds=self.options.lease_seconds)
        self._stopping = asyncio.Event()

    async def run_forever(self) -> None:
        """Scans for free jobs until ``stop``."""
        while not self._stopping.is_set():
            try:
                await self.take_jobs()
            except Exception:
                log.exception("job runner scan failed")
            await self._pause(self.options.scan_seconds)

    async def _pause(self, seconds: float) -> None:
        """Waits ``seconds``, or less when the runner is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def take_jobs(self) -> None:
        """Every job free to take, each in a task of its own."""
        while not self._stopping.is_set():
            job = await self.jobs.claim(self.owner, self._lease, _now(), set(self._tasks))
            if job is None:
                return
            task = asyncio.create_task(self._run(job), name=f"job-{job['_id']}")
            self._tasks[job["_id"]] = task
            task.add_done_callback(lambda _t, job_id=job["_id"]: self._tasks.pop(job_id, None))

    async def stop(self, grace: float = 10.0) -> None:
        """Its jobs stop at their next step and let their leases go (another gateway takes them over); a job still
        busy after ``grace`` seconds (a long check) is cancelled."""
        self._stopping.set()
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, busy = await asyncio.wait(tasks, timeout=grace)
        for task in busy:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, job: dict[str, Any]) -> None:
        job_id = job["_id"]
        work = asyncio.create_task(self._work(job))
        try:
            while not work.done():
                done, _ = await asyncio.wait({work}, timeout=self.options.lease_seconds / 3)
                if done:
                    break
                if await self.jobs.renew(job_id, self.owner, self._lease, _now()) is None:
                    log.warning("job lease lost", job_id=job_id)
                    work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
        except asyncio.CancelledError:
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            raise
        except Exception:
            log.exception("job failed", job_id=job_id)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.jobs.release(job_id, self.owner))

    async def _work(self, job: dict[str, Any]) -> None:
        job_id = job["_id"]
        if job["state"] == "dry_run":
            await self._check(job)
        while not self._stopping.is_set():
            job = await self.jobs.renew(job_id, self.owner, self._lease, _now())
            if job is None or job["state"] != "running":
                return
            if await self.step(job):
                return
            await self._pause(self.options.step_seconds)

    async def _check(self, job: dict[str, Any]) -> None:
        company_id = job["company_id"]
        source = self.sources(company_id)
        changes: dict[str, Any]
        if source is None:
            changes = {"state": "failed", "finished_at": _now(),
                       "error": "Pipedrive is not connected here, so no deal can be read. Reinstall or reconnect "
                                "the app in Pipedrive, then check again."}
        else:
            settings = await self.settings.get(company_id)
            try:
                items, counts, problems = await check_backfill(company_id, settings, source, self.jobs,
                                                               self.options.preview_concurrency)
            except (ApiError, ConnectionMissing, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("backfill check failed", job_id=job["_id"], error=str(exc))
                changes = {"state": "failed", "finished_at": _now(),
                           "error": "We could not read the deals from Pipedrive. Check that Pipedrive is connected "
                                    "under Connections, then check again."}
            else:
                now = _now()
                start = bool(job.get("start_when_checked"))
                changes = {"items": items, "checked": counts, "problems": problems, "cursor": 0,
                           "state": "running" if start else "ready", **({"started_at": now} if start else {})}
                if not items and start:
                    changes.update(state="done", finished_at=now)
        if not await self.jobs.update(job["_id"], self.owner, changes, state="dry_run"):
            # Cancelled meanwhile: a dry run that finishes later must not bring it back.
            log.info("backfill check dropped: the job changed meanwhile", job_id=job["_id"])
            return
        if changes["state"] == "ready":
            # "start" may have been asked while the check ran.
            fresh = await self.jobs.by_id(job["_id"])
            if fresh is not None and fresh.get("start_when_checked") and fresh["state"] == "ready":
                await self.jobs.start(job["company_id"], job["_id"], _now())

    async def step(self, job: dict[str, Any]) -> bool:
        """Records the outcomes that arrived, publishes up to the window, and says whether the job is finished."""
        job_id, company_id = job["_id"], job["company_id"]
        items: list[dict[str, Any]] = job["items"]
        cursor: int = job.get("cursor") or 0
        now = _now()
        timeout = timedelta(seconds=self.options.item_timeout_seconds)
        waiting = [i for i in range(cursor) if not items[i].get("outcome")]
        found = await self.jobs.outcomes(company_id, [(items[i]["deal_id"], items[i]["trigger_id"])
                                                      for i in waiting])
        changes: dict[str, Any] = {}
        outstanding = 0
        for i in waiting:
            outcome = _outcome(items[i], found.get((items[i]["deal_id"], items[i]["trigger_id"])), now, timeout)
            if outcome:
                changes[f"items.{i}.outcome"] = items[i]["outcome"] = outcome
            else:
                outstanding += 1
        if changes and not await self.jobs.update(job_id, self.owner, changes, state="running"):
            return True
        free = self.options.window - outstanding
        # A bulk replay publishes a deal's items together (one replay names all its failed triggers): the group
        # goes only when it fits in the window, so the window holds; one larger than the window goes alone.
        while cursor < len(items) and free > 0 and (_group_end(job, cursor) - cursor <= free or outstanding == 0):
            published = await self._publish_next(job, cursor, now)
            if published is None:
                return True  # lease lost or job stopped
            cursor, used = published
            free -= used
            outstanding += used
        if cursor >= len(items) and outstanding == 0:
            await self.jobs.update(job_id, self.owner, {"state": "done", "finished_at": _now()}, state="running")
            log.info("job done", job_id=job_id, kind=job["kind"], **progress(job))
            return True
        return False

    async def _publish_next(self, job: dict[str, Any], cursor: int, now: datetime) -> tuple[int, int] | None:
        """Publishes the item at ``cursor`` (a replay: every item of that deal) and moves the cursor past it.
        Returns (the new cursor, items now outstanding), or None when the job is no longer this runner's."""
        job_id, company_id, items = job["_id"], job["company_id"], job["items"]
        item = items[cursor]
        if job["kind"] == "backfill" and await self.jobs.drafted(company_id, [(item["deal_id"], item["trigger_id"])]):
            # Drafted since the dry run (a live stage move, another run): nothing to do.
            item["outcome"] = "already_drafted"
            ok = await self.jobs.update(job_id, self.owner, {f"items.{cursor}.outcome": "already_drafted",
                                                             "cursor": cursor + 1}, state="running")
            return (cursor + 1, 0) if ok else None
        end = _group_end(job, cursor)
        # The publish time is stored first: an outcome may come back before the publish call returns.
        published_at = {i: items[i].get("published_at") or now for i in range(cursor, end)}
        if not await self.jobs.update(job_id, self.owner, {f"items.{i}.published_at": at
                                                           for i, at in published_at.items()}, state="running"):
            return None
        for i, at in published_at.items():
            items[i]["published_at"] = at
        settled = await self._publish(job, item)
        changes: dict[str, Any] = {"cursor": end}
        if settled:
            changes |= {f"items.{i}.outcome": settled for i in range(cursor, end)}
            for i in range(cursor, end):
                items[i]["outcome"] = settled
        if not await self.jobs.update(job_id, self.owner, changes, state="running"):
            return None
        return end, 0 if settled else end - cursor

    async def _publish(self, job: dict[str, Any], item: dict[str, Any]) -> str | None:
        """Publishes one item; an outcome when nothing needed publishing."""
        company_id, deal_id = job["company_id"], item["deal_id"]
        if job["kind"] == "replay_failed":
            try:
                await replay_deal(company_id, deal_id, self.publisher, self.stage_events)
            except (NothingToReplay, NotFound):
                return "skipped"  # settled meanwhile, or failed before any stage move we know of
            return None
        event = DealChanged(company_id=company_id, deal_id=deal_id, action="change",
                            event_id=f"backfill-{job['_id']}-{deal_id}-{item['trigger_id']}",
                            replay_triggers=(item["trigger_id"],), request="backfill")
        await self.publisher.publish(event, topics.DEAL_EVENTS, topics.deal_key(company_id, deal_id))
        return None


def _group_end(job: dict[str, Any], cursor: int) -> int:
    """Past the items published together with the one at ``cursor``: a bulk replay's items of the same deal."""
    items, end = job["items"], cursor + 1
    if job["kind"] == "replay_failed":
        while end < len(items) and items[end]["deal_id"] == items[cursor]["deal_id"]:
            end += 1
    return end


def _outcome(item: dict[str, Any], status: dict[str, Any] | None, now: datetime, timeout: timedelta) -> str | None:
    published_at = utc(item["published_at"])
    if status is not None and isinstance(status.get("at"), datetime):
        at, state = utc(status["at"]), status.get("state")
        if state == "created":
            # A draft is never un-made: one recorded before the publish means the deal had it already.
            return "created" if at >= published_at else "already_drafted"
        if at >= published_at and state in ("failed", "skipped", "parked"):
            return state
    if now - published_at > timeout:
        return "no_answer"
    return None


# --- in the gateway -----------------------------------------------------------------------------------------------

async def runner_context(app: web.Application) -> AsyncIterator[None]:
    """Every gateway runs jobs: a background task taking free jobs, stopped with the gateway."""
    from pdx_gateway.keys import CONNECTOR, DB, PUBLISHER, STAGE_EVENTS

    jobs = MongoJobs(app[DB])
    await jobs.ensure_indexes()

    def sources(company_id: str) -> DealSource | None:
        connector = app.get(CONNECTOR)
        if connector is None:
            return None
        return PipedriveDealSource(connector.session, connector.pipedrive_tokens(), company_id,
                                   connector.settings.pipedrive_api_url)

    runner = JobRunner(jobs, MongoSettingsStore(app[DB]), app[PUBLISHER], app[STAGE_EVENTS], sources,
                       app.get(RUNNER_OPTIONS))
    task = asyncio.create_task(runner.run_forever(), name="job-runner")
    yield
    await runner.stop()
    await task  # its scan in flight ends, then it sees the stop
