"""Which Xero record stands for a Pipedrive customer or product, per company and Xero organisation (collection
``xero_links``), so a known customer or product costs no lookup. Keyed by company and tenant, so switching
organisation never reuses another's ids.

One document per link::

    {"_id": "7001:<tenant>:contact:pd-org-12", "xero_id": "<ContactID>", "at": datetime,
     "company_id": "7001", "tenant_id": "<tenant>", "kind": "contact", "key": "pd-org-12",
     "how": "created" | "matched" | "manual" | "card",   # who made the link (absent on links from before issue 12)
     "person_id": "7",         # an organisation's contact: the Pipedrive person whose email and phone it carries
     "name": "Acme Ltd",       # the Xero record's name when linked (for the settings page)
     "synced": {"Name": "...", ...}}  # the mapped fields last written to Xero (master-data sync skips what is equal)

Written by the xero-writer (created, matched, synced), the gateway (an admin's manual link) and the crm-card (a
customer the card found); read by all three.
"""

from datetime import UTC, datetime
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

LinkKind = Literal["contact", "item"]
How = Literal["created", "matched", "manual", "card"]


class MongoXeroLinks:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.xero_links

    @staticmethod
    def key(company_id: str, tenant_id: str, kind: str, natural_key: str) -> str:
        return f"{company_id}:{tenant_id}:{kind}:{natural_key.lower()}"

    async def get(self, company_id: str, tenant_id: str, kind: str, natural_key: str) -> str | None:
        doc = await self.doc(company_id, tenant_id, kind, natural_key)
        return doc["xero_id"] if doc else None

    async def doc(self, company_id: str, tenant_id: str, kind: str, natural_key: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": self.key(company_id, tenant_id, kind, natural_key)})

    async def put(self, company_id: str, tenant_id: str, kind: str, natural_key: str, xero_id: str, *,
                  how: How | None = None, person_id: str | None = None, name: str | None = None) -> None:
        """Link (or re-link) the record. A manual link is never replaced by an automatic one: only ``how="manual"``
        (an admin) or ``forget`` changes it. Re-linking to another Xero record forgets what was synced."""
        _id = self.key(company_id, tenant_id, kind, natural_key)
        fields: dict[str, Any] = {"xero_id": xero_id, "at": datetime.now(UTC), "company_id": company_id,
                                  "tenant_id": tenant_id, "kind": kind, "key": natural_key.lower()}
        if how is not None:
            fields["how"] = how
        if person_id is not None:
            fields["person_id"] = person_id
        if name is not None:
            fields["name"] = name
        existing = await self._col.find_one({"_id": _id}, {"xero_id": 1, "how": 1})
        if existing and existing.get("how") == "manual" and how != "manual":
            if person_id is not None and existing.get("xero_id") == xero_id:
                await self._col.update_one({"_id": _id}, {"$set": {"person_id": person_id}})
            return
        update: dict[str, Any] = {"$set": fields}
        if existing is not None and existing.get("xero_id") != xero_id:
            update["$unset"] = {"synced": ""}
        await self._col.update_one({"_id": _id}, update, upsert=True)

    async def synced(self, company_id: str, tenant_id: str, kind: str, natural_key: str,
                     fields: dict[str, Any]) -> None:
        """Remember the mapped fields just written to Xero (merged into what was written before)."""
        await self._col.update_one({"_id": self.key(company_id, tenant_id, kind, natural_key)},
                                   {"$set": {f"synced.{name}": value for name, value in fields.items()}})

    async def forget(self, company_id: str, tenant_id: str, kind: str, natural_key: str) -> None:
        await self._col.delete_one({"_id": self.key(company_id, tenant_id, kind, natural_key)})

    async def contacts_of_person(self, company_id: str, tenant_id: str, person_id: str) -> list[dict[str, Any]]:
        """Organisation contacts that carry this person's email and phone."""
        return [doc async for doc in self._col.find({"company_id": company_id, "tenant_id": tenant_id,
                                                      "kind": "contact", "person_id": person_id})]

    async def listed(self, company_id: str, tenant_id: str, kind: str, *, limit: int = 500) -> list[dict[str, Any]]:
        """A company's links of one kind in one organisation, newest first (the settings page)."""
        prefix = f"{company_id}:{tenant_id}:{kind}:"
        cursor = self._col.find({"_id": {"$gte": prefix, "$lt": prefix + "\uffff"}}).sort("at", -1).limit(limit)
        return [doc async for doc in cursor]
