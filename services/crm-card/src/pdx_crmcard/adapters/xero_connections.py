"""Which companies are connected to a Xero organisation, read from the shared ``connections`` collection
(documents written by pdx_common.connections.ConnectionStore)."""

from dataclasses import dataclass
from typing import Literal

from pymongo.asynchronous.database import AsyncDatabase


@dataclass(frozen=True)
class XeroConnection:
    company_id: str
    state: Literal["missing", "broken", "ok"]
    tenant_id: str | None = None
    reason: str | None = None
    tenant_name: str | None = None  # the organisation's name in Xero ("Demo Company (NZ)"), saved at connect


class MongoXeroConnections:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.connections

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("system", 1), ("tenant_id", 1)])

    async def of(self, company_id: str) -> XeroConnection:
        doc = await self._col.find_one({"_id": f"xero:{company_id}"})
        if doc is None or not doc.get("tenant_id"):
            return XeroConnection(company_id, "missing")
        if doc.get("status") != "ok":
            return XeroConnection(company_id, "broken", doc["tenant_id"], doc.get("broken_reason"),
                                  doc.get("tenant_name"))
        return XeroConnection(company_id, "ok", doc["tenant_id"], tenant_name=doc.get("tenant_name"))

    async def companies_for_tenant(self, tenant_id: str) -> list[str]:
        """Every company whose working connection is to this organisation (one organisation may serve several)."""
        cursor = self._col.find({"system": "xero", "tenant_id": tenant_id, "status": "ok"}, {"company_id": 1})
        return [doc["company_id"] async for doc in cursor]

    async def connected(self) -> list[XeroConnection]:
        cursor = self._col.find({"system": "xero", "status": "ok", "tenant_id": {"$ne": None}},
                                {"company_id": 1, "tenant_id": 1})
        return [XeroConnection(doc["company_id"], "ok", doc["tenant_id"]) async for doc in cursor]
