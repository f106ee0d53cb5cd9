"""Master-data sync, Pipedrive -> Xero: person, organisation and product events in; ``SyncRecords`` commands out.

Two halves. ``note`` (the consumer of ``RECORD_EVENTS``) only counts an event in the record's durable entry in
``record_changes`` (see ``adapters.record_changes``): 50 edits of one organisation within the delay are one entry.
``run_round`` (the background loop) takes the due entries of each company under a lease, at most 50 contacts and 50
items, reads each record once from Pipedrive as it is now (so the order events arrived in means nothing), maps it
(``domain.records``) with the company's settings and publishes one ``SyncRecords`` per company batch on
``XERO_COMMANDS``, keyed by company like the drafts, so the writer shares the organisation's Xero budget fairly::

    {"type": "SyncRecords", "company_id": "7001",
     "contacts": [{"contact": {"name": "Kiwi Widgets Ltd", "contact_number": "pd-org-101", "postal": {...}, ...},
                   "fields": ["Name", "Addresses"], "create": false}],
     "items": [{"item": {"code": "WIDGET-01", "name": "Widget", ...}, "prices": {"NZD": "25"},
                "create": false, "product_id": "302"}]}

What is dropped, never synced: a record Pipedrive deleted (a delete event marks the entry ``deleted`` and it is
dropped unread; a record answering 404 is dropped too: deleting in Pipedrive archives nothing in Xero); everything
of a company whose ``sync.update_xero`` is off, except records created in Pipedrive while ``sync.create_on_add`` is
on. A record Pipedrive could not answer for now (5xx, timeout) stays and is tried a delay later. While the company's
Pipedrive is not connected, all its entries stay and are due again ``max(delay, reconnect_wait)`` later (10 minutes
by default; one update however many wait), so a reconnect sends them.

What cannot be sent is noted where the settings page shows it (collection ``record_syncs``, state ``failed``, see
``adapters.record_syncs``), in plain words with the fix: a record Pipedrive refuses to show us (403: the installing
user may not see it), a record without a name, and a product without a code when it must be an item (``create_on_add``
is on, or its Xero item is linked: a product whose code was removed). A code-less product neither linked nor to be
created is only logged: it never was, nor should be, an item. Without a Xero connection there is no page to show a
note on: logged. A note is removed once its record is read and sent.
"""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
import structlog

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import ContactSync, ItemSync, RecordChanged, SyncRecords, new_id
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.reliability import is_transient
from pdx_mapper.adapters.record_changes import MongoRecordChanges
from pdx_mapper.adapters.record_syncs import Note
from pdx_mapper.domain import records
from pdx_mapper.handlers import Publisher, SettingsRepository

log = structlog.get_logger()
PER_KIND = 50  # contacts, and items, per SyncRecords (Xero takes 50 per POST)


class RecordReader(Protocol):
    async def record(self, company_id: str, entity: str, entity_id: str) -> dict[str, Any] | None: ...

    async def fields(self, company_id: str, entity: str) -> list[dict[str, Any]]: ...


class Outcomes(Protocol):
    """``adapters.record_syncs.MongoRecordOutcomes``."""

    async def tenant(self, company_id: str) -> str | None: ...

    async def item_linked(self, company_id: str, tenant_id: str, product_id: str, name: str | None) -> bool: ...

    async def failed(self, company_id: str, tenant_id: str, notes: list[Note], now: datetime) -> None: ...

    async def clear(self, company_id: str, tenant_id: str, kind: str, keys: list[str]) -> int: ...


@dataclass(frozen=True)
class SyncOptions:
    delay: timedelta = timedelta(seconds=60)  # from a record's first event to its sync
    lease: timedelta = timedelta(minutes=5)  # a batch longer than this may be taken by another replica too
    read_concurrency: int = 8  # Pipedrive reads in flight per batch
    companies_at_once: int = 4  # companies synced at once in a round
    reconnect_wait: timedelta = timedelta(minutes=10)  # the shortest wait while the company's Pipedrive is gone


@dataclass
class _Batch:
    """What becomes of one company's leased entries, and the command they make."""

    done: list[dict[str, Any]]  # synced, noted or dropped: deleted unless touched meanwhile
    later: list[dict[str, Any]]  # Pipedrive could not answer now: due again a delay later
    contacts: list[ContactSync]
    items: list[ItemSync]
    notes: list[Note] = field(default_factory=list)  # could not be sent: shown on the settings page
    sent: list[tuple[str, str]] = field(default_factory=list)  # (kind, key) read and sent: earlier notes answered


class RecordSync:
    def __init__(self, changes: MongoRecordChanges, settings_repo: SettingsRepository, reader: RecordReader,
                 publisher: Publisher, outcomes: Outcomes, options: SyncOptions | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.changes, self.settings_repo, self.reader, self.publisher = changes, settings_repo, reader, publisher
        self.outcomes, self.options, self.clock = outcomes, options or SyncOptions(), clock

    async def note(self, event: RecordChanged) -> None:
        """A ``RecordChanged`` from the gateway, e.g. ``{"type": "RecordChanged", "company_id": "7001",
        "entity": "organization", "entity_id": "101", "action": "change", "event_id": "5b1c...", ...}``: counted
        in the record's entry (made due a delay from now if it is new). The offset is committed after this."""
        await self.changes.note(event, self.clock(), self.options.delay)

    async def run_round(self) -> bool:
        """One batch of every company with due entries, a few companies at once (one company's slow Pipedrive
        never holds up the others). True when some company had a full batch, so more may be due at once."""
        limit = asyncio.Semaphore(self.options.companies_at_once)

        async def one(company_id: str) -> bool:
            async with limit:
                with structlog.contextvars.bound_contextvars(company_id=company_id):
                    try:
                        return await self.sync_company(company_id)
                    except Exception:
                        log.exception("record sync of a company failed; its records are tried again later")
                        return False

        companies = await self.changes.due_companies(self.clock())
        return any(await asyncio.gather(*(one(company_id) for company_id in companies)))

    async def sync_company(self, company_id: str) -> bool:
        lease_id, now = new_id(), self.clock()
        entries = await self.changes.take(company_id, lease_id, now, self.options.lease, PER_KIND)
        if not entries:
            return False
        try:
            await self._sync(company_id, lease_id, entries)
        except Exception:
            # Due again a delay later rather than when the lease lapses (if the store answers at all).
            with contextlib.suppress(Exception):
                await self.changes.release(lease_id, [e["_id"] for e in entries], self.clock() + self.options.delay)
            raise
        return len(entries) >= PER_KIND

    async def _sync(self, company_id: str, lease_id: str, entries: list[dict[str, Any]]) -> None:
        settings = await self.settings_repo.get(company_id)
        try:
            batch = await self._batch(company_id, entries, settings)
        except ConnectionMissing as missing:
            now, wait = self.clock(), self._no_connection_wait()
            waited = await self.changes.postpone(company_id, lease_id, now, now + wait)
            log.warning("record changes kept until the company's Pipedrive is connected again",
                        reason=missing.reason, records=waited, retry_in_seconds=wait.total_seconds())
            return
        # Before the command: the writer's outcome of a record sent now must never be taken for an old note.
        await self._note(company_id, batch)
        if batch.contacts or batch.items:
            command = SyncRecords(company_id=company_id, contacts=tuple(batch.contacts), items=tuple(batch.items))
            await self.publisher.publish(command, topics.XERO_COMMANDS, topics.company_key(company_id))
            log.info("records to sync published", command_id=command.id, contacts=len(command.contacts),
                     items=len(command.items))
        now = self.clock()
        await self.changes.finish(lease_id, batch.done, now, self.options.delay)
        await self.changes.release(lease_id, [e["_id"] for e in batch.later], now + self.options.delay)

    def _no_connection_wait(self) -> timedelta:
        return max(self.options.delay, self.options.reconnect_wait)

    async def _note(self, company_id: str, batch: _Batch) -> None:
        """Records that could not be sent, shown on the settings page (their entries are done: the fix says what
        to change in Pipedrive, whose webhook then brings them back); earlier notes of records sent now removed."""
        if not batch.notes and not batch.sent:
            return
        tenant_id = await self.outcomes.tenant(company_id)
        if tenant_id is None:
            for note in batch.notes:
                log.warning("record not sent to Xero, and not shown in the settings: Xero is not connected",
                            kind=note.kind, key=note.key, reason=note.code, message=note.message)
            return
        for kind in ("contact", "item"):
            await self.outcomes.clear(company_id, tenant_id, kind, [key for k, key in batch.sent if k == kind])
        await self.outcomes.failed(company_id, tenant_id, batch.notes, self.clock())
        for note in batch.notes:
            log.info("record not sent to Xero, shown in the settings", kind=note.kind, key=note.key, reason=note.code)

    async def _batch(self, company_id: str, entries: list[dict[str, Any]], settings: CompanySettings) -> _Batch:
        sync = settings.sync
        wanted = [e for e in entries if not e.get("deleted") and (sync.update_xero or
                                                                  (sync.create_on_add and e.get("created")))]
        batch = _Batch(done=[e for e in entries if e not in wanted], later=[], contacts=[], items=[])
        read = await self._read(company_id, wanted)
        fields = await self._fields(company_id, settings, wanted, read)
        for entry in wanted:
            record = read.get(entry["_id"], _LATER)
            if record is _LATER:
                batch.later.append(entry)
                continue
            batch.done.append(entry)
            if isinstance(record, Refused):
                batch.notes.append(refused_note(entry["entity"], entry["entity_id"], record.status))
            elif record is not None:
                await self._map(company_id, entry, record, fields.get(entry["entity"]), settings, batch)
        return batch

    async def _read(self, company_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Each entry's record (None: deleted; ``Refused``: Pipedrive would not show it), or ``_LATER`` when
        Pipedrive could not answer now."""
        limit = asyncio.Semaphore(self.options.read_concurrency)

        async def one(entry: dict[str, Any]) -> tuple[str, Any]:
            async with limit:
                return entry["_id"], await self._read_one(company_id, entry)

        # Every read ends before a failure (a lost connection) is raised: none is left running unobserved.
        results = await asyncio.gather(*(one(e) for e in entries), return_exceptions=True)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed
        return dict(results)

    async def _read_one(self, company_id: str, entry: dict[str, Any]) -> Any:
        entity, entity_id = entry["entity"], entry["entity_id"]
        try:
            return await self.reader.record(company_id, entity, entity_id)
        except (ApiError, aiohttp.ClientError, TimeoutError) as error:
            if isinstance(error, ApiError) and not is_transient(error):
                log.warning("record not synced: Pipedrive refused to show it", entity=entity, entity_id=entity_id,
                            status=error.status)
                return Refused(error.status)
            log.warning("record read failed, will retry", entity=entity, entity_id=entity_id, error=str(error)[:200])
            return _LATER

    async def _fields(self, company_id: str, settings: CompanySettings, entries: list[dict[str, Any]],
                      read: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """Person and organisation field definitions, read only when a tax number field is chosen by name and a
        record read has a custom value (a key alone needs none)."""
        chosen = settings.customer.tax_number_field
        if not chosen or _is_key(chosen):
            return {}
        entities = {e["entity"] for e in entries if e["entity"] in records.CONTACT_ENTITIES
                    and isinstance(record := read.get(e["_id"]), dict) and record.get("custom_fields")}
        found: dict[str, list[dict[str, Any]]] = {}
        for entity in sorted(entities):
            found[entity] = await self.reader.fields(company_id, entity)
        return found

    async def _map(self, company_id: str, entry: dict[str, Any], record: dict[str, Any],
                   fields: list[dict[str, Any]] | None, settings: CompanySettings, batch: _Batch) -> None:
        entity, entity_id = entry["entity"], entry["entity_id"]
        if entity == "product":
            item = records.item_sync(record, settings)
            if item is not None:
                batch.items.append(item)
                batch.sent.append(("item", product_key(entity_id)))
            elif await self._an_item_without_code(company_id, record, settings):
                batch.notes.append(no_code_note(entity_id, record))
            else:
                log.info("product not synced: it has no product code, so it cannot be a Xero item",
                         entity_id=entity_id)
            return
        contact = records.contact_sync(entity, record, fields, settings)
        if contact is None:
            batch.notes.append(no_name_note(entity, entity_id))
        else:
            batch.contacts.append(contact)
            batch.sent.append(("contact", contact.contact.contact_number))

    async def _an_item_without_code(self, company_id: str, product: dict[str, Any],
                                    settings: CompanySettings) -> bool:
        """A code-less product that should be a Xero item: created as soon as it is added, or one whose item is
        linked (its code was removed)."""
        if settings.sync.create_on_add:
            return True
        tenant_id = await self.outcomes.tenant(company_id)
        return tenant_id is not None and await self.outcomes.item_linked(
            company_id, tenant_id, str(product.get("id")), records.item_text(product)["name"])


@dataclass(frozen=True)
class Refused:
    """Pipedrive refused to show the record for good (a 4xx other than 404/410, such as 403)."""

    status: int


WHAT = {"person": "person", "organization": "organisation", "product": "product"}


def contact_key(entity: str, entity_id: str) -> str:
    return f"pd-{'org' if entity == 'organization' else 'person'}-{entity_id}"


def product_key(product_id: str) -> str:
    """The key of a product the sync cannot name by its code (it has none, or Pipedrive would not show it)."""
    return f"pd-product-{product_id}"


def refused_note(entity: str, entity_id: str, status: int) -> Note:
    what = WHAT[entity]
    kind, key = ("item", product_key(entity_id)) if entity == "product" else ("contact",
                                                                            contact_key(entity, entity_id))
    this = f"{what} {entity_id}" if entity == "product" else f"this {what}"
    if status == 403:
        fix = (f"Give the user who installed the app access to this {what} in Pipedrive (visibility), then save a "
               "change to it.")
    else:
        fix = (f"Check that the {what} can be opened in Pipedrive by the user who installed the app, then save a "
               "change to it. If it fails again, tell your administrator.")
    return Note(kind, key, None, "pipedrive_refused",
                f"Pipedrive did not let the app read {this} ({status}), so its change was not sent to Xero.", fix)


def no_name_note(entity: str, entity_id: str) -> Note:
    what = WHAT[entity]
    return Note("contact", contact_key(entity, entity_id), None, "no_name",
                f"This {what} has no name in Pipedrive, so it cannot be a Xero contact.",
                f"Give the {what} a name in Pipedrive; the change is then sent to Xero.")


def no_code_note(product_id: str, product: dict[str, Any]) -> Note:
    name = records.name_of(product) or None
    called = f"The product '{name}'" if name else f"Product {product_id}"
    return Note("item", product_key(product_id), name, "no_code",
                f"{called} has no code in Pipedrive, so it cannot be a Xero item.",
                "Give the product a code in Pipedrive; the change is then sent to Xero.")


_LATER = object()


def _is_key(name: str) -> bool:
    """A custom field's 40-character hex key, as opposed to its name."""
    return len(name) == 40 and all(c in "0123456789abcdef" for c in name)
