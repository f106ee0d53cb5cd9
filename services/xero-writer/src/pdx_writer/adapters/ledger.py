"""The ledger: one entry per (company, deal, trigger), so each becomes at most one Xero draft.

States: ``in_progress`` (a writer holds a lease), ``created`` (Xero said yes and we wrote it down), ``failed`` (Xero
or we said no; a replay may try again). An expired ``in_progress`` lease means a writer died mid-call, so the outcome
is unclear: the next writer looks the draft up in Xero before creating anything.

A ``created`` entry keeps its lease until the result is published: until then another writer waits (it would
otherwise publish the same DocumentCreated a second time); after the lease, it publishes what the dead writer did not.

A Replay regenerates a ``created`` entry's draft in place without leaving that state (a refused update must never
let the next event create a second document): a short ``regen_owner``/``regen_until`` lease keeps two writers from
updating one draft at once, and ``regenerated`` lists the commands whose update is done, so a redelivered command
announces its update again instead of updating twice.
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

    async def ensure_indexes(self) -> None:
        # The look-up after an unclear outcome asks which entries hold given Xero documents.
        await self._col.create_index("document.xero_id", sparse=True)

    async def claim(self, key: str, command_id: str, company_id: str, deal_id: str) -> Claim:
        now = datetime.now(UTC)
        lease = {"state": "in_progress", "owner": command_id, "lease_until": now + self._lease, "updated_at": now}
        before = await self._col.find_one_and_update(
            {"_id": key, "$or": [{"state": {"$in": ["failed", "parked"]}},
                                 {"state": "in_progress", "lease_until": {"$lt": now}}]},
            {"$set": lease, "$inc": {"attempts": 1}}, return_document=ReturnDocument.BEFORE)
        if before is not None:
            return Claim("claimed", unclear=before["state"] == "in_progress", entry=before)
        try:
            await self._col.insert_one({"_id": key, "company_id": company_id, "deal_id": deal_id, "attempts": 1,
                                        "created_at": now, **lease})
            return Claim("claimed")
        except DuplicateKeyError:
            return await self._settled(key, now)

    async def _settled(self, key: str, now: datetime) -> Claim:
        """``created`` once the result is out, or once its publisher's lease lapsed (then this writer publishes)."""
        orphan = await self._col.find_one_and_update(
            {"_id": key, "state": "created", "result_published": {"$ne": True},
             "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]},
            {"$set": {"lease_until": now + self._lease}}, return_document=ReturnDocument.AFTER)
        if orphan is not None:
            return Claim("created", entry=orphan)
        entry = await self._col.find_one({"_id": key})
        if entry and entry["state"] == "created" and entry.get("result_published"):
            return Claim("created", entry=entry)
        return Claim("busy", entry=entry)

    async def created(self, key: str, command_id: str, source_event_id: str, document: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        await self._col.update_one({"_id": key}, {"$set": {
            "state": "created", "document": document, "owner": command_id, "source_event_id": source_event_id,
            "result_published": False, "lease_until": now + self._lease, "updated_at": now}})

    async def result_published(self, key: str) -> None:
        await self._col.update_one({"_id": key}, {"$set": {"result_published": True}, "$unset": {"lease_until": ""}})

    async def failed(self, key: str, command_id: str, code: str) -> None:
        await self._col.update_one({"_id": key, "owner": command_id}, {"$set": {
            "state": "failed", "failure_code": code, "updated_at": datetime.now(UTC)}, "$unset": {"lease_until": ""}})

    async def release_unclear(self, key: str, command_id: str) -> None:
        """An attempt failed without a clear answer (Xero may have created the draft): let the next attempt take
        over at once; it looks the draft up before creating one."""
        await self._col.update_one({"_id": key, "owner": command_id, "state": "in_progress"},
                                   {"$set": {"lease_until": datetime.now(UTC) - timedelta(seconds=1)}})

    async def parked(self, key: str, command_id: str) -> None:
        """Waiting for Xero to be reconnected: nothing was sent, so the next attempt starts clean."""
        await self._col.update_one({"_id": key, "owner": command_id}, {"$set": {
            "state": "parked", "updated_at": datetime.now(UTC)}, "$unset": {"lease_until": ""}})

    async def regenerating(self, key: str, command_id: str) -> dict[str, Any] | None:
        """Take the regeneration lease of a ``created`` entry: the entry, or None while another writer holds it."""
        now = datetime.now(UTC)
        return await self._col.find_one_and_update(
            # Not even the same command may take a held lease: a redelivery can run beside the first delivery.
            {"_id": key, "state": "created", "$or": [{"regen_until": None}, {"regen_until": {"$lt": now}}]},
            {"$set": {"regen_owner": command_id, "regen_until": now + self._lease}},
            return_document=ReturnDocument.AFTER)

    async def regenerated(self, key: str, command_id: str, document: dict[str, Any]) -> None:
        """The draft was updated: its new facts, and this command noted as done (the last 50 are kept)."""
        await self._col.update_one({"_id": key, "state": "created"}, {
            "$set": {"document": document, "updated_at": datetime.now(UTC)},
            "$push": {"regenerated": {"$each": [command_id], "$slice": -50}},
            "$unset": {"regen_owner": "", "regen_until": ""}})

    async def release_regeneration(self, key: str, command_id: str) -> None:
        await self._col.update_one({"_id": key, "regen_owner": command_id},
                                   {"$unset": {"regen_owner": "", "regen_until": ""}})

    async def recorded_elsewhere(self, key: str, xero_ids: list[str]) -> set[str]:
        """Which of these Xero documents other entries of the ledger already hold (so are not this entry's draft)."""
        cursor = self._col.find({"_id": {"$ne": key}, "document.xero_id": {"$in": xero_ids}}, {"document.xero_id": 1})
        return {doc["document"]["xero_id"] async for doc in cursor}

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": key})
