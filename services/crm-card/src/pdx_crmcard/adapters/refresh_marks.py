"""When a company's Xero data was last asked for (``xero_refresh_marks``), so replicas share one budget: an Update
clicked twice in a row costs Xero once, and one replica at a time runs a company's scheduled quote refresh."""

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class MongoRefreshMarks:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.xero_refresh_marks

    async def take(self, key: str, every: timedelta) -> bool:
        """True (and the mark moves to now) when ``key`` was last taken at least ``every`` ago, or never."""
        now = datetime.now(UTC)
        try:  # not due: the filter misses, the upsert collides with the existing mark
            await self._col.find_one_and_update(
                {"_id": key, "$or": [{"at": {"$lte": now - every}}, {"at": None}]}, {"$set": {"at": now}},
                upsert=True)
        except DuplicateKeyError:
            return False
        return True

    async def last(self, key: str) -> datetime | None:
        doc = await self._col.find_one({"_id": key})
        return doc.get("at") if doc else None
