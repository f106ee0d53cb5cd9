"""Which Xero contact stands for a Pipedrive organisation or person: the xero-writer's ``xero_links`` collection,
read only (``_id`` = ``<company>:<tenant>:contact:<pd-org-12>``, see pdx_common.xero_links)."""

from pymongo.asynchronous.database import AsyncDatabase


class MongoContactLinks:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.xero_links

    async def contact_id(self, company_id: str, tenant_id: str, contact_number: str) -> str | None:
        doc = await self._col.find_one({"_id": f"{company_id}:{tenant_id}:contact:{contact_number.lower()}"})
        return doc["xero_id"] if doc else None
