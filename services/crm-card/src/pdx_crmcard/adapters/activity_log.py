"""Which result events already became an activity, so a redelivered result writes no second one."""

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

STALE = timedelta(seconds=60)


class MongoActivityLog:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.activity_log

    async def claim(self, event_id: str, company_id: str, deal_id: str) -> bool:
        """True when this caller should write the activity (first time, or an earlier writer died mid-way)."""
        now = datetime.now(UTC)
        try:
            await self._col.insert_one({"_id": event_id, "company_id": company_id, "deal_id": deal_id,
                                        "state": "writing", "at": now})
            return True
        except DuplicateKeyError:
            taken = await self._col.find_one_and_update(
                {"_id": event_id, "state": "writing", "at": {"$lt": now - STALE}}, {"$set": {"at": now}})
            return taken is not None

    async def written(self, event_id: str, activity_id: object) -> None:
        await self._col.update_one({"_id": event_id}, {"$set": {"state": "written", "activity_id": activity_id}})

    async def release(self, event_id: str) -> None:
        await self._col.delete_one({"_id": event_id, "state": "writing"})
