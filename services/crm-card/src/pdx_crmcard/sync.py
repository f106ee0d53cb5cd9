"""Keeping the read model current from Xero, and telling the deal when a draft we created moves on in Xero
(approved, paid, part paid, voided; a quote accepted, declined or invoiced): one activity per document per state,
however often Xero reports it, whichever path (webhook, Update, quote refresh, DocumentCreated) sees it first; and,
for a company that chose deal fields, Xero's numbers written on the deal once per change (``deal_numbers``)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog

from pdx_common.contracts import DocumentCreated, DocumentUpdated
from pdx_common.xero import XeroClient
from pdx_crmcard.adapters.activity_log import MongoActivityLog
from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_crmcard.adapters.refresh_marks import MongoRefreshMarks
from pdx_crmcard.deal_numbers import DealNumbers
from pdx_crmcard.domain import activities, documents
from pdx_crmcard.handlers import ActivityWriter

log = structlog.get_logger()
PAGE_SIZE, MAX_PAGES = 100, 10
IDS_PER_CALL = 40  # invoice ids in one GET: keeps the URL well under common limits
XeroFor = Callable[[str], Awaitable[XeroClient]]


class DocumentSync:
    def __init__(self, docs: MongoXeroDocuments, activity_log: MongoActivityLog, write: ActivityWriter,
                 xero_for: XeroFor, marks: MongoRefreshMarks, *, app_url: str, cooldown: timedelta,
                 numbers: DealNumbers | None = None) -> None:
        self._docs, self._log, self._write, self._xero_for = docs, activity_log, write, xero_for
        self._marks, self._app_url, self._cooldown, self._numbers = marks, app_url, cooldown, numbers

    async def record_created(self, event: DocumentCreated) -> None:
        """Our draft joins the read model; if Xero already reported it further along, the deal hears of it now."""
        stored = await self._docs.record_created(*documents.from_created(event))
        await self.tell_deal(stored)
        await self.tell_numbers(stored)

    async def record_updated(self, event: DocumentUpdated) -> None:
        """A Replay updated our draft in place: the panel shows its new total, customer and dates (and so may the
        deal's fields)."""
        await self.tell_numbers(await self._docs.record_updated(*documents.from_updated(event)))

    async def ingest(self, company_id: str, tenant_id: str, kind: str, element: dict[str, Any]) -> dict | None:
        if not documents.receivable(kind, element):
            return None
        stored = await self._docs.save(documents.from_xero(kind, element, company_id=company_id,
                                                           tenant_id=tenant_id, app_url=self._app_url))
        if stored is not None:
            await self.tell_deal(stored)
            await self.tell_numbers(stored)
        return stored

    async def tell_numbers(self, doc: dict[str, Any]) -> None:
        if self._numbers is not None:
            await self._numbers.tell(doc)

    async def tell_deal(self, doc: dict[str, Any]) -> None:
        news = documents.status_news(doc)
        if not doc.get("deal_id") or news is None:
            return
        company_id, deal_id = doc["company_id"], doc["deal_id"]
        claim = f"xero-status:{company_id}:{doc['xero_id']}:{news}"
        if not await self._log.claim(claim, company_id, deal_id):
            return
        text = activities.status_changed(doc, news)
        try:
            activity_id = await self._write(company_id, deal_id, text.subject, text.note)
        except BaseException:
            await self._log.release(claim)  # the retry writes it
            raise
        await self._log.written(claim, activity_id)
        log.info("status activity written on the deal", deal_id=deal_id, news=news, number=doc.get("number"))

    async def refresh_invoices(self, company_id: str, tenant_id: str, invoice_ids: list[str]) -> None:
        """Many invoices in one call (``GET /Invoices?IDs=a,b,...``): a burst of Xero events costs a few calls."""
        xero = await self._xero_for(company_id)
        for start in range(0, len(invoice_ids), IDS_PER_CALL):
            ids = ",".join(invoice_ids[start:start + IDS_PER_CALL])
            for element in await xero.documents("Invoices", {"IDs": ids}):
                await self.ingest(company_id, tenant_id, "invoice", element)

    async def refresh_customer(self, company_id: str, tenant_id: str, contact_id: str, *,
                               quotes_only: bool = False) -> bool:
        """Fetch one customer's invoices and quotes into the read model. False when it was fetched moments ago
        (a second click on Update costs Xero nothing)."""
        every = self._cooldown if not quotes_only else timedelta(0)
        if not await self._marks.take(f"customer:{company_id}:{tenant_id}:{contact_id}", every):
            return False
        xero = await self._xero_for(company_id)
        if not quotes_only:
            for element in await _pages(xero, "Invoices", {"ContactIDs": contact_id, "summaryOnly": "true"}):
                await self.ingest(company_id, tenant_id, "invoice", element)
        for element in await _pages(xero, "Quotes", {"ContactID": contact_id}):
            await self.ingest(company_id, tenant_id, "quote", element)
        await self._docs.mark_checked(company_id, tenant_id, contact_id)  # also those Xero no longer lists
        return True


async def _pages(xero: XeroClient, kind: str, params: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        batch = await xero.documents(kind, {**params, "page": str(page)})
        found += batch
        if len(batch) < PAGE_SIZE:
            break
    return found
