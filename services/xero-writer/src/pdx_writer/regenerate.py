"""Regenerating a trigger's draft in place: a command with ``regenerate`` (a person's Replay after a fix) whose ledger
entry is ``created`` updates that Xero draft with the deal and mappings as they are now, never a second document.

The draft is read from Xero first: only a DRAFT is updated (same document and number, lines replaced, contact
updated); anything further along is left untouched and the deal is told why (``domain.regenerate``). The entry stays
``created`` whatever happens: a refused update is a ``DocumentSkipped`` that says the draft is unchanged, never a
failure (a failed entry would let the next event create a second document).

Exactly once under redelivery and crashes: the update carries an ``Idempotency-Key`` from the command and its body;
the ledger notes the command as done, after which a redelivery announces the same ``DocumentUpdated`` (same id)
without calling Xero; a crash between Xero's answer and that note re-reads the draft and sends the same update again
(Xero replays its answer). Transient failures (5xx, 429, timeouts) propagate to the consumer's retry policy.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import structlog

from pdx_common import topics
from pdx_common.contracts import CreateInvoice, CreateQuote, DocumentParked, DocumentSkipped, DocumentUpdated
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.parking import MongoParkedCommands, resume_parked
from pdx_common.xero import XeroClient
from pdx_writer.adapters.ledger import MongoLedger
from pdx_writer.adapters.xero_splitting import WRITE_REFUSALS, request_key
from pdx_writer.domain.documents import line_payload, total_warning
from pdx_writer.domain.explain import Explanation, explain, explain_refusal, validation_messages
from pdx_writer.domain.limits import over_limits
from pdx_writer.domain.regenerate import (
    REGENERABLE,
    disconnected_reason,
    event_id,
    gone_reason,
    not_updated_reason,
    untouched_reason,
    update_payload,
)
from pdx_writer.resolve import OrganisationFacts, Refused, Resolver, line_item_code, tax_types

log = structlog.get_logger()
Command = CreateInvoice | CreateQuote
_COLLECTIONS = {"invoice": ("Invoices", "InvoiceNumber"), "quote": ("Quotes", "QuoteNumber")}


class Publisher(Protocol):
    async def publish(self, message, topic: str, key: bytes) -> None: ...


class Gone(Exception):
    """Xero no longer has the document (404)."""


@dataclass
class Regenerator:
    ledger: MongoLedger
    resolver: Resolver
    facts: OrganisationFacts
    xero_for: Callable[[str], Awaitable[tuple[XeroClient, str]]]
    publisher: Publisher
    # The document facts the ledger keeps and the result carries, from Xero's answer (the writer's own recipe).
    facts_of: Callable[[Command, str, dict[str, Any]], dict[str, Any]]
    busy_wait: float = 1.0
    parking: MongoParkedCommands | None = None
    connection_usable: Callable[[str], Awaitable[bool]] | None = None

    async def run(self, command: Command, entry: dict[str, Any]) -> None:
        """Regenerate the draft of ``entry`` (state ``created``, its result already announced) for ``command``."""
        if command.id in entry.get("regenerated", ()):
            await self._announce(command, entry["document"])  # redelivered after it was done: tell again
            return
        leased = await self._lease(command)
        if leased is None:
            return
        try:
            if command.id in leased.get("regenerated", ()):  # another writer finished it while we waited
                await self._announce(command, leased["document"])
            else:
                await self._regenerate(command, leased["document"])
        finally:
            await self.ledger.release_regeneration(command.ledger_key, command.id)

    async def _lease(self, command: Command) -> dict[str, Any] | None:
        while True:
            entry = await self.ledger.regenerating(command.ledger_key, command.id)
            if entry is not None:
                return entry
            current = await self.ledger.get(command.ledger_key)
            if not current or current.get("state") != "created":
                log.warning("the draft's entry is no longer created; nothing to regenerate",
                            ledger_key=command.ledger_key)
                return None
            log.info("another writer is regenerating this draft; waiting", ledger_key=command.ledger_key)
            await asyncio.sleep(self.busy_wait)

    async def _regenerate(self, command: Command, document: dict[str, Any]) -> None:
        kind = document["kind"]
        collection, number_field = _COLLECTIONS[kind]
        number = document.get("number") or document["xero_id"]
        try:
            xero, tenant_id = await self.xero_for(command.company_id)
            current = await _document(xero, collection, document["xero_id"])
            number = current.get(number_field) or number
            status = str(current.get("Status") or "").upper()
            if status != REGENERABLE:
                log.info("draft is no longer a draft; left untouched", status=status, xero_id=document["xero_id"])
                await self._skip(command, untouched_reason(kind, number, status))
                return
            payload = await self._payload(xero, tenant_id, command)
            if isinstance(payload, Explanation):
                await self._skip(command, not_updated_reason(kind, number, payload))
                return
            outcome = await self._update(xero, tenant_id, command, collection, document["xero_id"], payload)
            if isinstance(outcome, Explanation):
                await self._skip(command, not_updated_reason(kind, number, outcome))
                return
        except Gone:
            await self._skip(command, gone_reason(kind, number))
            return
        except ConnectionMissing as missing:
            await self._park(command, kind, number, missing)
            return
        updated = self.facts_of(command, tenant_id, outcome)
        await self.ledger.regenerated(command.ledger_key, command.id, updated)
        await self._announce(command, updated)

    async def _payload(self, xero: XeroClient, tenant_id: str, command: Command) -> dict[str, Any] | Explanation:
        """Contact, items and tax resolved exactly as a creation resolves them; or why the draft cannot be made."""
        if (too_much := over_limits(command)) is not None:
            return too_much
        try:
            taxes = await self._tax_types(xero, tenant_id, command)
        except Refused as refused:
            return refused.explanation
        contacts = await self.resolver.contact_ids(xero, tenant_id, [(command.contact, command.create_contact)],
                                                   [command.id])
        contact_id = contacts[command.contact.contact_number]
        if isinstance(contact_id, Explanation):
            return contact_id
        codes = await self.resolver.item_codes(xero, tenant_id, list(command.line_items), [command.id])
        lines = [line_item_code(line, codes) for line in command.line_items]
        refusal = next((code for code in lines if isinstance(code, Explanation)), None)
        if refusal is not None:
            return refusal
        return update_payload(command, contact_id, [
            line_payload(line, code, tax) for line, code, tax in zip(command.line_items, lines, taxes, strict=True)])

    async def _tax_types(self, xero: XeroClient, tenant_id: str, command: Command) -> list[str | None]:
        try:
            return tax_types(await self.facts.get(xero, tenant_id), command)
        except Refused:
            # The company may just have added the currency or tax rate in Xero: ask again before refusing.
            self.facts.forget(tenant_id)
            return tax_types(await self.facts.get(xero, tenant_id), command)

    async def _update(self, xero: XeroClient, tenant_id: str, command: Command, collection: str, xero_id: str,
                      payload: dict[str, Any]) -> dict[str, Any] | Explanation:
        try:
            element = await xero.update_document(collection, xero_id, payload,
                                                 request_key("update", [command.id], payload))
        except ApiError as refused:
            if refused.status == 404:
                raise Gone from refused
            if refused.status not in WRITE_REFUSALS:
                raise  # transient: the consumer's retry policy waits it out
            exp = explain_refusal(refused.status, refused.body)
        else:
            if element.get("StatusAttributeString") != "ERROR" and not element.get("HasErrors"):
                return element
            exp = explain(validation_messages(element))
        log.info("xero refused the update; the draft is unchanged", code=exp.code)
        # A contact or item we remembered may be gone from Xero: look it up afresh next time.
        await self.resolver.forget(xero.company_id, tenant_id, command, exp.code)
        return exp

    async def _skip(self, command: Command, reason: str) -> None:
        await self.publisher.publish(DocumentSkipped(
            id=event_id(command.ledger_key, command.id, "skipped"), company_id=command.company_id,
            deal_id=command.deal_id, trigger_id=command.trigger_id, source_event_id=command.source_event_id,
            reason=reason), topics.DOCUMENT_RESULTS, topics.deal_key(command.company_id, command.deal_id))

    async def _announce(self, command: Command, document: dict[str, Any]) -> None:
        if document.get("pipeline_id") is None and command.pipeline_id is not None:
            document = {**document, "pipeline_id": command.pipeline_id}  # recorded before pipelines were kept
        warning = total_warning(command, Decimal(document["total"]))
        event = DocumentUpdated(id=event_id(command.ledger_key, command.id, "updated"),
                                company_id=command.company_id, deal_id=command.deal_id, command_id=command.id,
                                trigger_id=command.trigger_id, warnings=(warning,) if warning else (), **document)
        await self.publisher.publish(event, topics.DOCUMENT_RESULTS,
                                     topics.deal_key(command.company_id, command.deal_id))
        log.info("draft updated", kind=event.kind, number=event.number, xero_id=event.xero_id)

    async def _park(self, command: Command, kind: str, number: str, missing: ConnectionMissing) -> None:
        """Xero is disconnected: wait for the reconnection, as a creation does, but leave the entry ``created``."""
        if self.parking is None:
            await self._skip(command, disconnected_reason(kind, number, missing.reason))
            return
        if await self.parking.park(command):
            await self.publisher.publish(DocumentParked(
                company_id=command.company_id, deal_id=command.deal_id, command_id=command.id,
                trigger_id=command.trigger_id, kind=kind, reason=f"Xero is {missing.reason}."),
                topics.DOCUMENT_RESULTS, topics.deal_key(command.company_id, command.deal_id))
        log.info("regeneration parked until Xero is reconnected", command_id=command.id)
        if self.connection_usable is not None and await self.connection_usable(command.company_id):
            # Reconnected between our failure and our parking: the gateway's resume may have run already.
            await resume_parked(command.company_id, self.parking, self.publisher)


async def _document(xero: XeroClient, collection: str, xero_id: str) -> dict[str, Any]:
    try:
        return await xero.document(collection, xero_id)
    except ApiError as refused:
        if refused.status == 404:
            raise Gone from refused
        raise
