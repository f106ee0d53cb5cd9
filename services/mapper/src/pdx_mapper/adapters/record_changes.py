"""Collection ``record_changes``: one entry per Pipedrive record whose changes are not yet synced to Xero. Durable, so
a restart loses no change; shared by every mapper replica (leases decide who syncs an entry).

A document::

    {"_id": "7001:organization:12", "company_id": "7001", "entity": "organization", "entity_id": "12",
     "due_at": <first event + delay>, "touches": 3, "last_event_at": <Pipedrive's latest event time>,
     "created": true, "deleted": false, "lease_until": <epoch when free>, "lease_id": "<round>"}

``due_at`` is set when the entry is made and never moved by later events: a burst of edits within the delay is one
sync, and no record waits longer than the delay (plus a round) however often it changes. ``touches`` counts the
events: an entry is deleted after its sync only if no event touched it meanwhile, else it is due again a delay later.
While the company's Pipedrive is not connected its entries are kept, all due again a longer wait later (``postpone``),
so a reconnect sends them.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DeleteOne
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.contracts import RecordChanged

FREE = datetime(1970, 1, 1, tzinfo=UTC)  # lease_until of an entry nobody holds
CONTACTS = ("person", "organization")
ITEMS = ("product",)


def entry_id(company_id: str, entity: str, entity_id: str) -> str:
    return f"{company_id}:{entity}:{entity_id}"


class MongoRecordChanges:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.record_changes

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("due_at", 1)])
        await self._col.create_index([("company_id", 1), ("due_at", 1)])
        await self._col.create_index([("lease_id", 1)])

    async def note(self, event: RecordChanged, now: datetime, delay: timedelta) -> None:
        """One more event for the record: the entry is made due ``delay`` from now, or counted if it exists."""
        at = event.event_timestamp or event.occurred_at
        update: dict[str, Any] = {
            "$setOnInsert": {"company_id": event.company_id, "entity": event.entity, "entity_id": event.entity_id,
                             "due_at": now + delay, "lease_until": FREE, "first_event_at": now},
            "$inc": {"touches": 1}, "$max": {"last_event_at": at}}
        marks = {"created": True} if event.action == "create" else {"deleted": True} if event.action == "delete" \
            else {}
        if marks:
            update["$set"] = marks
        await self._col.update_one({"_id": entry_id(event.company_id, event.entity, event.entity_id)}, update,
                                   upsert=True)

    async def due_companies(self, now: datetime, limit: int = 1000) -> list[str]:
        """Companies with entries due and free, the longest-waiting first."""
        seen: dict[str, None] = {}
        cursor = self._col.find({"due_at": {"$lte": now}, "lease_until": {"$lte": now}}, {"company_id": 1},
                                sort=[("due_at", 1)], limit=limit)
        async for doc in cursor:
            seen.setdefault(doc["company_id"], None)
        return list(seen)

    async def take(self, company_id: str, lease_id: str, now: datetime, lease: timedelta,
                   per_kind: int) -> list[dict[str, Any]]:
        """Up to ``per_kind`` due contacts and ``per_kind`` due items of the company, leased to ``lease_id``."""
        ids: list[str] = []
        for entities in (CONTACTS, ITEMS):
            cursor = self._col.find({"company_id": company_id, "entity": {"$in": list(entities)},
                                     "due_at": {"$lte": now}, "lease_until": {"$lte": now}}, {"_id": 1},
                                    sort=[("due_at", 1)], limit=per_kind)
            ids += [doc["_id"] async for doc in cursor]
        if not ids:
            return []
        await self._col.update_many({"_id": {"$in": ids}, "lease_until": {"$lte": now}},
                                    {"$set": {"lease_until": now + lease, "lease_id": lease_id}})
        return [doc async for doc in self._col.find({"lease_id": lease_id, "company_id": company_id})]

    async def finish(self, lease_id: str, entries: list[dict[str, Any]], now: datetime, delay: timedelta) -> int:
        """The entries are synced: each is deleted unless an event touched it meanwhile (then it is due again a delay
        from now). Returns how many were deleted."""
        if not entries:
            return 0
        result = await self._col.bulk_write(
            [DeleteOne({"_id": e["_id"], "lease_id": lease_id, "touches": e["touches"]}) for e in entries],
            ordered=False)
        await self.release(lease_id, [e["_id"] for e in entries], now + delay)
        return result.deleted_count

    async def release(self, lease_id: str, ids: list[str], due_at: datetime) -> None:
        """The entries (those still held) are free again and due at ``due_at``."""
        if ids:
            await self._col.update_many({"_id": {"$in": ids}, "lease_id": lease_id},
                                        {"$set": {"due_at": due_at, "lease_until": FREE}, "$unset": {"lease_id": ""}})

    async def postpone(self, company_id: str, lease_id: str, now: datetime, due_at: datetime) -> int:
        """Every due entry of the company (those leased to ``lease_id`` and those nobody holds) is due again at
        ``due_at``: one update however many wait, rather than a batch at a time. Returns how many."""
        result = await self._col.update_many(
            {"company_id": company_id, "due_at": {"$lte": now},
             "$or": [{"lease_id": lease_id}, {"lease_until": {"$lte": now}}]},
            {"$set": {"due_at": due_at, "lease_until": FREE}, "$unset": {"lease_id": ""}})
        return result.modified_count
