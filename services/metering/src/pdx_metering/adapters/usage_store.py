"""``metered_drafts``: one record per draft, inserted once however often its result arrives.

The monthly figures are counted from these records, never kept in a separate counter, so a crash between two
writes cannot make them disagree.
"""

from dataclasses import asdict

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_metering.domain.usage import BillableDraft, MonthUsage

COLLECTION = "metered_drafts"


class MongoUsageStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._drafts = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._drafts.create_index([("company_id", 1), ("month", 1)], name="company_month")

    async def record(self, draft: BillableDraft) -> bool:
        """True when this draft was not metered before. The first result's month stays (a late re-publish of
        the same draft does not move it to another month)."""
        key = {"company_id": draft.company_id, "tenant_id": draft.tenant_id, "xero_id": draft.xero_id}
        try:
            result = await self._drafts.update_one({"_id": key}, {"$setOnInsert": asdict(draft)}, upsert=True)
        except DuplicateKeyError:  # two upserts raced on the same draft; the other one inserted it
            return False
        return result.upserted_id is not None

    async def usage(self, company_id: str, first: str | None = None, last: str | None = None) -> list[MonthUsage]:
        """Months with at least one draft, oldest first, from ``first`` to ``last`` inclusive."""
        months: dict[str, str] = {}
        if first:
            months["$gte"] = first
        if last:
            months["$lte"] = last
        match = {"company_id": company_id, **({"month": months} if months else {})}
        cursor = await self._drafts.aggregate([
            {"$match": match},
            {"$group": {"_id": "$month", "drafts": {"$sum": 1}, "invoices": {"$sum": _kind_is("invoice")},
                        "quotes": {"$sum": _kind_is("quote")}}},
            {"$sort": {"_id": 1}},
        ])
        return [MonthUsage(row["_id"], row["drafts"], row["invoices"], row["quotes"]) async for row in cursor]


def _kind_is(kind: str) -> dict:
    return {"$cond": [{"$eq": ["$kind", kind]}, 1, 0]}
