"""Finding (or creating) what a draft refers to in Xero: the contact, the items, the tax types, the currency.

Each answer is remembered per organisation, so a known customer or product costs no Xero call.
"""

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pdx_common.contact_matching import Ambiguous, Match, Matched, choose, lookups, xero_contact_number
from pdx_common.contracts import Contact, LineItem
from pdx_common.xero import XeroClient
from pdx_common.xero_links import How, MongoXeroLinks
from pdx_writer.adapters.xero_splitting import Outcome, Refusal, find_any, find_split, request_key, send_split
from pdx_writer.domain.documents import contact_payload
from pdx_writer.domain.explain import (
    APP_SETTINGS,
    IN_APP_SETTINGS,
    Explanation,
    ambiguous_contact,
    explain,
    explain_refusal,
    validation_messages,
)
from pdx_writer.domain.sync import contact_as_synced, contact_values, item_as_synced, item_payload, new_item_values

ORG_CACHE_SECONDS = 3600.0


class Refused(Exception):
    """We can tell before asking Xero to create anything that the draft cannot be made."""

    def __init__(self, explanation: Explanation) -> None:
        super().__init__(explanation.message)
        self.explanation = explanation


class OrganisationFacts:
    """Currencies and tax rates of each organisation, cached for an hour (they rarely change)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, xero: XeroClient, tenant_id: str) -> dict[str, Any]:
        hit = self._cache.get(tenant_id)
        if hit and time.monotonic() - hit[0] < ORG_CACHE_SECONDS:
            return hit[1]
        org = await xero.organisation()
        currencies = {c["Code"] for c in (await xero.request("GET", "/Currencies")).get("Currencies", [])}
        rates = (await xero.request("GET", "/TaxRates")).get("TaxRates", [])
        facts = {"base_currency": org.get("BaseCurrency"), "currencies": currencies | {org.get("BaseCurrency")},
                 "tax_rates": [r for r in rates if r.get("Status", "ACTIVE") == "ACTIVE"]}
        self._cache[tenant_id] = (time.monotonic(), facts)
        return facts

    def forget(self, tenant_id: str) -> None:
        self._cache.pop(tenant_id, None)

    def cached(self, tenant_id: str) -> bool:
        return tenant_id in self._cache


def check_currency(facts: dict[str, Any], currency: str) -> None:
    if currency not in facts["currencies"]:
        have = ", ".join(sorted(c for c in facts["currencies"] if c))
        raise Refused(Explanation(
            "currency_not_enabled", f"The deal is in {currency}, which Xero's organisation does not use (it has "
            f"{have}).", f"Add {currency} in Xero (Settings > Currencies; needs a plan with multi-currency), or "
            "change the deal's currency in Pipedrive, then replay the deal."))


def tax_types(facts: dict[str, Any], command: Any) -> list[str | None]:
    """Each line's Xero tax type, once the deal's currency is known to be the organisation's; else ``Refused``."""
    check_currency(facts, command.currency_code)
    return [tax_type_for(facts, line) for line in command.line_items]


def tax_type_for(facts: dict[str, Any], line: LineItem) -> str | None:
    if line.tax_type or line.tax_rate is None:
        return line.tax_type
    for rate in facts["tax_rates"]:
        if rate.get("CanApplyToRevenue", True) and Decimal(str(rate.get("EffectiveRate", "-1"))) == line.tax_rate:
            return rate["TaxType"]
    raise Refused(Explanation(
        "unknown_tax_rate", f"The deal has a {line.tax_rate}% tax on '{line.description[:60]}', and Xero's "
        f"organisation has no sales tax rate of {line.tax_rate}%.",
        f"{IN_APP_SETTINGS}, open Customers, products & money > Tax rates and choose the Xero tax rate for "
        f"{line.tax_rate}%, or change the product's tax in Pipedrive, then replay the deal."))


def failed(element: dict[str, Any]) -> bool:
    return element.get("StatusAttributeString") == "ERROR" or bool(element.get("HasValidationErrors"))


def _outcome(element: Outcome) -> Explanation | None:
    """Why Xero did not create this contact or item, or None when it did."""
    if isinstance(element, Refusal):
        return explain_refusal(element.status, element.body)
    return explain(validation_messages(element)) if failed(element) else None


class Resolver:
    """Finds or creates the contacts and items of a whole batch of drafts in as few Xero calls as it can: one
    ``where ... OR ...`` look-up for every customer not linked yet (by number, name and email at once), one PUT for
    everything missing, and none for what it knew.

    Customers are matched safely (``pdx_common.contact_matching``): an organisation is never taken through its
    contact person's email when the names differ, numbers of before count only with the same name, and two
    plausible candidates are refused (``ambiguous_contact``), never guessed. A link an admin made (``how="manual"``)
    is used as it is."""

    def __init__(self, links: MongoXeroLinks) -> None:
        self._links = links

    @property
    def links(self) -> MongoXeroLinks:
        return self._links

    async def contact_ids(self, xero: XeroClient, tenant_id: str, contacts: list[tuple[Contact, bool]],
                          batch: list[str]) -> dict[str, str | Explanation]:
        """ContactID (or why not) per contact number. Each contact comes with whether it may be created.

        ``batch`` (the command ids asking) is part of every creating request's idempotency key: a redelivery of the
        same commands replays Xero's answer, a replay after a fix (new commands) asks Xero afresh."""
        wanted = {c.contact_number: (c, create) for c, create in contacts}
        found: dict[str, str | Explanation] = {}
        for number, (contact, _) in wanted.items():
            link = await self._links.doc(xero.company_id, tenant_id, "contact", number)
            if link is not None:
                found[number] = link["xero_id"]
                await self._follow_person(xero.company_id, tenant_id, contact, link)
        unknown = [contact for number, (contact, _) in wanted.items() if number not in found]
        missing = []
        seen: dict[str, dict[str, Any]] = {}
        for contact, match in zip(unknown, await self.matches(xero, unknown, seen), strict=True):
            number = contact.contact_number
            if isinstance(match, Matched):
                found[number] = match.contact_id
                await self.link(xero.company_id, tenant_id, contact, match.contact_id, "matched", match.name,
                                synced=contact_as_synced(seen.get(match.contact_id) or {}))
            elif isinstance(match, Ambiguous):
                found[number] = ambiguous_contact(contact.name, len(match.candidates), match.names())
            elif wanted[number][1]:
                missing.append(contact)
            else:
                found[number] = Explanation(
                    "contact_not_found", f"Xero has no contact for '{contact.name}', and creating contacts is off.",
                    f"Create the contact in Xero, or, in {APP_SETTINGS}, open Customers, products & money and "
                    "tick Create the contact in Xero when it is missing, then replay the deal.")
        found.update(await self.create_contacts(xero, tenant_id, missing, batch))
        return found

    async def _follow_person(self, company_id: str, tenant_id: str, contact: Contact, link: dict[str, Any]) -> None:
        """An organisation's contact person changed: its link follows, so the person's edits reach this contact."""
        if contact.person_id and link.get("person_id") != contact.person_id:
            await self._links.put(company_id, tenant_id, "contact", contact.contact_number, link["xero_id"],
                                  person_id=contact.person_id)

    async def matches(self, xero: XeroClient, contacts: list[Contact],
                      seen: dict[str, dict[str, Any]] | None = None) -> list[Match]:
        """Each customer's match among Xero's active contacts, from one look-up for all of them (split only when
        the query would be too long for Xero). ``seen`` gets the contacts Xero answered, by ContactID."""
        if not contacts:
            return []
        pairs = [pair for contact in contacts for pair in lookups(contact, xero.company_id)]
        found = await find_any(xero.find_contacts, pairs)
        if seen is not None:
            seen.update({str(c.get("ContactID")): c for c in found})
        return [choose(contact, xero.company_id, found) for contact in contacts]

    async def link(self, company_id: str, tenant_id: str, contact: Contact, contact_id: str, how: How,
                   name: str, synced: dict[str, Any] | None = None) -> None:
        """Link the customer; ``synced``: what the contact found in Xero already has (``domain.sync.
        contact_as_synced``), so the first sync sends only what differs. Not when an admin's link stays."""
        await self._links.put(company_id, tenant_id, "contact", contact.contact_number, contact_id, how=how,
                              person_id=contact.person_id, name=name)
        if synced:
            link = await self._links.doc(company_id, tenant_id, "contact", contact.contact_number)
            if link is not None and link.get("xero_id") == contact_id:
                await self._links.synced(company_id, tenant_id, "contact", contact.contact_number, synced)

    async def create_contacts(self, xero: XeroClient, tenant_id: str, contacts: list[Contact], batch: list[str],
                              explain_as: Callable[[Outcome, Contact], Explanation | None] | None = None,
                              ) -> dict[str, str | Explanation]:
        """Create these contacts (no match in Xero) in one PUT, numbered for this company, and link them; a
        contact another writer created a moment ago (Xero names are unique) is found and linked instead.
        ``explain_as`` words a refusal (a draft's failure by default)."""
        explained = explain_as or (lambda element, contact: _outcome(element))
        found: dict[str, str | Explanation] = {}
        if not contacts:
            return found
        company_id = xero.company_id

        def payloads(part: list[Contact]) -> list[dict[str, Any]]:
            return [contact_payload(c, xero_contact_number(company_id, c.contact_number)) for c in part]

        async def settle(part: list[Contact], elements: list[Outcome]) -> None:
            for contact, element in zip(part, elements, strict=True):
                found[contact.contact_number] = explained(element, contact) or element["ContactID"]
                if isinstance(found[contact.contact_number], str):
                    await self.link(company_id, tenant_id, contact, element["ContactID"], "created", contact.name)
                    await self._links.synced(company_id, tenant_id, "contact", contact.contact_number,
                                             contact_values(contact))

        await send_split(lambda part, key: xero.create_contacts(payloads(part), key), contacts,
                         lambda part: request_key("contacts", [*batch, *(c.contact_number for c in part)],
                                                  payloads(part)), settle)
        raced = [c for c in contacts if isinstance(found[c.contact_number], Explanation)
                 and found[c.contact_number].code == "duplicate_contact_name"]
        seen: dict[str, dict[str, Any]] = {}
        for contact, match in zip(raced, await self.matches(xero, raced, seen), strict=True):
            if isinstance(match, Matched):
                found[contact.contact_number] = match.contact_id
                await self.link(company_id, tenant_id, contact, match.contact_id, "matched", match.name,
                                synced=contact_as_synced(seen.get(match.contact_id) or {}))
        return found

    async def forget(self, company_id: str, tenant_id: str, command: Any, code: str) -> None:
        """Xero no longer knows a contact or item we remembered: look it up afresh next time (an admin's link
        stays: they chose it, and the failure tells them to choose again)."""
        if code in ("unknown_contact", "duplicate_contact_name"):
            await self.forget_link(company_id, tenant_id, "contact", command.contact.contact_number)
        elif code == "unknown_item":
            for line in command.line_items:
                if line.item_code:
                    await self.forget_link(company_id, tenant_id, "item", line.item_code)

    async def forget_link(self, company_id: str, tenant_id: str, kind: str, key: str) -> None:
        link = await self._links.doc(company_id, tenant_id, kind, key)
        if link is not None and link.get("how") != "manual":
            await self._links.forget(company_id, tenant_id, kind, key)

    async def item_codes(self, xero: XeroClient, tenant_id: str, lines: list[LineItem],
                         batch: list[str]) -> dict[str, str | None | Explanation]:
        """What each product code becomes on a line: itself (a Xero item), the default item, none, or why not.
        ``batch`` keys the creating requests, as for contacts."""
        codes = sorted({line.item_code for line in lines if line.item_code})
        known = {code for code in codes if await self._links.get(xero.company_id, tenant_id, "item", code)}
        unknown = [c for c in codes if c not in known]
        for item in await find_split(xero.find_items, "Code", unknown):
            code = next((c for c in unknown if c.lower() == str(item["Code"]).lower()), None)
            if code is not None:
                await self._links.put(xero.company_id, tenant_id, "item", item["Code"], item["ItemID"],
                                      how="matched", name=item.get("Name"))
                await self._links.synced(xero.company_id, tenant_id, "item", item["Code"], item_as_synced(item))
                known.add(code)
        result: dict[str, str | None | Explanation] = {code: code for code in known}
        to_create = {}
        for line in lines:
            code = line.item_code
            if not code or code in result or code in to_create:
                continue
            if line.unmatched == "create_item" and line.create_item:
                to_create[code] = line
            else:
                result[code] = line.default_item_code if line.unmatched == "default_item" else None
        if to_create:
            await self._create_items(xero, tenant_id, to_create, result, batch)
        return result

    async def _create_items(self, xero: XeroClient, tenant_id: str, to_create: dict[str, LineItem],
                            result: dict[str, str | None | Explanation], batch: list[str]) -> None:
        async def settle(codes: list[str], elements: list[Outcome]) -> None:
            for code, element in zip(codes, elements, strict=True):
                result[code] = _outcome(element) or code
                if result[code] == code:
                    new = to_create[code].create_item
                    assert new is not None
                    await self._links.put(xero.company_id, tenant_id, "item", code, element["ItemID"],
                                          how="created", name=new.name)
                    await self._links.synced(xero.company_id, tenant_id, "item", code, new_item_values(new))

        def payloads(codes: list[str]) -> list[dict[str, Any]]:
            return [_item_payload(to_create[code]) for code in codes]

        await send_split(lambda codes, key: xero.create_items(payloads(codes), key), list(to_create),
                         lambda codes: request_key("items", [*batch, *codes], payloads(codes)), settle)


def line_item_code(line: LineItem, codes: dict[str, str | None | Explanation]) -> str | None | Explanation:
    if not line.item_code:
        return line.default_item_code if line.unmatched == "default_item" else None
    return codes[line.item_code]


def _item_payload(line: LineItem) -> dict[str, Any]:
    new = line.create_item
    assert new is not None
    payload = item_payload(new.code, new_item_values(new))
    payload.setdefault("Name", new.name)
    return payload
