"""The ledger: one entry per (company, deal, trigger), so each becomes at most one Xero draft.

States: ``in_progress`` (a writer holds a lease), ``created`` (Xero said yes and we wrote it down), ``failed`` (Xero
or we said no; a replay may try again). An expired ``in_progress`` lease means a writer died mid-call, so the outcome
is unclear: the next writer looks the draft up in Xero before creating anything.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


@dataclass(frozen=True)
class Claim:
    outcome: Literal["claimed", "created", "busy"]
    unclear: bool = False  # a previous attempt may have created the draft
    entry: dict[str, Any] | None = None


class MongoLedger:
    def __init__(self, db: AsyncDatabase, lease_seconds: float) -> None:
        self._col = db.ledger
        self._lease = timedelta(seconds=lease_seconds)

    async def claim(self, key: str, command_id: str, company_id: str, deal_id: str) -> Claim:
        now = datetime.now(UTC)
        lease = {"state": "in_progress", "owner": command_id, "lease_until": now + self._lease, "updated_at": now}
        before = await self._col.find_one_and_update(
            {"_id": key, "$or": [{"state": "failed"}, {"state": "in_progress", "lease_until": {"$lt": now}}]},
            {"$set": lease, "$inc": {"attempts": 1}}, return_document=ReturnDocument.BEFORE)
        if before is not None:
            return Claim("claimed", unclear=before["state"] == "in_progress", entry=before)
        try:
            await self._col.insert_one({"_id": key, "company_id": company_id, "deal_id": deal_id, "attempts": 1,
                                        "created_at": now, **lease})
            return Claim("claimed")
        except DuplicateKeyError:
            entry = await self._col.find_one({"_id": key})
        if entry and entry["state"] == "created":
            return Claim("created", entry=entry)
        return Claim("busy", entry=entry)

    async def created(self, key: str, command_id: str, source_event_id: str, document: dict[str, Any]) -> None:
        await self._col.update_one({"_id": key}, {"$set": {
            "state": "created", "document": document, "owner": command_id, "source_event_id": source_event_id,
            "result_published": False,
            "updated_at": datetime.now(UTC)}, "$unset": {"lease_until": ""}})

    async def result_published(self, key: str) -> None:
        await self._col.update_one({"_id": key}, {"$set": {"result_published": True}})

    async def failed(self, key: str, command_id: str, code: str) -> None:
        await self._col.update_one({"_id": key, "owner": command_id}, {"$set": {
            "state": "failed", "failure_code": code, "updated_at": datetime.now(UTC)}, "$unset": {"lease_until": ""}})

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": key})
