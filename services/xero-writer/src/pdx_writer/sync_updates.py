"""Master-data sync, the sending part: each record's wanted fields against what was last written, and every change
of one kind in as few ``POST /Contacts`` or ``POST /Items`` as Xero takes (50 each, under 3.5 MB,
``summarizeErrors=false``, an ``Idempotency-Key`` from the command ids and the body). A request Xero refuses as a
whole is split down to the record at fault (``adapters.xero_splitting``); each record's outcome goes to
``record_syncs`` as it comes, and what Xero took is remembered in ``xero_links.synced`` at once, so a retry sends
only the rest."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from pdx_common.contracts import ContactSync, ItemSync, SyncRecords
from pdx_common.xero import XeroClient, xero_json
from pdx_writer.adapters.links import WriterLinks
from pdx_writer.adapters.record_syncs import MongoRecordSyncs, State
from pdx_writer.adapters.xero_splitting import Outcome, Refusal, request_key, send_split, sized_groups
from pdx_writer.dispatch import BATCH_LIMIT
from pdx_writer.domain.explain import (
    AFTER_LINKING,
    Explanation,
    explain_record,
    explain_record_refusal,
    linked_contact_gone,
    validation_messages,
)
from pdx_writer.domain.sync import (
    PERSON_FIELDS,
    SALES,
    UNCHANGED,
    changed,
    contact_update,
    item_payload,
    updated_message,
)
from pdx_writer.resolve import failed

log = structlog.get_logger()
ForgetLink = Callable[[str, str, str, str], Awaitable[None]]


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
    note: str | None = None  # why some of its fields were not sent (``domain.sync.SHARED``)
    rekey_from: str | None = None  # an item: the code its link has, which the product no longer has
    changes: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        via = self.via if self.via and set(self.changes) <= set(PERSON_FIELDS) else None
        return self._framed(updated_message(self.changes, via))

    def unchanged_message(self) -> str:
        return self._framed(UNCHANGED)

    def _framed(self, text: str) -> str:
        return " ".join(part for part in (self.linked, text, self.note) if part)


@dataclass
class Run:
    """A company's waiting sync commands against its organisation, run as one (a backlog of small commands costs one
    request per 50 records, not one per command): which of their records already have an outcome."""

    commands: list[SyncRecords]
    xero: XeroClient
    tenant_id: str
    outcomes: MongoRecordSyncs
    done: set[tuple[str, str]] = field(default_factory=set)

    @property
    def company_id(self) -> str:
        return self.commands[0].company_id

    @property
    def ids(self) -> list[str]:
        """The commands' ids: part of every request's idempotency key."""
        return [command.id for command in self.commands]

    @property
    def contacts(self) -> list[ContactSync]:
        return [sync for command in self.commands for sync in command.contacts]

    @property
    def items(self) -> list[ItemSync]:
        return [sync for command in self.commands for sync in command.items]

    async def record(self, kind: str, key: str, name: str, state: State, message: str, fix: str = "",
                     xero_id: str | None = None) -> None:
        self.done.add((kind, key.lower()))
        await self.outcomes.record(self.company_id, self.tenant_id, kind, key, name=name, state=state,
                                   message=message, fix=fix, xero_id=xero_id)

    async def failed(self, kind: str, key: str, name: str, exp: Explanation, xero_id: str | None = None,
                     state: State = "failed") -> None:
        log.info("record not synced", kind=kind, key=key, code=exp.code)
        await self.record(kind, key, name, state, exp.message, exp.fix, xero_id)

    async def fail_rest(self, exp: Explanation, links: WriterLinks) -> None:
        """Xero went away mid-way (or was not connected at all): each record that would have been sent and has no
        outcome yet is noted."""
        for sync in self.contacts:
            number = sync.contact.contact_number
            if ("contact", number.lower()) not in self.done and (
                    sync.create or await links.doc(self.company_id, self.tenant_id, "contact", number)):
                await self.failed("contact", number, sync.contact.name, exp)
        for item in self.items:
            code = item.item.code
            if ("item", code.lower()) not in self.done and (
                    item.create or await links.doc(self.company_id, self.tenant_id, "item", code)
                    or (item.product_id and await links.item_of_product(self.company_id, self.tenant_id,
                                                                        item.product_id))):
                await self.failed("item", code, item.item.name, exp)


async def send_updates(run: Run, collection: str, wants: dict[str, Want], links: WriterLinks,
                       forget_link: ForgetLink, request_bytes: int) -> None:
    """Every changed record of one kind in as few ``POST``s as Xero takes (50 each, 3.5 MB); the unchanged
    ones cost nothing."""
    kind = "contact" if collection == "Contacts" else "item"
    by_record: dict[str, list[Want]] = {}
    for want in wants.values():
        want.changes = changed(want.wanted, want.synced)
        if want.changes:
            by_record.setdefault(want.xero_id, []).append(want)
        else:
            await run.record(kind, want.key, want.name, "unchanged", want.unchanged_message(), xero_id=want.xero_id)
    elements = [(group, _element(kind, xero_id, group)) for xero_id, group in by_record.items()]
    sizes = [len(xero_json(payload)) for _, payload in elements]
    room = request_bytes - len(xero_json({collection: []}))

    async def send(part: list[tuple[list[Want], dict[str, Any]]], key: str) -> list[dict[str, Any]]:
        body = await run.xero.request("POST", f"/{collection}", json={collection: [p for _, p in part]},
                                      params={"summarizeErrors": "false"}, idempotency_key=key)
        return body[collection]

    def key(part: list[tuple[list[Want], dict[str, Any]]]) -> str:
        return request_key(f"{kind}-updates", [*run.ids, *(w.key for group, _ in part for w in group)],
                           [payload for _, payload in part])

    async def settle(part: list[tuple[list[Want], dict[str, Any]]], outcomes: list[Outcome]) -> None:
        for (group, _), outcome in zip(part, outcomes, strict=True):
            await _settle(run, kind, group, outcome, links, forget_link)

    for group in sized_groups(elements, sizes, BATCH_LIMIT, room):
        await send_split(send, group, key, settle)

async def _settle(run: Run, kind: str, group: list[Want], outcome: Outcome, links: WriterLinks,
                  forget_link: ForgetLink) -> None:
    for want in group:
        exp = refused(outcome, kind, want.name)
        if exp is None:
            if want.rekey_from:  # Xero's item took the product's new code: its link follows
                await links.rekey_item(run.company_id, run.tenant_id, want.rekey_from, want.key)
                await run.outcomes.forget(run.company_id, run.tenant_id, kind, want.rekey_from)
            written = {name: value for name, value in want.changes.items() if name != "Code"}
            await links.synced(run.company_id, run.tenant_id, kind, want.key, written)
            await run.record(kind, want.key, want.name, "updated", want.message(), xero_id=want.xero_id)
            continue
        if exp.code == "xero_record_gone":
            await _gone(run, kind, want, exp, links, forget_link)
            continue
        await run.failed(kind, want.key, want.name, exp, want.xero_id)


async def _gone(run: Run, kind: str, want: Want, exp: Explanation, links: WriterLinks,
                forget_link: ForgetLink) -> None:
    """The linked Xero record is gone. An admin's link stays (they chose it): they are asked to choose another.
    Any other link is forgotten, and the next draft or change finds or creates the record again: nothing for
    anyone to do, so it is noted as ``unchanged`` (nothing was written), not as a problem."""
    linked_by = want.rekey_from or want.key
    link = await links.doc(run.company_id, run.tenant_id, kind, linked_by)
    if link is not None and link.get("how") == "manual":
        await run.failed(kind, want.key, want.name, linked_contact_gone(want.name, AFTER_LINKING), want.xero_id)
        return
    await forget_link(run.company_id, run.tenant_id, kind, linked_by)
    log.info("record not synced", kind=kind, key=want.key, code=exp.code)
    await run.record(kind, want.key, want.name, "unchanged", exp.message, exp.fix, want.xero_id)


def add_want(wants: dict[str, Want], want: Want) -> None:
    """Add a record's fields; the same record twice (its own change and its contact person's) is one update."""
    known = wants.get(want.key.lower())
    if known is None:
        wants[want.key.lower()] = want
        return
    known.wanted.update(want.wanted)
    known.via = known.via or want.via
    known.linked = known.linked or want.linked
    known.note = known.note or want.note


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


def refused(outcome: Outcome, kind: str, name: str) -> Explanation | None:
    if isinstance(outcome, Refusal):
        return explain_record_refusal(outcome.status, outcome.body, kind, name)
    return explain_record(validation_messages(outcome), kind, name) if failed(outcome) else None
