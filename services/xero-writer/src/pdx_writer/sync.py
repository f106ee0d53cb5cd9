"""Master-data sync: a ``SyncRecords`` command in (up to 50 customers and 50 products of one company, gathered by the
mapper); Xero's contacts and items made to look like Pipedrive's; each record's outcome in ``record_syncs``.

- A customer or product linked to a Xero record (``xero_links``) sends only the mapped fields that differ from what
  was last written (``synced``); when nothing differs, nothing is sent. All updates of the company's waiting sync
  commands go in one ``POST /Contacts`` and one ``POST /Items`` per 50, ``summarizeErrors=false``, with an
  ``Idempotency-Key`` from the command ids and the body (a redelivery replays Xero's answer; nothing is written
  twice).
- A person's email and phone also update the organisation contacts that carry them (links with ``person_id``). A
  person linked to a Xero contact that an organisation is linked to as well (an admin's choice) sends only its email
  address and phone there: the organisation names that contact, its address and tax number.
- Xero's limits are checked for the values actually sent (an organisation's email from its contact person is not
  held up by the person's over-long postal code).
- A product is known by its Pipedrive id as well as its code (``adapters.links``): when its code changes, its item
  gets the new code (``POST /Items`` by ItemID) and the link follows; no second item is made.
- A customer or product linked to a record found in Xero starts from what that record has (``synced`` seeded from
  it), so the first sync sends only what really differs.
- Not linked, and the company creates records as they appear (``create``): a safe match first (one look-up for the
  batch, ``pdx_common.contact_matching``; an item by its code), linked and updated; what has no match is created in
  one ``PUT``. Two candidates are refused (``ambiguous``), never guessed. Not linked and not ``create``: nothing.
- Deleting in Pipedrive archives nothing in Xero (the mapper sends no such record).

A transient failure (5xx, 429, a timeout, the store) propagates to the consumer's retry policy: what was written is
remembered in ``synced`` as it is written, so the retry sends only the rest. Xero disconnected (before the command
starts or mid-way): each record that would have been sent is noted as not sent (``xero_not_connected``), under the
organisation the company was connected to, and the next change in Pipedrive sends it.
"""

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog

from pdx_common.contact_matching import Ambiguous, Matched
from pdx_common.contracts import Contact, ContactSync, ItemSync, SyncRecords
from pdx_common.http import ConnectionMissing
from pdx_common.xero import XeroClient
from pdx_writer.adapters.links import WriterLinks
from pdx_writer.adapters.record_syncs import MongoRecordSyncs
from pdx_writer.adapters.xero_splitting import Outcome, find_split, request_key, send_split
from pdx_writer.dispatch import BATCH_LIMIT
from pdx_writer.domain.explain import AFTER_LINKING, Explanation, ambiguous_contact, sync_not_connected
from pdx_writer.domain.limits import MAX_REQUEST_BYTES, record_over_limits
from pdx_writer.domain.sync import (
    PERSON_FIELDS,
    SHARED,
    contact_as_synced,
    contact_values,
    created_message,
    item_as_synced,
    item_payload,
    item_values,
    linked_message,
)
from pdx_writer.resolve import OrganisationFacts, Resolver
from pdx_writer.sync_updates import Run, Want, add_want, refused, send_updates

log = structlog.get_logger()
T = TypeVar("T")


class XeroFactory(Protocol):
    async def __call__(self, company_id: str) -> tuple[XeroClient, str]: ...


@dataclass
class RecordSyncer:
    links: WriterLinks
    resolver: Resolver
    facts: OrganisationFacts
    xero_for: XeroFactory
    outcomes: MongoRecordSyncs
    request_bytes: int = MAX_REQUEST_BYTES
    # The Xero organisation the company was connected to, read from its connection even when Xero is not usable
    # (so a sync that cannot be sent is noted where the settings page looks); None: not known.
    tenant_of: Callable[[str], Awaitable[str | None]] | None = None

    async def run(self, commands: list[SyncRecords]) -> None:
        """Run one company's waiting sync commands as one: the same record in two of them is sent once, as the
        later one has it. Example command: ``{"type": "SyncRecords", "company_id": "7001", "contacts": [{"contact":
        {"name": "Acme Ltd", "contact_number": "pd-org-12", "source": "organization", "source_id": "12", "postal":
        {"line1": "4 Wharf Road", "city": "Nelson"}}, "fields": ["Name", "Addresses", "TaxNumber"]}], "items":
        [{"item": {"code": "WIDGET-01", "name": "Widget"}, "prices": {"NZD": "27.50"}, "product_id": "302"}]}``"""
        for company_id in dict.fromkeys(command.company_id for command in commands):
            await self._run([command for command in commands if command.company_id == company_id])

    async def _run(self, commands: list[SyncRecords]) -> None:
        try:
            xero, tenant_id = await self.xero_for(commands[0].company_id)
        except ConnectionMissing as missing:
            log.warning("xero is not connected; the customers' and products' changes were not sent",
                        reason=missing.reason, contacts=sum(len(c.contacts) for c in commands),
                        items=sum(len(c.items) for c in commands))
            tenant_id = await self.tenant_of(commands[0].company_id) if self.tenant_of is not None else None
            if tenant_id:  # no Xero client: noting the records asks only the store
                await Run(commands, None, tenant_id, self.outcomes).fail_rest(  # type: ignore[arg-type]
                    sync_not_connected(missing.reason), self.links)
            return
        run = Run(commands, xero, tenant_id, self.outcomes)
        try:
            await self._contacts(run)
            await self._items(run)
        except ConnectionMissing as missing:
            await run.fail_rest(sync_not_connected(missing.reason), self.links)

    # --- contacts ---------------------------------------------------------------------------------------------
    async def _contacts(self, run: Run) -> None:
        wants: dict[str, Want] = {}
        unlinked: list[ContactSync] = []
        for sync in _last_per_key(run.contacts, lambda s: s.contact.contact_number):
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
        if link is not None:
            fields, note = await self._own_fields(run, contact, link["xero_id"], sync.fields)
            if (too_long := record_over_limits(contact=contact, fields=fields)) is not None:
                await run.failed("contact", contact.contact_number, contact.name, too_long)
            else:
                add_want(wants, Want(contact.contact_number, link["xero_id"], contact.name,
                                     contact_values(contact, fields), link.get("synced") or {}, note=note))
        elif sync.create:
            if (too_long := record_over_limits(contact=contact)) is not None:  # a new contact gets every value
                await run.failed("contact", contact.contact_number, contact.name, too_long)
            else:
                unlinked.append(sync)
        too_long = record_over_limits(contact=contact, fields=carried) if orgs else None
        for org in orgs:
            if too_long is not None:
                await run.failed("contact", org["key"], org.get("name") or org["key"], too_long, org["xero_id"])
            else:
                add_want(wants, Want(org["key"], org["xero_id"], org.get("name") or org["key"],
                                     contact_values(contact, carried), org.get("synced") or {}, via=contact.name))

    async def _own_fields(self, run: Run, contact: Contact, xero_id: str, fields: Iterable[str]
                          ) -> tuple[list[str], str | None]:
        """The fields a customer sends to the Xero contact it is linked to, and why some are left out: a person
        linked to a contact an organisation is linked to as well sends only its email address and phone (as an
        organisation's contact person does); the organisation's name, address and tax number stay."""
        fields = list(fields)
        if contact.source != "person" or not await self.links.organisation_contacts(
                run.company_id, run.tenant_id, [xero_id]):
            return fields, None
        kept = [field for field in fields if field in PERSON_FIELDS]
        return kept, SHARED if kept != fields else None

    async def _match_or_create(self, run: Run, unlinked: list[ContactSync], wants: dict[str, Want]) -> None:
        contacts = [sync.contact for sync in unlinked]
        missing: list[Contact] = []
        seen: dict[str, dict[str, Any]] = {}
        for sync, match in zip(unlinked, await self.resolver.matches(run.xero, contacts, seen), strict=True):
            contact = sync.contact
            if isinstance(match, Matched):
                has = contact_as_synced(seen.get(match.contact_id) or {})
                await self.resolver.link(run.company_id, run.tenant_id, contact, match.contact_id, "matched",
                                         match.name, synced=has)
                fields, note = await self._own_fields(run, contact, match.contact_id, sync.fields)
                add_want(wants, Want(contact.contact_number, match.contact_id, contact.name,
                                     contact_values(contact, fields), has, note=note,
                                     linked=linked_message("contact", match.name, match.how)))
            elif isinstance(match, Ambiguous):
                await run.failed("contact", contact.contact_number, contact.name, ambiguous_contact(
                    contact.name, len(match.candidates), match.names(), then=AFTER_LINKING), state="ambiguous")
            else:
                missing.append(contact)
        created: dict[str, str | Explanation] = {}
        for start in range(0, len(missing), BATCH_LIMIT):  # at most 50 created per request
            created.update(await self.resolver.create_contacts(
                run.xero, run.tenant_id, missing[start:start + BATCH_LIMIT], run.ids,
                lambda element, contact: refused(element, "contact", contact.name)))
        for contact in missing:
            outcome = created[contact.contact_number]
            if isinstance(outcome, Explanation):
                await run.failed("contact", contact.contact_number, contact.name, outcome)
            else:
                await run.record("contact", contact.contact_number, contact.name, "created",
                                 created_message("contact"), xero_id=outcome)

    # --- items ------------------------------------------------------------------------------------------------
    async def _items(self, run: Run) -> None:
        syncs = _last_per_key(run.items, lambda s: f"product:{s.product_id}" if s.product_id else f"code:{s.item.code}")
        base = None
        if any(sync.prices for sync in syncs):
            base = (await self.facts.get(run.xero, run.tenant_id)).get("base_currency")
        wants: dict[str, Want] = {}
        unlinked: list[tuple[ItemSync, dict[str, Any]]] = []
        for sync in syncs:
            code, name = sync.item.code, sync.item.name
            link, old_code = await self._item_link(run, sync)
            if link is None and not sync.create:
                continue
            if (too_long := record_over_limits(item=sync.item)) is not None:
                await run.failed("item", code, name, too_long, link["xero_id"] if link else None)
            elif link is not None:
                values = item_values(sync, base)
                if old_code is not None:
                    values["Code"] = code  # the product's new code: its item takes it
                add_want(wants, Want(code, link["xero_id"], name, values, link.get("synced") or {},
                                     rekey_from=old_code))
            else:
                unlinked.append((sync, item_values(sync, base)))
        await self._find_or_create_items(run, unlinked, wants)
        await self._send(run, "Items", wants)

    async def _item_link(self, run: Run, sync: ItemSync) -> tuple[dict[str, Any] | None, str | None]:
        """The product's item link, and the code it is linked by when the product no longer has that code (None:
        the same code). By the product's id first (the code may have changed), then by its code; a link found by
        code learns the product's id."""
        link = await self.links.doc(run.company_id, run.tenant_id, "item", sync.item.code)
        if not sync.product_id:
            return link, None
        by_product = await self.links.item_of_product(run.company_id, run.tenant_id, sync.product_id)
        if by_product is not None and by_product["key"] != sync.item.code.lower():
            return by_product, by_product["key"]
        if link is not None and link.get("product_id") != sync.product_id:
            await self.links.set_product(run.company_id, run.tenant_id, sync.item.code, sync.product_id)
        return link, None

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
            await self.links.synced(run.company_id, run.tenant_id, "item", code, item_as_synced(item))
            if sync.product_id:
                await self.links.set_product(run.company_id, run.tenant_id, code, sync.product_id)
            add_want(wants, Want(code, item["ItemID"], sync.item.name, values, item_as_synced(item),
                                 linked=linked_message("item", str(item.get("Name") or code), "code")))
        for start in range(0, len(missing), BATCH_LIMIT):  # at most 50 created per request
            await self._create_items(run, missing[start:start + BATCH_LIMIT])

    async def _create_items(self, run: Run, missing: list[tuple[ItemSync, dict[str, Any]]]) -> None:
        def payloads(part: list[tuple[ItemSync, dict[str, Any]]]) -> list[dict[str, Any]]:
            return [item_payload(sync.item.code, values) for sync, values in part]

        async def settle(part: list[tuple[ItemSync, dict[str, Any]]], elements: list[Outcome]) -> None:
            for (sync, values), element in zip(part, elements, strict=True):
                code, name = sync.item.code, sync.item.name
                exp = refused(element, "item", name)
                if exp is not None:
                    await run.failed("item", code, name, exp)
                    continue
                assert isinstance(element, dict)
                await self.links.put(run.company_id, run.tenant_id, "item", code, element["ItemID"],
                                     how="created", name=name)
                await self.links.synced(run.company_id, run.tenant_id, "item", code, values)
                if sync.product_id:
                    await self.links.set_product(run.company_id, run.tenant_id, code, sync.product_id)
                await run.record("item", code, name, "created", created_message("item"), xero_id=element["ItemID"])

        await send_split(lambda part, key: run.xero.create_items(payloads(part), key), missing,
                         lambda part: request_key("items", [*run.ids, *(s.item.code for s, _ in part)],
                                                  payloads(part)), settle)

    async def _send(self, run: Run, collection: str, wants: dict[str, Want]) -> None:
        await send_updates(run, collection, wants, self.links, self.resolver.forget_link, self.request_bytes)


def _last_per_key(records: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """One entry per record (the last one), in the order they first came."""
    last: dict[str, T] = {}
    for record in records:
        last[key(record).lower()] = record
    return list(last.values())

