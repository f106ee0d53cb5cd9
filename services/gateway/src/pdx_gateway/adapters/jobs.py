"""Backfill and bulk-replay jobs in the store (collection ``jobs``), under a lease so one gateway runs a job at a time.

A job document::

    {"_id": "9f0c...", "company_id": "7001", "kind": "backfill", "state": "running",
     "items": [{"deal_id": "42", "trigger_id": "p1-s5", "title": "Acme boots", "published_at": ..., "outcome": ...}],
     "cursor": 17, "counts": {...}, "problems": [...], "start_when_checked": false,
     "created_at": ..., "started_at": ..., "finished_at": ..., "lease": {"owner": "a1b2...", "until": ...}}

``cursor`` is the next item to publish; an item's ``outcome`` (created, failed, skipped, parked, already_drafted,
no_answer) is written once it is known. Every write of a running job names the lease's owner, so a gateway that lost
its lease (paused, partitioned) cannot move the job on behind the new owner's back.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

ACTIVE = ("dry_run", "ready", "running")
# A job's state -> what the pages call it.
STATES = ("dry_run", "ready", "running", "done", "cancelled", "failed")


class MongoJobs:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.jobs
        self._ledger = db.ledger  # the writer's: "company:deal:trigger", state "created" once the draft exists
        self._status = db.deal_status  # the crm-card's results consumer: each (deal, trigger)'s last outcome

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", 1), ("created_at", -1)])
        await self._col.create_index([("state", 1), ("lease.until", 1)])

    async def create(self, job: dict[str, Any]) -> dict[str, Any]:
        await self._col.insert_one(job)
        return job

    async def get(self, company_id: str, job_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": job_id, "company_id": company_id})

    async def by_id(self, job_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": job_id})

    async def latest(self, company_id: str, kind: str) -> dict[str, Any] | None:
        """The company's newest job of this kind (the pages show its progress)."""
        return await self._col.find_one({"company_id": company_id, "kind": kind}, sort=[("created_at", -1)])

    async def active(self, company_id: str, kind: str) -> dict[str, Any] | None:
        return await self._col.find_one({"company_id": company_id, "kind": kind, "state": {"$in": ["dry_run",
                                                                                                  "running"]}})

    async def start(self, company_id: str, job_id: str, now: datetime) -> dict[str, Any] | None:
        """ready -> running (a checked backfill); None when the job is not ready."""
        return await self._col.find_one_and_update(
            {"_id": job_id, "company_id": company_id, "state": "ready"},
            {"$set": {"state": "running", "started_at": now}}, return_document=ReturnDocument.AFTER)

    async def start_when_checked(self, company_id: str, job_id: str) -> None:
        await self._col.update_one({"_id": job_id, "company_id": company_id}, {"$set": {"start_when_checked": True}})

    async def cancel(self, company_id: str, job_id: str, now: datetime) -> dict[str, Any] | None:
        """Any job not finished stops; the runner sees it at its next step and publishes nothing more."""
        return await self._col.find_one_and_update(
            {"_id": job_id, "company_id": company_id, "state": {"$in": list(ACTIVE)}},
            {"$set": {"state": "cancelled", "finished_at": now}}, return_document=ReturnDocument.AFTER)

    async def supersede_ready(self, company_id: str, kind: str, now: datetime) -> None:
        """A new dry run replaces a checked job nobody started."""
        await self._col.update_many({"company_id": company_id, "kind": kind, "state": "ready"},
                                    {"$set": {"state": "cancelled", "finished_at": now}})

    # --- the runner's side ----------------------------------------------------------------------------------------

    async def claim(self, owner: str, lease: timedelta, now: datetime,
                    skip: set[str]) -> dict[str, Any] | None:
        """A job to run (checking or running) whose lease is free or lapsed, now leased to ``owner``."""
        return await self._col.find_one_and_update(
            {"state": {"$in": ["dry_run", "running"]}, "_id": {"$nin": sorted(skip)},
             "$or": [{"lease": None}, {"lease.until": {"$lt": now}}, {"lease.owner": owner}]},
            {"$set": {"lease": {"owner": owner, "until": now + lease}}},
            sort=[("created_at", 1)], return_document=ReturnDocument.AFTER)

    async def renew(self, job_id: str, owner: str, lease: timedelta, now: datetime) -> dict[str, Any] | None:
        """The job, its lease extended; None when another owner took it over (stop running it)."""
        return await self._col.find_one_and_update(
            {"_id": job_id, "lease.owner": owner}, {"$set": {"lease.until": now + lease}},
            return_document=ReturnDocument.AFTER)

    async def release(self, job_id: str, owner: str) -> None:
        await self._col.update_one({"_id": job_id, "lease.owner": owner}, {"$set": {"lease": None}})

    async def update(self, job_id: str, owner: str, changes: dict[str, Any], *,
                     state: str | None = None) -> bool:
        """Writes ``changes`` while ``owner`` holds the lease (and the job is still in ``state``)."""
        query: dict[str, Any] = {"_id": job_id, "lease.owner": owner}
        if state is not None:
            query["state"] = state
        result = await self._col.update_one(query, {"$set": changes})
        return result.matched_count == 1

    async def drafted(self, company_id: str, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (deal, trigger) pairs already have their draft: the writer's ledger says "created", or the results
        consumer recorded the draft."""
        keys = [f"{company_id}:{deal}:{trigger}" for deal, trigger in pairs]
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            for col in (self._ledger, self._status):
                async for doc in col.find({"_id": {"$in": chunk}, "state": "created"}, {"_id": 1}):
                    found.add(doc["_id"])
        return {pair for pair, key in zip(pairs, keys, strict=True) if key in found}

    async def outcomes(self, company_id: str, pairs: list[tuple[str, str | None]]) -> dict[tuple[str, str | None],
                                                                                          dict[str, Any]]:
        """Each pair's last outcome as the results consumer stored it: ``{"state": ..., "at": ...}``."""
        keys = {f"{company_id}:{deal}:{trigger or 'unknown'}": (deal, trigger) for deal, trigger in pairs}
        found: dict[tuple[str, str | None], dict[str, Any]] = {}
        async for doc in self._status.find({"_id": {"$in": list(keys)}}, {"state": 1, "at": 1}):
            found[keys[doc["_id"]]] = doc
        return found

    async def failed_pairs(self, company_id: str) -> list[tuple[str, str | None]]:
        """(deal, trigger) whose last outcome is a failure, deal by deal."""
        cursor = self._status.find({"company_id": company_id, "state": "failed"}, {"deal_id": 1, "trigger_id": 1})
        pairs = {(str(doc["deal_id"]), doc.get("trigger_id")) async for doc in cursor}
        return sorted(pairs, key=lambda p: (len(p[0]), p[0], p[1] or ""))


def utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
