"""The mapper's part of collection ``record_syncs`` (what the settings page's Customers & products lists for each
Pipedrive customer or product): a record the sync could not even send to the xero-writer, with the reason in plain
words and the fix. The writer records everything that reached it (``pdx_writer.adapters.record_syncs``); the same
shape and key, so the page shows both alike and the writer's next outcome for the record replaces the mapper's::

    {"_id": "7001:<tenant>:contact:pd-org-12", "company_id": "7001", "tenant_id": "<tenant>", "kind": "contact",
     "key": "pd-org-12", "name": "Acme Ltd" | None, "state": "failed", "code": "pipedrive_refused",
     "message": "Pipedrive did not let the app read this organisation (403), ...", "fix": "...", "xero_id": None,
     "at": datetime}

Keys: ``pd-org-12`` / ``pd-person-7`` for contacts; ``pd-product-302`` for products (the writer keys items by their
code, which a product noted here has not, or Pipedrive would not show). ``name`` is None when Pipedrive would not show
the record. ``code`` says which of the mapper's reasons it is: a note whose record is later read and sent is removed
(``clear``, before the command goes, so the writer's outcome is never removed), so a product given its code back no
longer shows as failed. Notes belong to the company's Xero organisation of the moment (its connection's
``tenant_id``); without a Xero connection there is nowhere to show them (``tenant`` is None).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.xero_links import MongoXeroLinks

Kind = Literal["contact", "item"]
CODES = ("pipedrive_refused", "no_name", "no_code")  # the mapper's reasons, never the writer's


@dataclass(frozen=True)
class Note:
    kind: Kind
    key: str  # "pd-org-12", "WIDGET-01", "pd-product-302"
    name: str | None  # the Pipedrive record's name; None when unknown
    code: str  # one of CODES
    message: str
    fix: str


def note_id(company_id: str, tenant_id: str, kind: str, key: str) -> str:
    return MongoXeroLinks.key(company_id, tenant_id, kind, key)  # the record's link's _id, as the writer keys it


class MongoRecordOutcomes:
    def __init__(self, db: AsyncDatabase) -> None:
        self._syncs, self._connections, self._links = db.record_syncs, db.connections, db.xero_links

    async def tenant(self, company_id: str) -> str | None:
        """The Xero organisation the company writes to now (its Xero connection's ``tenant_id``, as the settings
        page reads it); None when Xero is not connected or its connection is broken."""
        doc = await self._connections.find_one({"_id": f"xero:{company_id}"}, {"status": 1, "tenant_id": 1})
        if not doc or doc.get("status") != "ok" or not doc.get("tenant_id"):
            return None
        return str(doc["tenant_id"])

    async def item_linked(self, company_id: str, tenant_id: str, product_id: str, name: str | None) -> bool:
        """Whether the product has a Xero item linked in the organisation: the link the writer marked with its
        ``product_id``, else (a link a draft made, keyed by the code alone) one carrying its name as linked or as
        last synced."""
        ways: list[dict[str, Any]] = [{"product_id": product_id}]
        if name:
            ways += [{"name": name}, {"synced.Name": name}]
        found = await self._links.find_one({"company_id": company_id, "tenant_id": tenant_id, "kind": "item",
                                            "$or": ways}, {"_id": 1})
        return found is not None

    async def failed(self, company_id: str, tenant_id: str, notes: list[Note], now: datetime) -> None:
        for note in notes:
            await self._syncs.update_one({"_id": note_id(company_id, tenant_id, note.kind, note.key)}, {"$set": {
                "company_id": company_id, "tenant_id": tenant_id, "kind": note.kind, "key": note.key.lower(),
                "name": note.name, "state": "failed", "code": note.code, "message": note.message, "fix": note.fix,
                "xero_id": None, "at": now}}, upsert=True)

    async def clear(self, company_id: str, tenant_id: str, kind: Kind, keys: list[str]) -> int:
        """The mapper's notes of these records in the organisation are answered (the records were read and sent):
        removed, by ``_id``. The writer's outcomes are left alone."""
        if not keys:
            return 0
        result = await self._syncs.delete_many({"_id": {"$in": [note_id(company_id, tenant_id, kind, k) for k in keys]},
                                                "code": {"$in": CODES}})
        return result.deleted_count

    async def notes(self, company_id: str) -> list[dict[str, Any]]:
        """The mapper's notes of the company (for tests and operators)."""
        return [doc async for doc in self._syncs.find({"company_id": company_id, "code": {"$in": CODES}})]
