"""Erasing a company's personal data: scheduled by Pipedrive's uninstall call, done by the gateway's purge once the
grace period (``PDX_GATEWAY_ERASE_AFTER_DAYS``, 30 by default) is over, or at once on an operator's request.

Every service writes to the one database, so the list of what a company leaves behind lives here, in one place
(``ERASED``): deal payloads, the documents read model and its links, the activities log, the settings and their
history, parked commands, dead letters, connections and webhook credentials, and what keeping customers and
products in sync leaves (pending record changes, each record's last sync, the deal fields written back). The ledger
keeps, per (company, deal, trigger), only which Xero draft was made (so a late redelivery still cannot make a second
one); its copy of the draft (contact, amounts, dates) goes. ``metered_drafts`` stays: billing records (company,
organisation and draft ids, month, kind, number; no names, no amounts), kept for invoicing and accounting.
``sequences`` holds counters only (the dead letters' insertion order), nothing of any company.

An erasure document (collection ``erasures``, ``_id`` = company id) records what was asked and what was done::

    {"_id": "7001", "state": "scheduled" | "erasing" | "erased", "reason": "uninstalled" | "operator",
     "requested_at": ..., "due_at": ..., "erased_at": ..., "erased": {"xero_documents": 12, ...}}

A reinstall before ``due_at`` cancels the schedule: the company came back and finds its history.
"""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from pdx_gateway.keys import DB

log = structlog.get_logger()
Filter = Callable[[str], dict[str, Any]]
# The ledger's draft copy, all but the ids a redelivery is checked against.
LEDGER_DETAILS = ("contact_name", "contact_id", "contact_number", "total", "currency_code", "status", "xero_url",
                  "issue_date", "due_date", "number")
LEASE = timedelta(minutes=10)  # one gateway replica at a time erases a company; a dead one's claim lapses


def by_company(company_id: str) -> dict[str, Any]:
    return {"company_id": company_id}


def by_id(company_id: str) -> dict[str, Any]:
    return {"_id": company_id}


def by_key_prefix(company_id: str) -> dict[str, Any]:
    """``_id`` = ``<company>:...`` (event ids, deal keys, link keys)."""
    return {"_id": {"$regex": f"^{re.escape(company_id)}:"}}


def by_mark(company_id: str) -> dict[str, Any]:
    """``_id`` = ``<kind>:<company>:...`` (the crm-card's refresh marks)."""
    return {"_id": {"$regex": f"^[a-z_]+:{re.escape(company_id)}:"}}


def by_prefix(prefix: str) -> Filter:
    """``_id`` = ``<prefix>:<company>:...`` (claims named for what they claim)."""
    return lambda company_id: {"_id": {"$regex": f"^{re.escape(prefix)}:{re.escape(company_id)}:"}}


def either(*filters: Filter) -> Filter:
    return lambda company_id: {"$or": [f(company_id) for f in filters]}


# collection -> how its documents of one company are found (every one of them is deleted).
ERASED: dict[str, Filter] = {
    "deal_stage_events": either(by_key_prefix, by_company),  # gateway: the deals' last stage events (payloads)
    "webhook_events": by_key_prefix,  # gateway: Pipedrive event ids seen
    "companies": by_id,  # gateway: webhook credentials
    "company_settings": by_id,
    "company_settings_history": by_company,
    "connections": by_company,  # both OAuth connections (tokens)
    "oauth_states": by_company,  # a Xero connect in progress
    "app_sessions": by_company,  # the settings app's sessions (user names)
    "sync_log_replays": by_company,  # when an admin replayed a deal from the sync log
    "deal_logins": by_company,  # sign-ins to deal links (company and user ids)
    "deal_action_requests": by_company,  # a salesperson's Replay or Create from the deal (user ids)
    "jobs": by_company,  # backfills and bulk replays (deal ids, titles of deals that would fail)
    "deal_status": by_company,  # crm-card: each trigger's last outcome
    "activity_log": by_company,  # crm-card: the activities written on deals
    "xero_documents": by_company,  # crm-card: the panel's read model (customers, amounts)
    "xero_links": by_key_prefix,  # writer and crm-card: Pipedrive customer/product -> Xero id
    "xero_refresh_marks": by_mark,
    "parked_commands": by_company,  # whole commands (customer, lines) waiting for Xero
    "dead_letters": by_company,  # messages that failed, with their payloads
    "record_changes": either(by_key_prefix, by_company),  # mapper: persons/orgs/products changed, waiting to sync
    "record_syncs": either(by_key_prefix, by_company),  # writer: each customer's/product's last sync (names, errors)
    "deal_field_writes": either(by_prefix("deal-fields"), by_company),  # crm-card: Xero's numbers written on deals
}


async def erase_company(db: AsyncDatabase, company_id: str) -> dict[str, int]:
    """Delete everything personal the store holds about the company; the count per collection."""
    erased = {}
    for name, find in ERASED.items():
        erased[name] = (await db[name].delete_many(find(company_id))).deleted_count
    unset = {f"document.{field}": "" for field in LEDGER_DETAILS}
    erased["ledger (draft details)"] = (await db.ledger.update_many(
        {"company_id": company_id, "document": {"$exists": True}}, {"$unset": unset})).modified_count
    return erased


@dataclass(frozen=True)
class Erasure:
    company_id: str
    state: str
    due_at: datetime | None
    erased_at: datetime | None = None
    erased: dict[str, int] | None = None

    def as_json(self) -> dict[str, Any]:
        when = {k: v.isoformat() if v else None for k, v in (("due_at", self.due_at), ("erased_at", self.erased_at))}
        return {"company_id": self.company_id, "state": self.state, **when, "erased": self.erased}


class ErasureRunning(Exception):  # noqa: N818 - a state the caller waits out
    """The company's data is being erased right now."""


class MongoErasures:
    """The schedule (collection ``erasures``)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._db, self._col = db, db.erasures

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("state", 1), ("due_at", 1)])

    async def schedule(self, company_id: str, due_at: datetime, reason: str, now: datetime) -> None:
        await self._col.update_one({"_id": company_id}, {
            "$set": {"state": "scheduled", "reason": reason, "requested_at": now, "due_at": due_at},
            "$unset": {"lease_until": "", "erased_at": "", "erased": ""}}, upsert=True)

    async def cancel(self, company_id: str) -> bool:
        """The company reinstalled before its data went: nothing is erased. True when an erasure was waiting.
        Raises ``ErasureRunning`` while the purge is erasing the company: a reinstall must wait for it to finish,
        or the purge would delete the new connections."""
        if (await self._col.delete_one({"_id": company_id, "state": "scheduled"})).deleted_count == 1:
            return True
        if await self._col.find_one({"_id": company_id, "state": "erasing"}) is not None:
            raise ErasureRunning(company_id)
        return False

    async def get(self, company_id: str) -> Erasure | None:
        doc = await self._col.find_one({"_id": company_id})
        return _erasure(doc) if doc else None

    async def claim_due(self, now: datetime) -> str | None:
        # "erasing" in the same write as the claim: from here a reinstall's cancel sees it and waits.
        doc = await self._col.find_one_and_update(
            {"$or": [{"state": "scheduled", "due_at": {"$lte": now}},
                     {"state": "erasing", "lease_until": {"$lt": now}}]},  # a replica died mid-erase
            {"$set": {"state": "erasing", "lease_until": now + LEASE}}, sort=[("due_at", 1)],
            return_document=ReturnDocument.AFTER)
        return doc["_id"] if doc else None

    async def erase(self, company_id: str, reason: str, now: datetime) -> Erasure:
        erased = await erase_company(self._db, company_id)
        doc = await self._col.find_one_and_update({"_id": company_id}, {
            "$set": {"state": "erased", "reason": reason, "erased_at": now, "erased": erased},
            "$setOnInsert": {"requested_at": now, "due_at": now}, "$unset": {"lease_until": ""}},
            upsert=True, return_document=ReturnDocument.AFTER)
        log.info("company data erased", company_id=company_id, reason=reason, erased=erased)
        return _erasure(doc)


def _erasure(doc: dict[str, Any]) -> Erasure:
    return Erasure(doc["_id"], doc["state"], _utc(doc.get("due_at")), _utc(doc.get("erased_at")), doc.get("erased"))


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def schedule_after_uninstall(erasures: MongoErasures, company_id: str, grace: timedelta,
                                   now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    await erasures.schedule(company_id, now + grace, "uninstalled", now)
    log.info("company data erasure scheduled", company_id=company_id, due_at=(now + grace).isoformat())
    return now + grace


async def purge_due(erasures: MongoErasures, now: datetime | None = None) -> list[str]:
    """Erase every company whose grace period is over; the companies erased."""
    now, done = now or datetime.now(UTC), []
    while (company_id := await erasures.claim_due(now)) is not None:
        with structlog.contextvars.bound_contextvars(company_id=company_id):
            await erasures.erase(company_id, "uninstalled", now)
        done.append(company_id)
    return done


ERASURES = web.AppKey("erasures", MongoErasures)


def purge_context(every_seconds: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """The erasure schedule on the app, and the purge every ``every_seconds`` in the background (each replica looks;
    a claim makes one of them erase a company)."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[ERASURES] = erasures = MongoErasures(app[DB])
        await erasures.ensure_indexes()
        stopping = asyncio.Event()
        task = asyncio.create_task(_purge_forever(erasures, every_seconds, stopping))
        yield
        # The round in flight finishes (never cancelled: a store operation cancelled while it opens a connection
        # leaves that socket unclosed), then the loop sees the stop.
        stopping.set()
        await task
    return ctx


async def _purge_forever(erasures: MongoErasures, every_seconds: float, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            await purge_due(erasures)
        except Exception:  # noqa: BLE001 - the store may be away; the claim lapses and the next round erases
            log.exception("erasure purge failed; the next round tries again", every_seconds=every_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), every_seconds)
