"""The company's linked customers in one Xero organisation, for Customers & products: which Xero contact stands for
each Pipedrive organisation or person (collection ``xero_links``, see ``pdx_common.xero_links``) and how its last
update to Xero went (collection ``record_syncs``, written by the xero-writer: ``{company_id, tenant_id, kind, key,
name, state, message, fix, xero_id, at}``, and ``deal_id`` when a draft's customer failed). Problems (a failed or
ambiguous update) come first. The newest links and the newest updates are listed, each with its counterpart looked up
by ``_id``, so a linked customer never shows as not linked however many the company has.

After an admin's link, ``queue_sync`` puts the customer in the mapper's ``record_changes`` (due now), so its details
are sent to the contact now linked without waiting for an edit in Pipedrive.

Every read names the company and the organisation: another company's links are never listed or changed.

``await CustomerLinks(db).rows("7001", tenant_id)`` -> ``[CustomerRow(key="pd-org-12", ...), ...]``
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.xero_links import MongoXeroLinks

KEY = re.compile(r"pd-(org|person)-([1-9][0-9]{0,17})")
PROBLEMS = ("failed", "ambiguous")
SHOWN = 500
HOW = {"created": "Created in Xero by the app", "matched": "Found in Xero by the app (same name, email or number)",
       "manual": "Linked by an admin", "card": "Found from the customer's card in Pipedrive",
       None: "Linked when a draft was made"}
STATES = {"updated": "Updated in Xero", "created": "Created in Xero", "unchanged": "Up to date",
          "failed": "Failed", "ambiguous": "Needs you"}
AMBIGUOUS_FIX = "Search for the right Xero contact with the link below and choose it; the next update uses it."
FREE = datetime(1970, 1, 1, tzinfo=UTC)  # the mapper's record_changes: lease_until of an entry nobody holds
ENTITIES = {"org": "organization", "person": "person"}


@dataclass(frozen=True)
class CustomerRow:
    key: str  # "pd-org-12"
    what: str  # "Organisation 12"
    name: str | None  # the customer's name, as the last update or link saw it
    xero_id: str | None
    xero_name: str | None
    linked_how: str | None  # "created", "matched", "manual", "card", "" (before links said how); None: not linked
    linked_at: datetime | None
    state: str | None  # the last update's state (see STATES); None: none yet
    message: str | None
    fix: str | None
    synced_at: datetime | None
    deal_id: str | None = None  # the deal whose draft failed on this customer, when the writer said
    from_draft: bool = False  # the last outcome was a draft's (replay the deal once linked), not an update's

    @property
    def problem(self) -> bool:
        """A failed or ambiguous update the admin has not answered by linking a contact since."""
        if self.state not in PROBLEMS:
            return False
        return not (self.linked_how == "manual" and self.linked_at and self.synced_at
                    and self.linked_at > self.synced_at)

    @property
    def how(self) -> str | None:
        """How it was linked, in words; None: not linked."""
        return None if self.linked_how is None else HOW.get(self.linked_how or None, HOW[None])

    @property
    def answered(self) -> bool:
        """A problem an admin answered by linking a contact since: the next update says how it went."""
        return self.state in PROBLEMS and not self.problem

    @property
    def state_label(self) -> str | None:
        """The last update's state in words; None when there is none to show (none yet, or answered)."""
        return None if self.answered else STATES.get(self.state or "", self.state)

    @property
    def shown_at(self) -> datetime | None:
        """When its state happened: the last update's time, or the link's when none (or an admin's link) is newer."""
        if self.state is None or self.answered:
            return self.linked_at
        return self.synced_at

    @property
    def label(self) -> str:
        return self.name or self.xero_name or self.what


def what(key: str) -> str:
    match = KEY.fullmatch(key)
    if not match:
        return key
    return f"{'Organisation' if match[1] == 'org' else 'Person'} {match[2]}"


class CustomerLinks:
    def __init__(self, db: AsyncDatabase) -> None:
        self.links = MongoXeroLinks(db)
        self._syncs = db.record_syncs
        self._changes = db.record_changes
        self._links = db.xero_links

    async def rows(self, company_id: str, tenant_id: str) -> list[CustomerRow]:
        listed = [doc for doc in await self.links.listed(company_id, tenant_id, "contact", limit=SHOWN)
                  if KEY.fullmatch(str(doc.get("key") or ""))]
        cursor = self._syncs.find({"company_id": company_id, "tenant_id": tenant_id, "kind": "contact"}).sort(
            "at", -1).limit(SHOWN)
        recent = [doc async for doc in cursor if KEY.fullmatch(str(doc.get("key") or "").lower())]
        links = {doc["_id"]: doc for doc in listed}
        syncs = {doc["_id"]: doc for doc in recent}
        # Each one's counterpart by _id: an old link of a recent update (or the other way round) is still shown.
        wanted_links = [i for i in syncs if i not in links]
        if wanted_links:
            links.update({doc["_id"]: doc async for doc in self._links.find(
                {"_id": {"$in": wanted_links}, "company_id": company_id, "tenant_id": tenant_id})})
        wanted_syncs = [i for i in links if i not in syncs]
        if wanted_syncs:
            syncs.update({doc["_id"]: doc async for doc in self._syncs.find(
                {"_id": {"$in": wanted_syncs}, "company_id": company_id, "tenant_id": tenant_id})})
        rows = []
        for _id in {**links, **syncs}:
            link, sync = links.get(_id), syncs.get(_id)
            key = str((link or sync or {}).get("key") or "").lower()
            if KEY.fullmatch(key):
                rows.append(_row(key, link, sync))
        return sorted(rows, key=_order)

    async def product_problems(self, company_id: str, tenant_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """Products whose last update Xero refused (``{key, name, message, fix, at}``), newest first."""
        cursor = self._syncs.find({"company_id": company_id, "tenant_id": tenant_id, "kind": "item",
                                   "state": {"$in": list(PROBLEMS)}}).sort("at", -1).limit(limit)
        return [{"key": str(doc.get("key") or ""), "name": doc.get("name") or None, "message": doc.get("message"),
                 "fix": doc.get("fix"), "at": doc.get("at")} async for doc in cursor]

    async def row(self, company_id: str, tenant_id: str, key: str) -> CustomerRow | None:
        """One customer of this company's list, or None (not a customer of the company in this organisation)."""
        if not KEY.fullmatch(key):
            return None
        link = await self.links.doc(company_id, tenant_id, "contact", key)
        sync = await self._syncs.find_one({"_id": MongoXeroLinks.key(company_id, tenant_id, "contact", key)})
        if sync is not None and (sync.get("company_id") != company_id or sync.get("tenant_id") != tenant_id):
            sync = None
        if link is None and sync is None:
            return None
        return _row(key, link, sync)

    async def queue_sync(self, company_id: str, key: str) -> None:
        """The customer's details sent to Xero now (the mapper's next round), as an edit in Pipedrive would: the
        mapper's ``record_changes`` entry made due now (see pdx_mapper.adapters.record_changes), or an entry already
        waiting brought forward."""
        match = KEY.fullmatch(key)
        if match is None:
            return
        entity, entity_id, now = ENTITIES[match[1]], match[2], datetime.now(UTC)
        await self._changes.update_one({"_id": f"{company_id}:{entity}:{entity_id}"}, {
            "$setOnInsert": {"company_id": company_id, "entity": entity, "entity_id": entity_id, "lease_until": FREE,
                             "first_event_at": now, "created": False, "deleted": False},
            "$min": {"due_at": now}, "$inc": {"touches": 1}, "$max": {"last_event_at": now}}, upsert=True)


def _order(row: CustomerRow) -> tuple[bool, float]:
    """Problems first, newest problem first; then the most recently linked or updated."""
    at = row.synced_at if row.problem else (row.linked_at or row.synced_at)
    return not row.problem, -(at.timestamp() if at else 0.0)


def _row(key: str, link: dict[str, Any] | None, sync: dict[str, Any] | None) -> CustomerRow:
    link, sync = link or {}, sync or {}
    state = sync.get("state")
    fix = sync.get("fix")
    deal_id = str(sync.get("deal_id") or "") or None
    from_draft = deal_id is not None or "replay" in f"{sync.get('message') or ''} {fix or ''}".lower()
    if state == "ambiguous":
        fix = AMBIGUOUS_FIX
        if from_draft:
            fix = ("Search for the right Xero contact with the link below and choose it, then replay "
                   f"{f'deal {deal_id}' if deal_id else 'the deal'} under Sync log.")
    return CustomerRow(key=key, what=what(key), name=sync.get("name") or None,
                       xero_id=link.get("xero_id") or None, xero_name=link.get("name") or None,
                       linked_how=str(link.get("how") or "") if link else None,
                       linked_at=link.get("at"), state=state, message=sync.get("message") or None,
                       fix=fix or None, synced_at=sync.get("at"), deal_id=deal_id,
                       from_draft=state in PROBLEMS and from_draft)
