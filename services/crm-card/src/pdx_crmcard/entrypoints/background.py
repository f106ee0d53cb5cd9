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


class InboxWorker:
    def __init__(self, inbox: MongoWebhookInbox, connections: MongoXeroConnections, sync: DocumentSync, *,
                 attempts: int, first_delay: float) -> None:
        self._inbox, self._connections, self._sync = inbox, connections, sync
        self._attempts, self._first_delay = attempts, first_delay

    async def run_forever(self, wakeup: asyncio.Event, poll_seconds: float) -> None:
        while True:
            wakeup.clear()  # before draining, so an event stored meanwhile wakes the next round
            await _logged(self.drain(), "webhook inbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), poll_seconds)

    async def drain(self) -> int:
        handled = 0
        while (item := await self._inbox.take(LEASE)) is not None:
            await self._process(item)
            handled += 1
        return handled

    async def _process(self, item: dict[str, Any]) -> None:
        event, key = item["event"], item["_id"]
        with structlog.contextvars.bound_contextvars(xero_event=event.get("eventCategory"),
                                                     resource_id=event.get("resourceId")):
            try:
                outcome = await self._handle(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried later, then parked as failed with the reason, logged
                await self._failed(item, exc)
                return
            await self._inbox.done(key, outcome)

    async def _failed(self, item: dict[str, Any], exc: Exception) -> None:
        error, attempt = f"{type(exc).__name__}: {exc}"[:2000], item.get("attempts", 0) + 1
        permanent = isinstance(exc, ApiError) and not exc.transient
        if permanent or attempt >= self._attempts:
            log.error("xero event could not be applied", attempts=attempt, error=error)
            await self._inbox.give_up(item["_id"], error)
            return
        log.warning("xero event failed, will retry", attempt=attempt, error=error)
        await self._inbox.retry(item["_id"], timedelta(seconds=self._first_delay * 2 ** (attempt - 1)), error)

    async def _handle(self, event: dict[str, Any]) -> str:
        if event.get("eventCategory") != "INVOICE":
            return "ignored"  # contacts: the name refreshes with the contact's next invoice or Update
        tenant_id, invoice_id = event["tenantId"], event["resourceId"]
        companies = await self._connections.companies_for_tenant(tenant_id)
        for company_id in companies:
            with structlog.contextvars.bound_contextvars(company_id=company_id):
                try:
                    await self._sync.refresh_invoice(company_id, tenant_id, invoice_id)
                except ConnectionMissing as exc:
                    log.warning("xero event skipped: the company's connection is not usable", reason=str(exc))
        return "applied" if companies else "no company"


class QuoteRefresher:
    """Every ``every``, at most ``calls`` Xero calls per organisation: the customers whose open quotes were
    checked longest ago. One replica at a time refreshes a company (a shared mark in the store)."""

    def __init__(self, connections: MongoXeroConnections, docs: MongoXeroDocuments, sync: DocumentSync,
                 marks: MongoRefreshMarks, *, every: timedelta, calls: int) -> None:
        self._connections, self._docs, self._sync, self._marks = connections, docs, sync, marks
        self._every, self._calls = every, calls

    async def run_forever(self) -> None:
        while True:
            await _logged(self.round(), "quote refresh")
            await asyncio.sleep(min(self._every.total_seconds(), 300.0))

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
