"""The panel's read model: one document per Xero invoice or quote of a company's organisation (``xero_documents``).

Writes are ordered by Xero's own ``UpdatedDateUTC``: an older copy (a slow webhook fetch racing an Update) never
overwrites a newer one. What only we know (which deal a draft came from) is set by DocumentCreated and kept.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_crmcard.domain import documents
from pdx_crmcard.domain.documents import OPEN_QUOTES


class MongoXeroDocuments:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.xero_documents

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", ASCENDING), ("tenant_id", ASCENDING), ("contact_id", ASCENDING)])
        await self._col.create_index([("company_id", ASCENDING), ("deal_id", ASCENDING)])
        await self._col.create_index([("tenant_id", ASCENDING), ("xero_id", ASCENDING)])
        await self._col.create_index([("company_id", ASCENDING), ("tenant_id", ASCENDING), ("kind", ASCENDING),
                                      ("status", ASCENDING), ("checked_at", ASCENDING)])

    async def known_invoices(self, tenant_id: str, invoice_ids: list[str]) -> set[str]:
        """Which of these invoices the read model holds already (in any company connected to the organisation)."""
        cursor = self._col.find({"tenant_id": tenant_id, "kind": "invoice", "xero_id": {"$in": invoice_ids}},
                                {"xero_id": 1})
        return {doc["xero_id"] async for doc in cursor}

    async def save(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Store what Xero said; the stored document, or None when a newer copy is already there."""
        key = documents.key(doc["company_id"], doc["tenant_id"], doc["kind"], doc["xero_id"])
        now = datetime.now(UTC)
        query: dict[str, Any] = {"_id": key}
        if doc.get("xero_updated") is not None:
            query["$or"] = [{"xero_updated": {"$lte": doc["xero_updated"]}}, {"xero_updated": None}]
        if not await self._upsert(query, {"$set": {**doc, "updated_at": now, "checked_at": now}}):
            return None
        return await self._col.find_one({"_id": key})

    async def record_created(self, ours: dict[str, Any], first: dict[str, Any]) -> dict[str, Any]:
        """A draft we created: the deal link is ours for good; the rest only fills a document not seen yet."""
        key = documents.key(ours["company_id"], ours["tenant_id"], ours["kind"], ours["xero_id"])
        now = datetime.now(UTC)
        if not await self._upsert({"_id": key}, {"$set": {**ours, "updated_at": now},
                                                 "$setOnInsert": {**first, "checked_at": now}}):
            raise RuntimeError(f"could not record draft {key}")
        stored = await self._col.find_one({"_id": key})
        assert stored is not None
        return stored

    async def record_updated(self, ours: dict[str, Any], replaced: dict[str, Any],
                             first: dict[str, Any]) -> dict[str, Any]:
        """A draft a Replay updated in place: its new total, customer and dates replace the old ones; a draft's
        amount due follows its total (Xero's own status and payments are left as Xero last said)."""
        key = documents.key(ours["company_id"], ours["tenant_id"], ours["kind"], ours["xero_id"])
        now = datetime.now(UTC)
        if not await self._upsert({"_id": key}, {"$set": {**ours, **replaced, "updated_at": now},
                                                 "$setOnInsert": {**first, "checked_at": now}}):
            raise RuntimeError(f"could not record the update of draft {key}")
        if ours["kind"] == "invoice":
            await self._col.update_one({"_id": key, "status": "DRAFT"}, {"$set": {"amount_due": replaced["total"]}})
        stored = await self._col.find_one({"_id": key})
        assert stored is not None
        return stored

    async def _upsert(self, query: dict[str, Any], update: dict[str, Any]) -> bool:
        """False when the query misses an existing document (a newer copy). A collision may also be a first writer
        racing us, so it is tried twice: the second try finds and updates that writer's document."""
        for _ in range(2):
            try:
                await self._col.update_one(query, update, upsert=True)
                return True
            except DuplicateKeyError:
                continue
        return False

    async def for_contacts(self, company_id: str, tenant_id: str, contact_ids: list[str]) -> list[dict[str, Any]]:
        if not contact_ids:
            return []
        cursor = self._col.find({"company_id": company_id, "tenant_id": tenant_id, "contact_id": {"$in": contact_ids}})
        return await cursor.to_list(length=500)

    async def for_deal(self, company_id: str, tenant_id: str, deal_id: str) -> list[dict[str, Any]]:
        cursor = self._col.find({"company_id": company_id, "tenant_id": tenant_id, "deal_id": deal_id})
        return await cursor.to_list(length=100)

    async def contact_for_number(self, company_id: str, tenant_id: str, contact_number: str) -> str | None:
        """The Xero contact our drafts used for a Pipedrive customer (``pd-org-12``), when the link is not stored."""
        doc = await self._col.find_one({"company_id": company_id, "tenant_id": tenant_id,
                                        "contact_number": contact_number, "contact_id": {"$ne": None}})
        return doc["contact_id"] if doc else None

    async def contacts_with_open_quotes(self, company_id: str, tenant_id: str, limit: int) -> list[str]:
        """Customers whose open quotes were checked longest ago, first; one Xero call refreshes each."""
        cursor = self._col.find({"company_id": company_id, "tenant_id": tenant_id, "kind": "quote",
                                 "status": {"$in": list(OPEN_QUOTES)}, "contact_id": {"$ne": None}},
                                {"contact_id": 1}).sort("checked_at", ASCENDING)
        found: list[str] = []
        async for doc in cursor:
            if doc["contact_id"] not in found:
                found.append(doc["contact_id"])
                if len(found) >= limit:
                    break
        return found

    async def mark_checked(self, company_id: str, tenant_id: str, contact_id: str) -> None:
        await self._col.update_many({"company_id": company_id, "tenant_id": tenant_id, "contact_id": contact_id},
                                    {"$set": {"checked_at": datetime.now(UTC)}})

    async def last_checked(self, company_id: str, tenant_id: str, contact_ids: list[str]) -> datetime | None:
        doc = await self._col.find_one({"company_id": company_id, "tenant_id": tenant_id,
                                        "contact_id": {"$in": contact_ids}}, sort=[("checked_at", -1)])
        return doc.get("checked_at") if doc else None
