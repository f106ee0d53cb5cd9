"""Work the crm-card does on its own: the webhook inbox (fetch what Xero said changed) and the scheduled refresh of
open quotes (Xero sends no quote events), each within the organisation's Xero budget."""

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import structlog

from pdx_common.http import ApiError, ConnectionMissing
from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_crmcard.adapters.refresh_marks import MongoRefreshMarks
from pdx_crmcard.adapters.webhook_inbox import MongoWebhookInbox
from pdx_crmcard.adapters.xero_connections import MongoXeroConnections
from pdx_crmcard.sync import DocumentSync

log = structlog.get_logger()
LEASE = timedelta(seconds=60)
BATCH = 200  # events taken at once from the inbox


class InboxWorker:
    def __init__(self, inbox: MongoWebhookInbox, connections: MongoXeroConnections, sync: DocumentSync, *,
                 docs: MongoXeroDocuments, attempts: int, first_delay: float) -> None:
        self._inbox, self._connections, self._sync, self._docs = inbox, connections, sync, docs
        self._attempts, self._first_delay = attempts, first_delay

    async def run_forever(self, wakeup: asyncio.Event, poll_seconds: float,
                          stopping: asyncio.Event | None = None) -> None:
        """Drains the inbox whenever woken (or every ``poll_seconds``) until ``stopping`` is set (set ``wakeup``
        too, to stop at once): the round in flight finishes, never cancelled mid store operation."""
        stopping = stopping or asyncio.Event()
        while not stopping.is_set():
            wakeup.clear()  # before draining, so an event stored meanwhile wakes the next round
            await _logged(self.drain(), "webhook inbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), poll_seconds)

    async def drain(self) -> int:
        """Work through the due events in batches: one Xero call fetches up to 40 changed invoices."""
        handled = 0
        while batch := await self._take(BATCH):
            invoices: dict[str, list[dict[str, Any]]] = {}
            for item in batch:
                event = item["event"]
                if event.get("eventCategory") == "INVOICE" and event.get("tenantId") and event.get("resourceId"):
                    invoices.setdefault(event["tenantId"], []).append(item)
                else:
                    await self._inbox.done(item["_id"], "ignored")  # contacts: refreshed with the next invoice
            for tenant_id, items in invoices.items():
                await self._apply(tenant_id, items)
            handled += len(batch)
        return handled

    async def _take(self, limit: int) -> list[dict[str, Any]]:
        batch = []
        while len(batch) < limit and (item := await self._inbox.take(LEASE)) is not None:
            batch.append(item)
        return batch

    async def _apply(self, tenant_id: str, items: list[dict[str, Any]]) -> None:
        # A CREATE of a draft we made ourselves is no news: the read model has it from DocumentCreated.
        created = [i["event"]["resourceId"] for i in items if i["event"].get("eventType") == "CREATE"]
        known = await self._docs.known_invoices(tenant_id, created) if created else set()
        fetch = [i for i in items if not (i["event"].get("eventType") == "CREATE"
                                          and i["event"]["resourceId"] in known)]
        for item in items:
            if item not in fetch:
                await self._inbox.done(item["_id"], "known")
        if not fetch:
            return
        try:
            outcome = await self._refresh(tenant_id, sorted({i["event"]["resourceId"] for i in fetch}))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - retried later, then parked as failed with the reason, logged
            for item in fetch:
                await self._failed(item, exc)
            return
        for item in fetch:
            await self._inbox.done(item["_id"], outcome)

    async def _refresh(self, tenant_id: str, invoice_ids: list[str]) -> str:
        companies = await self._connections.companies_for_tenant(tenant_id)
        for company_id in companies:
            with structlog.contextvars.bound_contextvars(company_id=company_id, invoices=len(invoice_ids)):
                try:
                    await self._sync.refresh_invoices(company_id, tenant_id, invoice_ids)
                except ConnectionMissing as exc:
                    log.warning("xero events skipped: the company's connection is not usable", reason=str(exc))
        return "applied" if companies else "no company"

    async def _failed(self, item: dict[str, Any], exc: Exception) -> None:
        error, attempt = f"{type(exc).__name__}: {exc}"[:2000], item.get("attempts", 0) + 1
        permanent = isinstance(exc, ApiError) and not exc.transient
        if permanent or attempt >= self._attempts:
            log.error("xero event could not be applied", attempts=attempt, error=error)
            await self._inbox.give_up(item["_id"], error)
            return
        log.warning("xero event failed, will retry", attempt=attempt, error=error)
        await self._inbox.retry(item["_id"], timedelta(seconds=self._first_delay * 2 ** (attempt - 1)), error)


class QuoteRefresher:
    """Every ``every``, at most ``calls`` Xero calls per organisation: the customers whose open quotes were
    checked longest ago. One replica at a time refreshes a company (a shared mark in the store)."""

    def __init__(self, connections: MongoXeroConnections, docs: MongoXeroDocuments, sync: DocumentSync,
                 marks: MongoRefreshMarks, *, every: timedelta, calls: int) -> None:
        self._connections, self._docs, self._sync, self._marks = connections, docs, sync, marks
        self._every, self._calls = every, calls

    async def run_forever(self, stopping: asyncio.Event | None = None) -> None:
        stopping = stopping or asyncio.Event()
        while not stopping.is_set():
            await _logged(self.round(), "quote refresh")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), min(self._every.total_seconds(), 300.0))

    async def round(self) -> int:
        refreshed = 0
        for connection in await self._connections.connected():
            company_id, tenant_id = connection.company_id, connection.tenant_id or ""
            if not await self._marks.take(f"quotes:{company_id}:{tenant_id}", self._every):
                continue
            with structlog.contextvars.bound_contextvars(company_id=company_id):
                refreshed += await self._company(company_id, tenant_id)
        return refreshed

    async def _company(self, company_id: str, tenant_id: str) -> int:
        done = 0
        for contact_id in await self._docs.contacts_with_open_quotes(company_id, tenant_id, self._calls):
            try:
                await self._sync.refresh_customer(company_id, tenant_id, contact_id, quotes_only=True)
            except (ConnectionMissing, ApiError) as exc:
                transient = isinstance(exc, ConnectionMissing) or exc.transient
                (log.warning if transient else log.error)("quote refresh stopped for this round", error=str(exc))
                break  # the next round starts with these customers again
            done += 1
        return done


async def _logged(work: Coroutine[Any, Any, int], loop: str) -> None:
    """A round that fails (the store away, say) is logged and the loop goes on; the work waits in the store."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - logged at ERROR; the next round retries
        log.error("background round failed", loop=loop, error=f"{type(exc).__name__}: {exc}"[:500])
