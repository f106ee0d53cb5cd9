"""The writer's use case: a command in; exactly one Xero draft per (company, deal, trigger); a result event out."""

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import structlog

from pdx_common import topics
from pdx_common.contracts import CreateInvoice, CreateQuote, DocumentCreated, DocumentFailed, DocumentSkipped
from pdx_common.http import ConnectionMissing
from pdx_common.xero import XeroClient
from pdx_writer.adapters.ledger import MongoLedger
from pdx_writer.domain.documents import (
    document_payload,
    idempotency_key,
    is_our_invoice,
    line_payload,
    may_be_our_quote,
    total_warning,
)
from pdx_writer.domain.explain import explain, validation_messages
from pdx_writer.resolve import OrganisationFacts, Refused, Resolver, check_currency, tax_type_for

log = structlog.get_logger()
Command = CreateInvoice | CreateQuote
KIND = {"CreateInvoice": ("invoice", "Invoices", "InvoiceID", "InvoiceNumber"),
        "CreateQuote": ("quote", "Quotes", "QuoteID", "QuoteNumber")}


class Publisher(Protocol):
    async def publish(self, message, topic: str, key: bytes) -> None: ...


class XeroFactory(Protocol):
    async def __call__(self, company_id: str) -> tuple[XeroClient, str]: ...


@dataclass
class DocumentWriter:
    ledger: MongoLedger
    resolver: Resolver
    facts: OrganisationFacts
    xero_for: XeroFactory
    publisher: Publisher
    app_url: str = "https://go.xero.com"
    busy_wait: float = 1.0

    async def execute(self, command: Command) -> None:
        key = command.ledger_key
        while True:
            claim = await self.ledger.claim(key, command.id, command.company_id, command.deal_id)
            if claim.outcome != "busy":
                break
            log.info("another writer holds this draft's lease; waiting", ledger_key=key)
            await asyncio.sleep(self.busy_wait)
        if claim.outcome == "created":
            await self._already_created(command, claim.entry or {})
            return
        try:
            await self._create(command, unclear=claim.unclear)
        except ConnectionMissing as missing:
            await self._fail(command, "connection", "xero_not_connected",
                             f"Xero is {missing.reason}, so the draft could not be made.",
                             "Connect Xero again in the app settings, then replay the deal.")
        except Refused as refused:
            exp = refused.explanation
            await self._fail(command, "xero", exp.code, exp.message, exp.fix)

    async def _already_created(self, command: Command, entry: dict[str, Any]) -> None:
        document = entry["document"]
        if not entry.get("result_published"):
            # We wrote the draft down but died before telling anyone: tell now.
            await self._publish_created(command, document)
        elif entry.get("source_event_id") != command.source_event_id:
            # A new event for a trigger that already made its draft (re-entry, replay): say why nothing happens.
            word = "invoice" if document["kind"] == "invoice" else "quote"
            reason = (f"This deal already has draft {word} {document.get('number') or document['xero_id']} in Xero "
                      f"for this stage, so no second one was made. To make a new draft on every entry into the "
                      f"stage, set on_reentry to new_draft in the app settings.")
            await self.publisher.publish(DocumentSkipped(
                company_id=command.company_id, deal_id=command.deal_id, trigger_id=command.trigger_id,
                source_event_id=command.source_event_id, reason=reason), topics.DOCUMENT_RESULTS,
                topics.deal_key(command.company_id, command.deal_id))
        else:
            log.info("draft already created for this trigger; nothing to do", xero_id=document["xero_id"])

    async def _create(self, command: Command, *, unclear: bool) -> None:
        xero, tenant_id = await self.xero_for(command.company_id)
        facts = await self.facts.get(xero, tenant_id)
        check_currency(facts, command.currency_code)
        tax_types = [tax_type_for(facts, line) for line in command.line_items]  # refuse before writing anything
        idem = idempotency_key(command.ledger_key, command.id)
        contact_id = await self.resolver.contact_id(xero, tenant_id, command.contact, create=command.create_contact,
                                                    idempotency_key=f"{idem}-contact")
        if unclear and await self._recovered(xero, tenant_id, command, contact_id):
            return
        lines = [line_payload(line, await self.resolver.item_code(xero, tenant_id, line, f"{idem}-item{i}"), tax)
                 for i, (line, tax) in enumerate(zip(command.line_items, tax_types, strict=True))]
        element = (await xero.create_documents(KIND[command.type][1], [document_payload(command, contact_id, lines)],
                                               idem))[0]
        if element.get("StatusAttributeString") == "ERROR" or element.get("HasErrors"):
            exp = explain(validation_messages(element))
            await self._fail(command, "xero", exp.code, exp.message, exp.fix)
            return
        await self._record(command, tenant_id, element)

    async def _recovered(self, xero: XeroClient, tenant_id: str, command: Command, contact_id: str) -> bool:
        """After an unclear outcome: record the draft a previous attempt made, if Xero has it."""
        existing = await self._find_existing(xero, command, contact_id)
        if existing is None:
            return False
        log.info("found the draft a previous attempt created", xero_id=existing[KIND[command.type][2]])
        await self._record(command, tenant_id, existing)
        return True

    async def _find_existing(self, xero: XeroClient, command: Command, contact_id: str) -> dict | None:
        if isinstance(command, CreateInvoice):
            found = await xero.documents("Invoices", {"ContactIDs": contact_id, "createdByMyApp": "true"})
            return next((d for d in found if is_our_invoice(d, command)), None)
        found = await xero.documents("Quotes", {"ContactID": contact_id})
        candidates = [d for d in found if may_be_our_quote(d, command)]
        # Another deal of this customer may share the Reference and Date: its quote is in the ledger already.
        taken = await self.ledger.recorded_elsewhere(command.ledger_key, [d["QuoteID"] for d in candidates])
        return next((d for d in candidates if d["QuoteID"] not in taken), None)

    async def _record(self, command: Command, tenant_id: str, element: dict[str, Any]) -> None:
        kind, _, id_field, number_field = KIND[command.type]
        xero_id = element[id_field]
        path = "AccountsReceivable/Edit.aspx?InvoiceID=" if kind == "invoice" else "app/quotes/edit/"
        document = {"kind": kind, "tenant_id": tenant_id, "xero_id": xero_id, "number": element.get(number_field),
                    "total": str(element.get("Total", "0")), "status": element.get("Status", "DRAFT"),
                    "currency_code": element.get("CurrencyCode", command.currency_code),
                    "xero_url": f"{self.app_url.rstrip('/')}/{path}{xero_id}",
                    "contact_name": (element.get("Contact") or {}).get("Name") or command.contact.name}
        await self.ledger.created(command.ledger_key, command.id, command.source_event_id, document)
        await self._publish_created(command, document)

    async def _publish_created(self, command: Command, document: dict[str, Any]) -> None:
        warning = total_warning(command, Decimal(document["total"]))
        event = DocumentCreated(company_id=command.company_id, deal_id=command.deal_id, command_id=command.id,
                                trigger_id=command.trigger_id, warnings=(warning,) if warning else (), **document)
        await self.publisher.publish(event, topics.DOCUMENT_RESULTS,
                                     topics.deal_key(command.company_id, command.deal_id))
        await self.ledger.result_published(command.ledger_key)
        log.info("draft created", kind=event.kind, number=event.number, xero_id=event.xero_id)

    async def _fail(self, command: Command, stage: str, code: str, message: str, fix: str) -> None:
        await self.ledger.failed(command.ledger_key, command.id, code)
        event = DocumentFailed(company_id=command.company_id, deal_id=command.deal_id, command_id=command.id,
                               source_event_id=command.source_event_id, trigger_id=command.trigger_id,
                               kind=KIND[command.type][0], stage=stage, code=code, message=message, fix=fix)
        await self.publisher.publish(event, topics.DOCUMENT_RESULTS,
                                     topics.deal_key(command.company_id, command.deal_id))
        log.info("draft failed", code=code)
