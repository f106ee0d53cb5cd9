"""Master-data sync: a ``SyncRecords`` command in (up to 50 customers and 50 products of one company, gathered by the
mapper); Xero's contacts and items made to look like Pipedrive's; each record's outcome in ``record_syncs``.

- A customer or product linked to a Xero record (``xero_links``) sends only the mapped fields that differ from what
  was last written (``synced``); when nothing differs, nothing is sent. All updates of a command go in one
  ``POST /Contacts`` and one ``POST /Items`` per 50, ``summarizeErrors=false``, with an ``Idempotency-Key`` from the
  command id and the body (a redelivery replays Xero's answer; nothing is written twice).
- A person's email and phone also update the organisation contacts that carry them (links with ``person_id``).
- Not linked, and the company creates records as they appear (``create``): a safe match first (one look-up for the
  batch, ``pdx_common.contact_matching``; an item by its code), linked and updated; what has no match is created in
  one ``PUT``. Two candidates are refused (``ambiguous``), never guessed. Not linked and not ``create``: nothing.
- Deleting in Pipedrive archives nothing in Xero (the mapper sends no such record).

A transient failure (5xx, 429, a timeout, the store) propagates to the consumer's retry policy: what was written is
remembered in ``synced`` as it is written, so the retry sends only the rest. Xero disconnected: each record is noted
as not sent, and the next change in Pipedrive sends it.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import structlog

from pdx_common.contact_matching import Ambiguous, Matched
from pdx_common.contracts import Contact, ContactSync, ItemSync, SyncRecords
from pdx_common.http import ConnectionMissing
from pdx_common.xero import XeroClient, xero_json
from pdx_common.xero_links import MongoXeroLinks
from pdx_writer.adapters.record_syncs import MongoRecordSyncs, State
from pdx_writer.adapters.xero_splitting import Outcome, Refusal, find_split, request_key, send_split, sized_groups
from pdx_writer.dispatch import BATCH_LIMIT
from pdx_writer.domain.explain import (
    AFTER_LINKING,
    Explanation,
    ambiguous_contact,
    explain_record,
    explain_record_refusal,
    sync_not_connected,
    validation_messages,
)
from pdx_writer.domain.limits import MAX_REQUEST_BYTES, record_over_limits
from pdx_writer.domain.sync import (
    PERSON_FIELDS,
    SALES,
    UNCHANGED,
    changed,
    contact_update,
    contact_values,
    created_message,
    item_as_synced,
    item_payload,
    item_values,
    linked_message,
    updated_message,
)
from pdx_writer.resolve import OrganisationFacts, Resolver, failed

log = structlog.get_logger()
T = TypeVar("T")


class XeroFactory(Protocol):
    async def __call__(self, company_id: str) -> tuple[XeroClient, str]: ...


@dataclass
class Want:
    """One Pipedrive record's fields for one Xero record, and what was last written there."""

    key: str  # the natural key: pd-org-12, pd-person-7, an item code
    xero_id: str
    name: str
    wanted: dict[str, Any]
    synced: dict[str, Any]
    via: str | None = None  # the contact person whose email and phone these are
    linked: str | None = None  # how it was just linked, in words
    changes: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        via = self.via if self.via and set(self.changes) <= set(PERSON_FIELDS) else None
        text = updated_message(self.changes, via)
        return f"{self.linked} {text}" if self.linked else text


@dataclass
class Run:
    """One command against one organisation: which of its records already have an outcome."""

    command: SyncRecords
    xero: XeroClient
    tenant_id: str
    outcomes: MongoRecordSyncs
    done: set[tuple[str, str]] = field(default_factory=set)

    @property
    def company_id(self) -> str:
        return self.command.company_id

    async def record(self, kind: str, key: str, name: str, state: State, message: str, fix: str = "",
                     xero_id: str | None = None) -> None:
        self.done.add((kind, key.lower()))
        await self.outcomes.record(self.company_id, self.tenant_id, kind, key, name=name, state=state,
                                   message=message, fix=fix, xero_id=xero_id)

    async def failed(self, kind: str, key: str, name: str, exp: Explanation, xero_id: str | None = None,
                     state: State = "failed") -> None:
        log.info("record not synced", kind=kind, key=key, code=exp.code)
        await self.record(kind, key, name, state, exp.message, exp.fix, xero_id)

    async def fail_rest(self, exp: Explanation, links: MongoXeroLinks) -> None:
        """Xero went away mid-way: each record that would have been sent and has no outcome yet is noted."""
        for sync in self.command.contacts:
            number = sync.contact.contact_number
            if ("contact", number.lower()) not in self.done and (
                    sync.create or await links.doc(self.company_id, self.tenant_id, "contact", number)):
                await self.failed("contact", number, sync.contact.name, exp)
        for item in self.command.items:
            code = item.item.code
            if ("item", code.lower()) not in self.done and (
                    item.create or await links.doc(self.company_id, self.tenant_id, "item", code)):
                await self.failed("item", code, item.item.name, exp)


@dataclass
class RecordSyncer:
    links: MongoXeroLinks
    resolver: Resolver
    facts: OrganisationFacts
    xero_for: XeroFactory
    outcomes: MongoRecordSyncs
    request_bytes: int = MAX_REQUEST_BYTES

    async def run(self, command: SyncRecords) -> None:
        """Example command: ``{"type": "SyncRecords", "company_id": "7001", "contacts": [{"contact": {"name":
        "Acme Ltd", "contact_number": "pd-org-12", "source": "organization", "source_id": "12", "postal":
        {"line1": "4 Wharf Road", "city": "Nelson"}}, "fields": ["Name", "Addresses", "TaxNumber"]}], "items":
        [{"item": {"code": "WIDGET-01", "name": "Widget"}, "prices": {"NZD": "27.50"}, "product_id": "302"}]}``"""
        try:
            xero, tenant_id = await self.xero_for(command.company_id)
        except ConnectionMissing as missing:
            log.warning("xero is not connected; the customers' and products' changes were not sent",
                        reason=missing.reason, contacts=len(command.contacts), items=len(command.items))
            return
        run = Run(command, xero, tenant_id, self.outcomes)
        try:
            await self._contacts(run)
            await self._items(run)
        except ConnectionMissing as missing:
            await run.fail_rest(sync_not_connected(missing.reason), self.links)

    # --- contacts ---------------------------------------------------------------------------------------------
    async def _contacts(self, run: Run) -> None:
        wants: dict[str, Want] = {}
        unlinked: list[ContactSync] = []
        for sync in _last_per_key(run.command.contacts, lambda s: s.contact.contact_number):
            await self._contact(run, sync, wants, unlinked)
        await self._match_or_create(run, unlinked, wants)
        await self._send(run, "Contacts", wants)

    async def _contact(self, run: Run, sync: ContactSync, wants: dict[str, Want], unlinked: list[ContactSync]) -> None:
        contact = sync.contact
        link = await self.links.doc(run.company_id, run.tenant_id, "contact", contact.contact_number)
        carried = [f for f in sync.fields if f in PERSON_FIELDS] if contact.source == "person" else []
        orgs = await self.links.contacts_of_person(run.company_id, run.tenant_id, contact.source_id) if carried \
            else []
        orgs = [org for org in orgs if org["key"] != contact.contact_number.lower()]
        if link is None and not sync.create and not orgs:
            return  # not in Xero, and not to be created: nothing to do
        if (too_long := record_over_limits(contact=contact)) is not None:
            if link is not None or sync.create:
                await run.failed("contact", contact.contact_number, contact.name, too_long)
            for org in orgs:
                await run.failed("contact", org["key"], org.get("name") or org["key"], too_long, org["xero_id"])
            return
        if link is not None:
            _want(wants, Want(contact.contact_number, link["xero_id"], contact.name,
                              contact_values(contact, sync.fields), link.get("synced") or {}))
        elif sync.create:
            unlinked.append(sync)
        for org in orgs:
            _want(wants, Want(org["key"], org["xero_id"], org.get("name") or org["key"],
                              contact_values(contact, carried), org.get("synced") or {}, via=contact.name))

    async def _match_or_create(self, run: Run, unlinked: list[ContactSync], wants: dict[str, Want]) -> None:
        contacts = [sync.contact for sync in unlinked]
        missing: list[Contact] = []
        for sync, match in zip(unlinked, await self.resolver.matches(run.xero, contacts), strict=True):
            contact = sync.contact
            if isinstance(match, Matched):
                await self.resolver.link(run.company_id, run.tenant_id, contact, match.contact_id, "matched",
                                         match.name)
                _want(wants, Want(contact.contact_number, match.contact_id, contact.name,
                                  contact_values(contact, sync.fields), {},
                                  linked=linked_message("contact", match.name, match.how)))
            elif isinstance(match, Ambiguous):
                await run.failed("contact", contact.contact_number, contact.name, ambiguous_contact(
                    contact.name, len(match.candidates), match.names(), then=AFTER_LINKING), state="ambiguous")
            else:
                missing.append(contact)
        created = await self.resolver.create_contacts(
            run.xero, run.tenant_id, missing, [run.command.id],
            lambda element, contact: _refused(element, "contact", contact.name))
        for contact in missing:
            outcome = created[contact.contact_number]
            if isinstance(outcome, Explanation):
                await run.failed("contact", contact.contact_number, contact.name, outcome)
            else:
                await run.record("contact", contact.contact_number, contact.name, "created",
                                 created_message("contact"), xero_id=outcome)

    # --- items ------------------------------------------------------------------------------------------------
    async def _items(self, run: Run) -> None:
        syncs = _last_per_key(run.command.items, lambda s: s.item.code)
        base = None
        if any(sync.prices for sync in syncs):
            base = (await self.facts.get(run.xero, run.tenant_id)).get("base_currency")
        wants: dict[str, Want] = {}
        unlinked: list[tuple[ItemSync, dict[str, Any]]] = []
        for sync in syncs:
            code, name = sync.item.code, sync.item.name
            link = await self.links.doc(run.company_id, run.tenant_id, "item", code)
            if link is None and not sync.create:
                continue
            if (too_long := record_over_limits(item=sync.item)) is not None:
                await run.failed("item", code, name, too_long, link["xero_id"] if link else None)
            elif link is not None:
                _want(wants, Want(code, link["xero_id"], name, item_values(sync, base), link.get("synced") or {}))
            else:
                unlinked.append((sync, item_values(sync, base)))
        await self._find_or_create_items(run, unlinked, wants)
        await self._send(run, "Items", wants)

    async def _find_or_create_items(self, run: Run, unlinked: list[tuple[ItemSync, dict[str, Any]]],
                                    wants: dict[str, Want]) -> None:
        if not unlinked:
            return
        found = {str(item.get("Code") or "").lower(): item for item in
                 await find_split(run.xero.find_items, "Code", [sync.item.code for sync, _ in unlinked])}
        missing = []
        for sync, values in unlinked:
            code = sync.item.code
            item = found.get(code.lower())
            if item is None:
                missing.append((sync, values))
                continue
            await self.links.put(run.company_id, run.tenant_id, "item", code, item["ItemID"], how="matched",
                                 name=item.get("Name"))
            _want(wants, Want(code, item["ItemID"], sync.item.name, values, item_as_synced(item),
                              linked=linked_message("item", str(item.get("Name") or code), "code")))
        if missing:
            await self._create_items(run, missing)

    async def _create_items(self, run: Run, missing: list[tuple[ItemSync, dict[str, Any]]]) -> None:
        def payloads(part: list[tuple[ItemSync, dict[str, Any]]]) -> list[dict[str, Any]]:
            return [item_payload(sync.item.code, values) for sync, values in part]

        async def settle(part: list[tuple[ItemSync, dict[str, Any]]], elements: list[Outcome]) -> None:
            for (sync, values), element in zip(part, elements, strict=True):
                code, name = sync.item.code, sync.item.name
                exp = _refused(element, "item", name)
                if exp is not None:
                    await run.failed("item", code, name, exp)
                    continue
                assert isinstance(element, dict)
                await self.links.put(run.company_id, run.tenant_id, "item", code, element["ItemID"],
                                     how="created", name=name)
                await self.links.synced(run.company_id, run.tenant_id, "item", code, values)
                await run.record("item", code, name, "created", created_message("item"), xero_id=element["ItemID"])

        await send_split(lambda part, key: run.xero.create_items(payloads(part), key), missing,
                         lambda part: request_key("items", [run.command.id, *(s.item.code for s, _ in part)],
                                                  payloads(part)), settle)

    # --- one POST per 50 --------------------------------------------------------------------------------------
    async def _send(self, run: Run, collection: str, wants: dict[str, Want]) -> None:
        """Every changed record of one kind in as few ``POST``s as Xero takes (50 each, 3.5 MB); the unchanged
        ones cost nothing."""
        kind = "contact" if collection == "Contacts" else "item"
        by_record: dict[str, list[Want]] = {}
        for want in wants.values():
            want.changes = changed(want.wanted, want.synced)
            if want.changes:
                by_record.setdefault(want.xero_id, []).append(want)
            else:
                await run.record(kind, want.key, want.name, "unchanged",
                                 f"{want.linked} {UNCHANGED}" if want.linked else UNCHANGED, xero_id=want.xero_id)
        elements = [(group, _element(kind, xero_id, group)) for xero_id, group in by_record.items()]
        sizes = [len(xero_json(payload)) for _, payload in elements]
        room = self.request_bytes - len(xero_json({collection: []}))

        async def send(part: list[tuple[list[Want], dict[str, Any]]], key: str) -> list[dict[str, Any]]:
            body = await run.xero.request("POST", f"/{collection}", json={collection: [p for _, p in part]},
                                          params={"summarizeErrors": "false"}, idempotency_key=key)
            return body[collection]

        def key(part: list[tuple[list[Want], dict[str, Any]]]) -> str:
            return request_key(f"{kind}-updates", [run.command.id, *(w.key for group, _ in part for w in group)],
                               [payload for _, payload in part])

        async def settle(part: list[tuple[list[Want], dict[str, Any]]], outcomes: list[Outcome]) -> None:
            for (group, _), outcome in zip(part, outcomes, strict=True):
                await self._settle(run, kind, group, outcome)

        for group in sized_groups(elements, sizes, BATCH_LIMIT, room):
            await send_split(send, group, key, settle)

    async def _settle(self, run: Run, kind: str, group: list[Want], outcome: Outcome) -> None:
        for want in group:
            exp = _refused(outcome, kind, want.name)
            if exp is None:
                await self.links.synced(run.company_id, run.tenant_id, kind, want.key, want.changes)
                await run.record(kind, want.key, want.name, "updated", want.message(), xero_id=want.xero_id)
                continue
            if exp.code == "xero_record_gone":
                await self.resolver.forget_link(run.company_id, run.tenant_id, kind, want.key)
            await run.failed(kind, want.key, want.name, exp, want.xero_id)


def _want(wants: dict[str, Want], want: Want) -> None:
    """Add a record's fields; the same record twice (its own change and its contact person's) is one update."""
    known = wants.get(want.key.lower())
    if known is None:
        wants[want.key.lower()] = want
        return
    known.wanted.update(want.wanted)
    known.via = known.via or want.via
    known.linked = known.linked or want.linked


def _element(kind: str, xero_id: str, group: list[Want]) -> dict[str, Any]:
    """The update of one Xero record: every change of the Pipedrive records it stands for (usually one)."""
    changes: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for want in group:
        changes.update(want.changes)
        # Sales details go whole; what Pipedrive does not give (no tax mapped, say) stays as Xero has it.
        values.update({name: value for name, value in want.synced.items() if name in SALES}, **want.wanted)
    if kind == "contact":
        return contact_update(xero_id, changes)
    return item_payload(group[0].key, values, changes, item_id=xero_id)


def _refused(outcome: Outcome, kind: str, name: str) -> Explanation | None:
    if isinstance(outcome, Refusal):
        return explain_record_refusal(outcome.status, outcome.body, kind, name)
    return explain_record(validation_messages(outcome), kind, name) if failed(outcome) else None


def _last_per_key(records: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """One entry per record (the last one), in the order they first came."""
    last: dict[str, T] = {}
    for record in records:
        last[key(record).lower()] = record
    return list(last.values())

