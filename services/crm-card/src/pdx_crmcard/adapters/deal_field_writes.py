"""What each deal's fields were last given (``deal_field_writes``), so that a change Xero reports again (a redelivered
webhook, an Update, the quote check) costs Pipedrive nothing, while every real change is written, values the deal had
before included (paid, then the payment removed in Xero: "Awaiting payment" again). One document per deal, taken by
compare-and-set on what it holds::

    {"_id": "deal-fields:7001:42", "company_id": "7001", "deal_id": "42", "xero_id": "<InvoiceID>",
     "body": {"custom_fields": {...}, "stage_id": 5}, "digest": "<sha of body>" | None,
     "state": "writing" | "written" | "refused" | "released", "claim": "<the writer's id>", "again": false,
     "at": datetime, "reason": "Pipedrive refused ..." (refused only)}

``digest`` is what the deal last got, or is getting while ``writing``; None once a write that failed for a while was
released (the deal may or may not have it: the retry writes it). ``again``: other values were seen while the writer
was busy; the writer reads the deal's documents again when it is done, so the newest values are the last written.
A ``writing`` claim older than ``STALE`` is a writer that died mid-way: the next one takes it.

Each write Pipedrive refused for good (a field deleted, the deal gone) is also kept on its own, for the settings
page, which lists the company's ``state: "failed"`` documents newest first::

    {"_id": "deal-fields:7001:42:failed:<digest>", "company_id": "7001", "deal_id": "42", "xero_id": "<InvoiceID>",
     "body": {...}, "state": "failed", "reason": "Pipedrive refused the update of the deal (400): ...", "at": datetime}

Every ``_id`` starts ``deal-fields:<company>:`` (the company's erasure finds them by that, or by ``company_id``).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

STALE = timedelta(seconds=60)  # a claim still "writing" after this: its writer died mid-way, another may take it
ROUNDS = 5  # compare-and-set attempts when the document changes under us (only ever under contention)


@dataclass(frozen=True)
class Claim:
    """The right to write ``body`` on the deal, held until ``written``, ``refused`` or ``release``."""

    key: str
    token: str
    company_id: str
    deal_id: str
    xero_id: str
    body: dict[str, Any]
    digest: str


class DealFieldsBusy(RuntimeError):
    """The deal's document kept changing under us (never expected: each round is one atomic step)."""


class MongoDealFieldWrites:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.deal_field_writes

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", ASCENDING), ("state", ASCENDING), ("at", ASCENDING)])

    @staticmethod
    def key(company_id: str, deal_id: str) -> str:
        return f"deal-fields:{company_id}:{deal_id}"

    async def claim(self, company_id: str, deal_id: str, *, xero_id: str, body: dict[str, Any],
                    digest: str) -> Claim | None:
        """A claim when this caller should write ``body`` (the deal last got other values, or nothing yet, or its
        writer died mid-way); None when the deal has these values or is getting them, or when another writer is busy
        with other values (it is told to look again when done)."""
        key = self.key(company_id, deal_id)
        for _ in range(ROUNDS):
            now = datetime.now(UTC)
            fresh = {"state": "writing", "at": {"$gte": now - STALE}}
            if await self._col.find_one({"_id": key, "digest": digest, "$or": [{"state": {"$ne": "writing"}},
                                                                               {"at": {"$gte": now - STALE}}]}):
                return None  # written (or refused) already, or being written now
            if (await self._col.update_one({"_id": key, **fresh, "digest": {"$ne": digest}},
                                           {"$set": {"again": True}})).matched_count:
                return None  # the writer busy with other values reads the documents again when done
            claim = Claim(key, uuid.uuid4().hex, company_id, deal_id, xero_id, body, digest)
            mine = {"company_id": company_id, "deal_id": deal_id, "xero_id": xero_id, "body": body, "digest": digest,
                    "state": "writing", "claim": claim.token, "again": False, "at": now}
            taken = await self._col.update_one(
                {"_id": key, "$or": [{"state": {"$ne": "writing"}, "digest": {"$ne": digest}},
                                     {"state": "writing", "at": {"$lt": now - STALE}}]},
                {"$set": mine, "$unset": {"reason": ""}})
            if taken.matched_count:
                return claim
            try:
                await self._col.insert_one({"_id": key, **mine})
                return claim
            except DuplicateKeyError:
                continue  # it changed between our steps: look again
        raise DealFieldsBusy(f"{key} kept changing; the retry writes it")

    async def written(self, claim: Claim) -> bool:
        """Done; True when other values were seen meanwhile (read the deal's documents again)."""
        return await self._finish(claim, {"state": "written"})

    async def refused(self, claim: Claim, reason: str) -> bool:
        """Pipedrive refused these values for good: not tried again, and listed on the settings page."""
        now = datetime.now(UTC)
        await self._col.update_one({"_id": f"{claim.key}:failed:{claim.digest}"}, {"$set": {
            "company_id": claim.company_id, "deal_id": claim.deal_id, "xero_id": claim.xero_id, "body": claim.body,
            "state": "failed", "reason": reason, "at": now}}, upsert=True)
        return await self._finish(claim, {"state": "refused", "reason": reason})

    async def release(self, claim: Claim) -> None:
        """The write failed for a while: whether the deal got it is unknown, so the retry writes it."""
        await self._col.update_one({"_id": claim.key, "claim": claim.token, "state": "writing"},
                                   {"$set": {"state": "released", "digest": None, "at": datetime.now(UTC)}})

    async def _finish(self, claim: Claim, fields: dict[str, Any]) -> bool:
        before = await self._col.find_one_and_update(
            {"_id": claim.key, "claim": claim.token, "state": "writing"},
            {"$set": {**fields, "at": datetime.now(UTC)}}, projection={"again": 1},
            return_document=ReturnDocument.BEFORE)
        return bool(before and before.get("again"))

    async def failures(self, company_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The company's refused writes, newest first (what the settings page shows)."""
        cursor = self._col.find({"company_id": company_id, "state": "failed"}).sort("at", -1)
        return await cursor.to_list(length=limit)
