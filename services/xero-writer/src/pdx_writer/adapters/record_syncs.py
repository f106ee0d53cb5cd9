"""What the last sync of each Pipedrive customer or product did in Xero (collection ``record_syncs``), for the settings
page's Customers & products (problems listed first, with their fix). One document per record and organisation,
keyed like ``xero_links`` (the natural key lower-cased), so the page joins the two by ``_id``::

    {"_id": "7001:<tenant>:contact:pd-org-12", "company_id": "7001", "tenant_id": "<tenant>", "kind": "contact",
     "key": "pd-org-12", "name": "Acme Ltd", "state": "updated" | "created" | "unchanged" | "failed" | "ambiguous",
     "message": "Updated in Xero: address.", "fix": "", "xero_id": "<ContactID>" | None, "at": datetime,
     "origin": "draft"}  # only on a draft's customer problem (see below)

A draft whose customer linking would answer (ambiguous, not in Xero, a duplicate name, its linked contact gone) is
noted here too (``origin: "draft"``), so the customer is listed where it is linked. Once a draft finds the customer,
that note is cleared (``clear_draft_notes``): the customer is listed by its link. A sync's outcome replaces it.

Written by the xero-writer only; erased with the company (the gateway's erasure table).
"""

from datetime import UTC, datetime
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.xero_links import MongoXeroLinks

State = Literal["updated", "created", "unchanged", "failed", "ambiguous"]


class MongoRecordSyncs:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.record_syncs

    key = staticmethod(MongoXeroLinks.key)  # the same _id as the record's link, so the page joins them

    async def record(self, company_id: str, tenant_id: str, kind: str, natural_key: str, *, name: str,
                     state: State, message: str, fix: str = "", xero_id: str | None = None,
                     origin: Literal["draft"] | None = None) -> None:
        fields = {"company_id": company_id, "tenant_id": tenant_id, "kind": kind, "key": natural_key.lower(),
                  "name": name, "state": state, "message": message, "fix": fix, "xero_id": xero_id,
                  "at": datetime.now(UTC)}
        update: dict[str, Any] = {"$set": {**fields, "origin": origin}} if origin else {
            "$set": fields, "$unset": {"origin": ""}}
        await self._col.update_one({"_id": self.key(company_id, tenant_id, kind, natural_key)}, update, upsert=True)

    async def clear_draft_notes(self, company_id: str, tenant_id: str, kind: str, natural_keys: list[str]) -> None:
        """Drafts found these customers: their earlier draft problems are answered."""
        if natural_keys:
            await self._col.delete_many({"_id": {"$in": [self.key(company_id, tenant_id, kind, key)
                                                         for key in natural_keys]}, "origin": "draft"})

    async def get(self, company_id: str, tenant_id: str, kind: str, natural_key: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": self.key(company_id, tenant_id, kind, natural_key)})

    async def forget(self, company_id: str, tenant_id: str, kind: str, natural_key: str) -> None:
        """A record that is now known by another key (a product whose code changed)."""
        await self._col.delete_one({"_id": self.key(company_id, tenant_id, kind, natural_key)})
