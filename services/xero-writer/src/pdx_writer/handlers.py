"""The writer's use case: a command in; exactly one Xero draft per (company, deal, trigger); a result event out.
A ``SyncRecords`` command (customers and products kept in sync) runs after the drafts of its batch (``sync``)."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import structlog

from pdx_common import topics
from pdx_common.contracts import (
    CreateInvoice,
    CreateQuote,
    DocumentCreated,
    DocumentFailed,
    DocumentParked,
    DocumentSkipped,
    SyncRecords,
)
from pdx_common.http import ConnectionMissing
from pdx_common.parking import MongoParkedCommands, resume_parked
from pdx_common.xero import XeroClient, xero_json
from pdx_writer.adapters.ledger import Claim, MongoLedger
from pdx_writer.adapters.links import WriterLinks
from pdx_writer.adapters.record_syncs import MongoRecordSyncs
from pdx_writer.adapters.xero_splitting import Outcome, Refusal, request_key, send_split, sized_groups
from pdx_writer.dispatch import BATCH_LIMIT
from pdx_writer.domain.documents import (
    document_payload,
    is_our_invoice,
    line_payload,
    may_be_our_quote,
    total_warning,
)
from pdx_writer.domain.explain import (
    APP_SETTINGS,
    Explanation,
    explain,
    explain_refusal,
    linked_contact_gone,
    listed_draft_problem,
    validation_messages,
)
from pdx_writer.domain.limits import MAX_REQUEST_BYTES, over_limits
from pdx_writer.regenerate import Regenerator
from pdx_writer.resolve import OrganisationFacts, Refused, Resolver, line_item_code, tax_types
from pdx_writer.sync import RecordSyncer

log = structlog.get_logger()
Command = CreateInvoice | CreateQuote
Queued = CreateInvoice | CreateQuote | SyncRecords  # what the commands topic carries
CONTACTS_PER_LOOKUP = 40  # 40 ContactIDs of 36 characters keep the query string well under Xero's 2,048
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
    parking: MongoParkedCommands | None = None
    connection_usable: Callable[[str], Awaitable[bool]] | None = None
    request_bytes: int = MAX_REQUEST_BYTES  # the most one Xero request may carry
    record_syncs: MongoRecordSyncs | None = None  # where master-data sync notes each record's outcome
    # The Xero organisation a company was connected to, even when the connection is not usable now (a sync that
    # could not be sent is noted there); None: such syncs are only logged.
    tenant_of: Callable[[str], Awaitable[str | None]] | None = None

    async def execute(self, command: Command) -> None:
        await self.execute_batch([command])

    @property
    def regenerator(self) -> Regenerator:
        # Built from the writer's current ports each time (cheap), so a port replaced after construction is used.
        return Regenerator(self.ledger, self.resolver, self.facts, self.xero_for, self.publisher,
                           self._document_facts, self.busy_wait, self.parking, self.connection_usable)

    @property
    def syncer(self) -> RecordSyncer:
        if self.record_syncs is None:
            raise RuntimeError("the writer was built without record_syncs, so it cannot sync customers and products")
        links = self.resolver.links
        if not isinstance(links, WriterLinks):
            raise RuntimeError("the writer was built without WriterLinks, so it cannot sync customers and products")
        return RecordSyncer(links, self.resolver, self.facts, self.xero_for, self.record_syncs, self.request_bytes,
                            self.tenant_of)

    async def execute_batch(self, commands: list[Queued]) -> None:
        """Create the drafts of one company's waiting commands in as few Xero calls as possible (one PUT per 50).
        Regenerating commands (a person's Replay) are rare and each reads its draft's state first: one at a time.
        Customers and products kept in sync come last, all of the batch's together: a deal's draft never waits
        behind them, and a backlog of small syncs costs one request per 50 records."""
        drafts = [command for command in commands if not isinstance(command, SyncRecords)]
        creating = [command for command in drafts if not command.regenerate]
        if creating:
            await self._execute(creating)
        for command in drafts:
            if command.regenerate:
                await self._execute([command])
        syncs = [command for command in commands if isinstance(command, SyncRecords)]
        if syncs:
            with structlog.contextvars.bound_contextvars(command_ids=[command.id for command in syncs]):
                await self.syncer.run(syncs)

    async def _execute(self, commands: list[Command]) -> None:
        batch = Batch(await self._claim_all(commands))
        if not batch.open:
            return
        try:
            for command in list(batch.open):  # over Xero's limits: refused before any call, never retried
                if (too_much := over_limits(command)) is not None:
                    await self._fail_explained(batch, command, too_much)
            if batch.open:
                await self._write(batch)
        except ConnectionMissing as missing:
            await self._park(batch, missing)
        except BaseException:
            for command in batch.open:  # Xero may or may not have the drafts: the next attempt looks them up
                await self.ledger.release_unclear(command.ledger_key, command.id)
            raise

    async def _claim_all(self, commands: list[Command]) -> list[tuple[Command, bool]]:
        claimed = []
        for command in commands:
            claim = await self._claim(command)
            if claim.outcome == "created":
                await self._already_created(command, claim.entry or {})
            else:
                claimed.append((command, claim.unclear))
        return claimed

    async def _claim(self, command: Command) -> Claim:
        while True:
            claim = await self.ledger.claim(command.ledger_key, command.id, command.company_id, command.deal_id)
            if claim.outcome != "busy":
                return claim
            log.info("another writer holds this draft's lease; waiting", ledger_key=command.ledger_key)
            await asyncio.sleep(self.busy_wait)

    async def _write(self, batch: "Batch") -> None:
        xero, tenant_id = await self.xero_for(batch.company_id)
        facts = await self.facts.get(xero, tenant_id)
        if not all(_fits(facts, c) for c in batch.open) and self.facts.cached(tenant_id):
            # The company may just have added the currency or tax rate in Xero: ask again before refusing.
            self.facts.forget(tenant_id)
            facts = await self.facts.get(xero, tenant_id)
        taxes = {c.id: await self._refusing(batch, c, lambda c=c: tax_types(facts, c)) for c in list(batch.open)}
        asking = sorted(c.id for c in batch.open)
        contacts = await self.resolver.contact_ids(xero, tenant_id, [(c.contact, c.create_contact) for c in batch.open],
                                                   asking)
        ours = await self._our_invoices(xero, [contacts[c.contact.contact_number] for c in batch.open
                                               if batch.unclear(c) and isinstance(c, CreateInvoice)])
        if self.record_syncs is not None:  # customers found now: a problem an earlier draft noted is answered
            await self.record_syncs.clear_draft_notes(xero.company_id, tenant_id, "contact", sorted(
                number for number, found in contacts.items() if isinstance(found, str)))
        for command in list(batch.open):
            found = contacts[command.contact.contact_number]
            if isinstance(found, Explanation):
                await self._note_customer(tenant_id, command, found)
                await self._fail_explained(batch, command, found)
            elif batch.unclear(command) and await self._recovered(xero, tenant_id, command, found, ours):
                batch.settle(command)
        codes = await self.resolver.item_codes(xero, tenant_id, [ln for c in batch.open for ln in c.line_items],
                                               asking)
        payloads = {}
        for command in list(batch.open):
            lines = [line_item_code(line, codes) for line in command.line_items]
            refusal = next((code for code in lines if isinstance(code, Explanation)), None)
            if refusal is not None:
                await self._fail_explained(batch, command, refusal)
                continue
            payloads[command.id] = document_payload(command, contacts[command.contact.contact_number], [
                line_payload(line, code, tax) for line, code, tax in zip(command.line_items, lines, taxes[command.id],
                                                                         strict=True)])
        await self._create(xero, tenant_id, batch, payloads)

    async def _note_customer(self, tenant_id: str, command: Command, exp: Explanation,
                             xero_id: str | None = None) -> None:
        """A draft's customer that linking answers is listed under Customers & products too, where it is linked:
        one two Xero contacts could be (``ambiguous``), one Xero does not have while creating is off, one whose
        name another Xero contact has, one whose linked contact is gone (``failed``)."""
        if self.record_syncs is None:
            return
        name, number = command.contact.name, command.contact.contact_number
        if exp.code == "ambiguous_contact":
            noted, state = exp, "ambiguous"
        elif exp.code == "unknown_contact":
            noted, state = exp, "failed"  # already worded for the page (``linked_contact_gone``)
        else:
            noted, state = listed_draft_problem(exp, name), "failed"
        if noted is not None:
            await self.record_syncs.record(command.company_id, tenant_id, "contact", number, name=name,
                                           state=state, message=noted.message, fix=noted.fix, xero_id=xero_id,
                                           origin="draft")

    async def _refusing(self, batch: "Batch", command: Command, check) -> Any:
        try:
            return check()
        except Refused as refused:
            await self._fail_explained(batch, command, refused.explanation)
            return None

    async def _create(self, xero: XeroClient, tenant_id: str, batch: "Batch", payloads: dict[str, dict]) -> None:
        """One PUT per up to 50 drafts that fit in one request; a PUT Xero refuses as a whole is split until only
        the drafts at fault fail (see ``adapters.xero_splitting``)."""
        for collection in ("Invoices", "Quotes"):
            commands = [c for c in batch.open if KIND[c.type][1] == collection]
            sizes = [len(xero_json(payloads[c.id])) for c in commands]
            room = self.request_bytes - len(xero_json({collection: []}))
            for group in sized_groups(commands, sizes, BATCH_LIMIT, room):
                if len(group) == 1 and sizes[commands.index(group[0])] > room:
                    await self._fail_explained(batch, group[0], explain_refusal(413, None))
                else:
                    await self._put(xero, tenant_id, batch, collection, [(c, payloads[c.id]) for c in group])

    async def _put(self, xero: XeroClient, tenant_id: str, batch: "Batch", collection: str,
                   drafts: list[tuple[Command, dict]]) -> None:
        async def send(part: list[tuple[Command, dict]], key: str) -> list[dict]:
            return await xero.create_documents(collection, [payload for _, payload in part], key)

        async def settle(part: list[tuple[Command, dict]], outcomes: list[Outcome]) -> None:
            for (command, _), outcome in zip(part, outcomes, strict=True):
                await self._settle(xero, tenant_id, batch, command, outcome)

        def key(part: list[tuple[Command, dict]]) -> str:
            return request_key(collection, [c.id for c, _ in part], [payload for _, payload in part])

        await send_split(send, drafts, key, settle)

    async def _settle(self, xero: XeroClient, tenant_id: str, batch: "Batch", command: Command,
                      outcome: Outcome) -> None:
        if isinstance(outcome, Refusal):
            exp = explain_refusal(outcome.status, outcome.body)
        elif outcome.get("StatusAttributeString") == "ERROR" or outcome.get("HasErrors"):
            exp = explain(validation_messages(outcome))
        else:
            await self._record(command, tenant_id, outcome)
            batch.settle(command)
            return
        if exp.code == "unknown_contact":
            exp = await self._contact_gone(tenant_id, command, exp)
        # A contact or item we remembered may be gone from Xero: look it up afresh next time.
        await self.resolver.forget(xero.company_id, tenant_id, command, exp.code)
        await self._fail_explained(batch, command, exp)

    async def _contact_gone(self, tenant_id: str, command: Command, exp: Explanation) -> Explanation:
        """Xero no longer has the customer's contact. An admin's link stays (they chose it), so a replay would fail
        the same way: they are asked to link another contact, and the customer is listed as a problem."""
        number = command.contact.contact_number
        link = await self.resolver.links.doc(command.company_id, tenant_id, "contact", number)
        if link is None or link.get("how") != "manual":
            return exp
        gone = linked_contact_gone(command.contact.name, "replay the deal")
        exp = Explanation(exp.code, gone.message, gone.fix)
        await self._note_customer(tenant_id, command, exp, link.get("xero_id"))
        return exp

    async def _fail_explained(self, batch: "Batch", command: Command, exp: Explanation) -> None:
        await self._fail(command, "xero", exp.code, exp.message, exp.fix)
        batch.settle(command)

    async def _park(self, batch: "Batch", missing: ConnectionMissing) -> None:
        batch_company = batch.company_id
        for command in list(batch.open):
            if self.parking is None:
                await self._fail(command, "connection", "xero_not_connected",
                                 f"Xero is {missing.reason}, so the draft could not be made.",
                                 f"Connect Xero again in {APP_SETTINGS} under Connections, then replay the deal.")
                continue
            await self.ledger.parked(command.ledger_key, command.id)
            if await self.parking.park(command):
                await self.publisher.publish(DocumentParked(
                    company_id=command.company_id, deal_id=command.deal_id, command_id=command.id,
                    trigger_id=command.trigger_id, kind=KIND[command.type][0],
                    reason=f"Xero is {missing.reason}."), topics.DOCUMENT_RESULTS,
                    topics.deal_key(command.company_id, command.deal_id))
            log.info("command parked until Xero is reconnected", command_id=command.id)
        batch.open.clear()
        if self.parking is not None and self.connection_usable is not None and \
                await self.connection_usable(batch_company):
            # Reconnected between our failure and our parking: the gateway's resume may have run already.
            await resume_parked(batch_company, self.parking, self.publisher)

    async def _already_created(self, command: Command, entry: dict[str, Any]) -> None:
        document = entry["document"]
        if not entry.get("result_published"):
            # We wrote the draft down but died before telling anyone: tell now.
            await self._publish_created(command, document)
            if _regenerates(command, entry):
                await self.regenerator.run(command, {**entry, "result_published": True})
        elif _regenerates(command, entry):
            await self.regenerator.run(command, entry)
        elif entry.get("source_event_id") != command.source_event_id:
            # A new event for a trigger that already made its draft (re-entry, replay): say why nothing happens.
            word = "invoice" if document["kind"] == "invoice" else "quote"
            reason = (f"This deal already has draft {word} {document.get('number') or document['xero_id']} in Xero "
                      f"for this stage, so no second one was made. To make a new draft on every entry into the "
                      f"stage, open Triggers in {APP_SETTINGS} and set When a deal enters the stage again to "
                      f"Make a new draft every time the deal enters the stage.")
            await self.publisher.publish(DocumentSkipped(
                company_id=command.company_id, deal_id=command.deal_id, trigger_id=command.trigger_id,
                source_event_id=command.source_event_id, reason=reason), topics.DOCUMENT_RESULTS,
                topics.deal_key(command.company_id, command.deal_id))
        else:
            log.info("draft already created for this trigger; nothing to do", xero_id=document["xero_id"])

    async def _our_invoices(self, xero: XeroClient, contact_ids: list[Any]) -> dict[str, list[dict[str, Any]]]:
        """The invoices this app made for the customers of a batch's unclear commands, in as few calls as the query
        string allows (``ContactIDs`` takes a list): one call per 40 customers, not one per command, so a batch
        after an unclear outcome does not need dozens of look-ups to all succeed at once."""
        wanted = sorted({c for c in contact_ids if isinstance(c, str)})
        found: dict[str, list[dict[str, Any]]] = {c: [] for c in wanted}
        for start in range(0, len(wanted), CONTACTS_PER_LOOKUP):
            chunk = wanted[start:start + CONTACTS_PER_LOOKUP]
            for invoice in await xero.documents("Invoices", {"ContactIDs": ",".join(chunk),
                                                             "createdByMyApp": "true"}):
                found.setdefault((invoice.get("Contact") or {}).get("ContactID", ""), []).append(invoice)
        return found

    async def _recovered(self, xero: XeroClient, tenant_id: str, command: Command, contact_id: str,
                         ours: dict[str, list[dict[str, Any]]]) -> bool:
        """After an unclear outcome: record the draft a previous attempt made, if Xero has it."""
        existing = await self._find_existing(xero, command, contact_id, ours)
        if existing is None:
            return False
        log.info("found the draft a previous attempt created", xero_id=existing[KIND[command.type][2]])
        await self._record(command, tenant_id, existing)
        return True

    async def _find_existing(self, xero: XeroClient, command: Command, contact_id: str,
                             ours: dict[str, list[dict[str, Any]]]) -> dict | None:
        if isinstance(command, CreateInvoice):
            return next((d for d in ours.get(contact_id, []) if is_our_invoice(d, command)), None)
        found = await xero.documents("Quotes", {"ContactID": contact_id})
        candidates = [d for d in found if may_be_our_quote(d, command)]
        # Another deal of this customer may share the Reference and Date: its quote is in the ledger already.
        taken = await self.ledger.recorded_elsewhere(command.ledger_key, [d["QuoteID"] for d in candidates])
        return next((d for d in candidates if d["QuoteID"] not in taken), None)

    async def _record(self, command: Command, tenant_id: str, element: dict[str, Any]) -> None:
        document = self._document_facts(command, tenant_id, element)
        await self.ledger.created(command.ledger_key, command.id, command.source_event_id, document)
        await self._publish_created(command, document)

    def _document_facts(self, command: Command, tenant_id: str, element: dict[str, Any]) -> dict[str, Any]:
        """What the ledger keeps of a draft and its result carries: number, total, status, contact, link."""
        kind, _, id_field, number_field = KIND[command.type]
        xero_id = element[id_field]
        path = "AccountsReceivable/Edit.aspx?InvoiceID=" if kind == "invoice" else "app/quotes/edit/"
        document = {"kind": kind, "tenant_id": tenant_id, "xero_id": xero_id, "number": element.get(number_field),
                    "total": str(element.get("Total", "0")), "status": element.get("Status", "DRAFT"),
                    "currency_code": element.get("CurrencyCode", command.currency_code),
                    "xero_url": f"{self.app_url.rstrip('/')}/{path}{xero_id}",
                    "contact_name": (element.get("Contact") or {}).get("Name") or command.contact.name,
                    "contact_id": (element.get("Contact") or {}).get("ContactID"),
                    "contact_number": command.contact.contact_number, "issue_date": command.date.isoformat(),
                    "due_date": _due(command)}
        if command.pipeline_id is not None:
            document["pipeline_id"] = command.pipeline_id  # the paid stage is per pipeline
        return document

    async def _publish_created(self, command: Command, document: dict[str, Any]) -> None:
        document = with_pipeline(command, document)
        warning = total_warning(command, Decimal(document["total"]))
        # The same id however often it is announced (a crash before "published" was noted announces it again), so
        # consumers that deduplicate by id (the deal's activity) see one draft once.
        same_id = hashlib.sha256(f"{command.ledger_key}|{document['xero_id']}".encode()).hexdigest()[:32]
        event = DocumentCreated(id=same_id, company_id=command.company_id, deal_id=command.deal_id,
                                command_id=command.id,
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


class Batch:
    """The commands of one batch still waiting for an outcome, and which of them may already be in Xero."""

    def __init__(self, claimed: list[tuple[Command, bool]]) -> None:
        self.open: list[Command] = [command for command, _ in claimed]
        self._unclear = {command.id for command, unclear in claimed if unclear}

    @property
    def company_id(self) -> str:
        return self.open[0].company_id

    def unclear(self, command: Command) -> bool:
        return command.id in self._unclear

    def settle(self, command: Command) -> None:
        if command in self.open:
            self.open.remove(command)


def with_pipeline(command: Command, document: dict[str, Any]) -> dict[str, Any]:
    """A draft recorded before the pipeline was kept gets the command's (the deal's pipeline when it was made)."""
    if document.get("pipeline_id") is None and command.pipeline_id is not None:
        return {**document, "pipeline_id": command.pipeline_id}
    return document


def _fits(facts: dict[str, Any], command: Command) -> bool:
    try:
        tax_types(facts, command)
    except Refused:
        return False
    return True


def _regenerates(command: Command, entry: dict[str, Any]) -> bool:
    """A Replay's command regenerates the draft, unless it made that draft itself (then it is only redelivered)."""
    return command.regenerate and entry.get("owner") != command.id


def _due(command: Command) -> str | None:
    due = command.due_date if isinstance(command, CreateInvoice) else command.expiry_date
    return due.isoformat() if due else None
