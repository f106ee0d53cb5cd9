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
on; a product without a code or a record without a name (logged); a record Pipedrive refuses to show us (logged); a
company whose Pipedrive connection is gone (logged). A record Pipedrive could not answer for now (5xx, timeout) stays
and is tried a delay later.
"""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
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
from pdx_mapper.domain import records
from pdx_mapper.handlers import Publisher, SettingsRepository

log = structlog.get_logger()
PER_KIND = 50  # contacts, and items, per SyncRecords (Xero takes 50 per POST)


class RecordReader(Protocol):
    async def record(self, company_id: str, entity: str, entity_id: str) -> dict[str, Any] | None: ...

    async def fields(self, company_id: str, entity: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class SyncOptions:
    delay: timedelta = timedelta(seconds=60)  # from a record's first event to its sync
    lease: timedelta = timedelta(minutes=5)  # a batch longer than this may be taken by another replica too
    read_concurrency: int = 8  # Pipedrive reads in flight per batch
    companies_at_once: int = 4  # companies synced at once in a round


@dataclass
class _Batch:
    """What becomes of one company's leased entries, and the command they make."""

    done: list[dict[str, Any]]  # synced or dropped: deleted unless touched meanwhile
    later: list[dict[str, Any]]  # Pipedrive could not answer now: due again a delay later
    contacts: list[ContactSync]
    items: list[ItemSync]


class RecordSync:
    def __init__(self, changes: MongoRecordChanges, settings_repo: SettingsRepository, reader: RecordReader,
                 publisher: Publisher, options: SyncOptions | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.changes, self.settings_repo, self.reader, self.publisher = changes, settings_repo, reader, publisher
        self.options, self.clock = options or SyncOptions(), clock

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
            log.warning("record changes dropped: the company's Pipedrive is not connected", reason=missing.reason,
                        records=len(entries))
            batch = _Batch(done=entries, later=[], contacts=[], items=[])
        if batch.contacts or batch.items:
            command = SyncRecords(company_id=company_id, contacts=tuple(batch.contacts), items=tuple(batch.items))
            await self.publisher.publish(command, topics.XERO_COMMANDS, topics.company_key(company_id))
            log.info("records to sync published", command_id=command.id, contacts=len(command.contacts),
                     items=len(command.items))
        now = self.clock()
        await self.changes.finish(lease_id, batch.done, now, self.options.delay)
        await self.changes.release(lease_id, [e["_id"] for e in batch.later], now + self.options.delay)

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
            if record is not None:
                self._map(entry, record, fields.get(entry["entity"]), settings, batch)
        return batch

    async def _read(self, company_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """Each entry's record (None: deleted or refused), or ``_LATER`` when Pipedrive could not answer now."""
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
                return None
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

    def _map(self, entry: dict[str, Any], record: dict[str, Any], fields: list[dict[str, Any]] | None,
             settings: CompanySettings, batch: _Batch) -> None:
        entity, entity_id = entry["entity"], entry["entity_id"]
        if entity == "product":
            item = records.item_sync(record, settings)
            if item is None:
                log.info("product not synced: it has no product code, so it cannot be a Xero item",
                         entity_id=entity_id)
            else:
                batch.items.append(item)
            return
        contact = records.contact_sync(entity, record, fields, settings)
        if contact is None:
            log.info("record not synced: it has no name", entity=entity, entity_id=entity_id)
        else:
            batch.contacts.append(contact)


_LATER = object()


def _is_key(name: str) -> bool:
    """A custom field's 40-character hex key, as opposed to its name."""
    return len(name) == 40 and all(c in "0123456789abcdef" for c in name)
