"""The writer's questions to ``xero_links`` beyond ``pdx_common.xero_links.MongoXeroLinks`` (same collection, same
documents; see its docstring for the shape):

- which Xero contacts an **organisation** stands for (a person's update never renames an organisation's contact
  that an admin linked the person to as well: only its email address and phone are sent);
- which Xero item a Pipedrive **product** is, whatever its code: an item link carries the product's id in the field
  ``product_id`` (set by this writer when a product is synced). When the product's code changes in Pipedrive, the
  link found by ``product_id`` is re-keyed to the new code once Xero took the new code (``rekey_item``), so the
  item is updated, never created a second time.
"""

from typing import Any

from pymongo import ASCENDING

from pdx_common.xero_links import MongoXeroLinks


class WriterLinks(MongoXeroLinks):
    async def ensure_indexes(self) -> None:
        await self._col.create_index([("company_id", ASCENDING), ("tenant_id", ASCENDING), ("xero_id", ASCENDING)],
                                     name="company_tenant_xero_id")
        await self._col.create_index([("company_id", ASCENDING), ("tenant_id", ASCENDING), ("product_id", ASCENDING)],
                                     name="company_tenant_product_id",
                                     partialFilterExpression={"product_id": {"$exists": True}})
        # Who already stands for a Xero contact, in any company sharing the organisation (the settings app's check
        # before an admin links a contact).
        await self._col.create_index([("tenant_id", ASCENDING), ("kind", ASCENDING), ("xero_id", ASCENDING)],
                                     name="tenant_kind_xero_id")

    async def organisation_contacts(self, company_id: str, tenant_id: str, xero_ids: list[str]) -> set[str]:
        """Which of these Xero contacts a Pipedrive organisation of the company is linked to."""
        if not xero_ids:
            return set()
        cursor = self._col.find({"company_id": company_id, "tenant_id": tenant_id, "kind": "contact",
                                 "xero_id": {"$in": sorted(set(xero_ids))}, "key": {"$regex": "^pd-org-"}},
                                {"xero_id": 1})
        return {doc["xero_id"] async for doc in cursor}

    async def item_of_product(self, company_id: str, tenant_id: str, product_id: str) -> dict[str, Any] | None:
        """The item link of this Pipedrive product (by its id, whatever code it had then), or None."""
        return await self._col.find_one({"company_id": company_id, "tenant_id": tenant_id, "kind": "item",
                                         "product_id": product_id}, sort=[("at", -1)])

    async def set_product(self, company_id: str, tenant_id: str, code: str, product_id: str) -> None:
        """Remember which Pipedrive product the item linked by ``code`` stands for."""
        await self._col.update_one({"_id": self.key(company_id, tenant_id, "item", code)},
                                   {"$set": {"product_id": product_id}})

    async def rekey_item(self, company_id: str, tenant_id: str, old_code: str, new_code: str) -> None:
        """The product's code changed and Xero's item took the new one: its link moves to the new code (how it was
        linked, its name, product and what was synced go with it)."""
        old = await self.doc(company_id, tenant_id, "item", old_code)
        if old is None or old_code.lower() == new_code.lower():
            return
        moved = {k: v for k, v in old.items() if k not in ("_id", "key")}
        await self._col.replace_one({"_id": self.key(company_id, tenant_id, "item", new_code)},
                                    {**moved, "key": new_code.lower()}, upsert=True)
        await self.forget(company_id, tenant_id, "item", old_code)
