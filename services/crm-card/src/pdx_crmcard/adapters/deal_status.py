"""Each (deal, trigger)'s last outcome, for replay of failed deals and for the panel. Older results never win.

A draft updated in place by a Replay (DocumentUpdated) is "created" again, with its new number and total.
"""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_common.contracts import (
    DocumentCreated,
    DocumentFailed,
    DocumentParked,
    DocumentSkipped,
    DocumentUpdated,
    DocumentWritten,
)

STATES = {"DocumentCreated": "created", "DocumentUpdated": "created", "DocumentFailed": "failed",
          "DocumentSkipped": "skipped", "DocumentParked": "parked"}
Outcome = DocumentCreated | DocumentUpdated | DocumentFailed | DocumentSkipped | DocumentParked


class MongoDealStatus:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.deal_status

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", 1), ("state", 1)])  # replay-failed
        await self._col.create_index([("company_id", 1), ("deal_id", 1)])

    async def failures(self, company_id: str, deal_id: str, limit: int = 3) -> list[dict[str, Any]]:
        """The deal's triggers whose last outcome is a failure, newest first (what its panel shows)."""
        cursor = self._col.find({"company_id": company_id, "deal_id": deal_id, "state": "failed"}).sort("at", -1)
        return await cursor.to_list(length=limit)

    async def record(self, event: Outcome) -> bool:
        """Stores the outcome unless a newer one is stored. False when the outcome is moot: a failure or a skip
        for a trigger that already made its draft (a late or re-delivered event cannot un-make a draft)."""
        key = f"{event.company_id}:{event.deal_id}:{event.trigger_id or 'unknown'}"
        doc = {"company_id": event.company_id, "deal_id": event.deal_id, "trigger_id": event.trigger_id,
               "state": STATES[event.type], "at": event.occurred_at, "result_id": event.id}
        if isinstance(event, DocumentFailed):
            doc.update(code=event.code, message=event.message, fix=event.fix)
        elif isinstance(event, DocumentWritten):
            # What the settings app's sync log shows: the number, the total, and a link into the right organisation.
            doc.update(kind=event.kind, number=event.number, xero_id=event.xero_id, total=str(event.total),
                       tenant_id=event.tenant_id, currency_code=event.currency_code, xero_url=event.xero_url)
            if isinstance(event, DocumentUpdated):
                # The sync log says the draft was updated by a Replay, and when.
                doc["then"] = {"at": event.occurred_at, "text": "Updated in place by a Replay."}
        elif isinstance(event, DocumentParked):
            doc.update(kind=event.kind, reason=event.reason)
        else:
            doc.update(reason=event.reason)
        if not isinstance(event, DocumentWritten) and event.trigger_id is not None and \
                await self._col.find_one({"_id": key, "state": "created"}):
            # A skip after a creation leaves the deal "created"; a failure for a trigger whose draft exists (an
            # older event arriving late, a re-entry that cannot map) changes nothing: the draft stands.
            if isinstance(event, DocumentSkipped):
                # What happened then (a Replay left the document untouched, a re-entry made no second draft), for
                # the sync log; the newest such note wins.
                await self._col.update_one(
                    {"_id": key, "state": "created", "$or": [{"then.at": {"$lt": event.occurred_at}},
                                                             {"then": {"$exists": False}}]},
                    {"$set": {"then": {"at": event.occurred_at, "text": event.reason}}})
            return isinstance(event, DocumentSkipped)
        newer_than_stored = {"$or": [{"at": {"$lt": event.occurred_at}}, {"at": {"$exists": False}}]}
        if not isinstance(event, DocumentWritten):
            # In the same write, so a draft recorded between the check above and this write is never overwritten.
            newer_than_stored["state"] = {"$ne": "created"}
        try:
            await self._col.update_one({"_id": key, **newer_than_stored}, {"$set": doc}, upsert=True)
        except DuplicateKeyError:
            # A newer outcome, or the draft, is already stored: a failure for a trigger whose draft exists is moot.
            # A draft's creation or update that lost to a newer outcome still happened in Xero: it is told.
            return isinstance(event, DocumentWritten | DocumentSkipped) or \
                await self._col.find_one({"_id": key, "state": "created"}) is None
        if doc["state"] == "created":
            # A failure that came before any trigger was known (e.g. dead-lettered) is settled by this draft.
            await self._col.update_many({"company_id": event.company_id, "deal_id": event.deal_id,
                                         "trigger_id": None, "state": "failed", "at": {"$lt": event.occurred_at}},
                                        {"$set": {"state": "superseded"}})
        return True
