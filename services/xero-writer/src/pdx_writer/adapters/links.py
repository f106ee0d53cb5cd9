"""What we already know of a Xero organisation: contacts and items resolved before, so a known customer or product
costs no lookup. Keyed by company and tenant, so switching organisation never reuses another's ids."""

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase


class MongoXeroLinks:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.xero_links

    @staticmethod
    def _key(company_id: str, tenant_id: str, kind: str, natural_key: str) -> str:
        return f"{company_id}:{tenant_id}:{kind}:{natural_key.lower()}"

    async def get(self, company_id: str, tenant_id: str, kind: str, natural_key: str) -> str | None:
        doc = await self._col.find_one({"_id": self._key(company_id, tenant_id, kind, natural_key)})
        return doc["xero_id"] if doc else None

    async def put(self, company_id: str, tenant_id: str, kind: str, natural_key: str, xero_id: str) -> None:
        await self._col.update_one({"_id": self._key(company_id, tenant_id, kind, natural_key)},
                                   {"$set": {"xero_id": xero_id, "at": datetime.now(UTC)}}, upsert=True)

    async def forget(self, company_id: str, tenant_id: str, kind: str, natural_key: str) -> None:
        await self._col.delete_one({"_id": self._key(company_id, tenant_id, kind, natural_key)})
