"""Customers the card's Update could not link on its own, noted where the settings app's Customers & products lists
them (collection ``record_syncs``, the xero-writer's outcome of each record's last sync, the same shape and key), so
the admin finds the customer there and links the right Xero contact::

    {"_id": "7001:<tenant>:contact:pd-person-7", "company_id": "7001", "tenant_id": "<tenant>", "kind": "contact",
     "key": "pd-person-7", "name": "Aroha Ngata", "state": "ambiguous",
     "message": "Xero has 2 contacts that could be 'Aroha Ngata': ...", "fix": "In the app's settings ...",
     "xero_id": None, "at": datetime}

Once Update on the card finds the one contact (the duplicates merged in Xero, say), an ambiguity noted there by the
card or by a sync becomes ``state: "unchanged"`` with how it was linked. A draft's (it has a ``deal_id``, or its fix
says to replay the deal) stays: the deal still needs replaying. Any other outcome is left to the writer.
Erased with the company (the gateway's erasure table).
"""

import re
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.xero_links import MongoXeroLinks

_REPLAY = re.compile("replay", re.IGNORECASE)  # a draft's problem: its fix ends "..., then replay the deal"


class MongoRecordSyncs:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.record_syncs

    @staticmethod
    def key(company_id: str, tenant_id: str, natural_key: str) -> str:
        return MongoXeroLinks.key(company_id, tenant_id, "contact", natural_key)  # the link's _id, as the writer

    async def ambiguous(self, company_id: str, tenant_id: str, natural_key: str, *, name: str, message: str,
                        fix: str) -> None:
        await self._col.update_one({"_id": self.key(company_id, tenant_id, natural_key)}, {"$set": {
            "company_id": company_id, "tenant_id": tenant_id, "kind": "contact", "key": natural_key.lower(),
            "name": name, "state": "ambiguous", "message": message, "fix": fix, "xero_id": None,
            "at": datetime.now(UTC)}}, upsert=True)

    async def linked(self, company_id: str, tenant_id: str, natural_key: str, *, name: str, message: str,
                     xero_id: str) -> None:
        """The card found the one contact: an ambiguity noted before is answered (nothing else is touched)."""
        not_a_draft = {"deal_id": None, "fix": {"$not": _REPLAY}, "message": {"$not": _REPLAY}}
        await self._col.update_one({"_id": self.key(company_id, tenant_id, natural_key), "state": "ambiguous",
                                    **not_a_draft},
                                   {"$set": {"name": name, "state": "unchanged", "message": message, "fix": "",
                                             "xero_id": xero_id, "at": datetime.now(UTC)}})
