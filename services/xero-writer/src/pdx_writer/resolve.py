"""Finding (or creating) what a draft refers to in Xero: the contact, the items, the tax types, the currency.

Each answer is remembered per organisation, so a known customer or product costs no Xero call.
"""

import time
from decimal import Decimal
from typing import Any

from pdx_common.contracts import Contact, LineItem
from pdx_common.xero import XeroClient
from pdx_common.xero_links import MongoXeroLinks
from pdx_writer.adapters.xero_splitting import Outcome, Refusal, find_split, request_key, send_split
from pdx_writer.domain.documents import contact_payload
from pdx_writer.domain.explain import (
    APP_SETTINGS,
    IN_APP_SETTINGS,
    Explanation,
    explain,
    explain_refusal,
    validation_messages,
)

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


def _failed(element: dict[str, Any]) -> bool:
    return element.get("StatusAttributeString") == "ERROR" or bool(element.get("HasValidationErrors"))


def _outcome(element: Outcome) -> Explanation | None:
    """Why Xero did not create this contact or item, or None when it did."""
    if isinstance(element, Refusal):
        return explain_refusal(element.status, element.body)
    return explain(validation_messages(element)) if _failed(element) else None


class Resolver:
    """Finds or creates the contacts and items of a whole batch of drafts in as few Xero calls as it can: one
    ``where ... OR ...`` query per kind of match, one PUT for everything missing, and none for what it knew."""

    def __init__(self, links: MongoXeroLinks) -> None:
        self._links = links

    async def contact_ids(self, xero: XeroClient, tenant_id: str, contacts: list[tuple[Contact, bool]],
                          batch: list[str]) -> dict[str, str | Explanation]:
        """ContactID (or why not) per contact number. Each contact comes with whether it may be created.

        ``batch`` (the command ids asking) is part of every creating request's idempotency key: a redelivery of the
        same commands replays Xero's answer, a replay after a fix (new commands) asks Xero afresh."""
        wanted = {c.contact_number: (c, create) for c, create in contacts}
        found: dict[str, str | Explanation] = {}
        for number in wanted:
            if known := await self._links.get(xero.company_id, tenant_id, "contact", number):
                found[number] = known
        for field, key in (("ContactNumber", lambda c: c.contact_number), ("EmailAddress", lambda c: c.email),
                           ("Name", lambda c: c.name)):
            await self._match(xero, wanted, found, field, key)
        await self._create_contacts(xero, wanted, found, batch)
        for number, value in found.items():
            if isinstance(value, str):
                await self._links.put(xero.company_id, tenant_id, "contact", number, value)
        return found

    async def _match(self, xero: XeroClient, wanted: dict, found: dict, field: str, key) -> None:
        open_ = {number: key(c).lower() for number, (c, _) in wanted.items() if number not in found and key(c)}
        matches = [c for c in await find_split(xero.find_contacts, field, sorted(set(open_.values())))
                   if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
        by_value = {str(c.get(field) or "").lower(): c["ContactID"] for c in reversed(matches)}
        for number, value in open_.items():
            if value in by_value:
                found[number] = by_value[value]

    async def _create_contacts(self, xero: XeroClient, wanted: dict, found: dict, batch: list[str]) -> None:
        missing = [c for number, (c, create) in wanted.items() if number not in found and create]
        for number, (c, create) in wanted.items():
            if number not in found and not create:
                found[number] = Explanation(
                    "contact_not_found", f"Xero has no contact for '{c.name}', and creating contacts is off.",
                    f"Create the contact in Xero, or, in {APP_SETTINGS}, open Customers, products & money and "
                    "tick Create the contact in Xero when it is missing, then replay the deal.")
        if not missing:
            return

        async def settle(contacts: list[Contact], elements: list[Outcome]) -> None:
            for contact, element in zip(contacts, elements, strict=True):
                found[contact.contact_number] = _outcome(element) or element["ContactID"]

        await send_split(lambda part, key: xero.create_contacts([contact_payload(c) for c in part], key), missing,
                         lambda part: request_key("contacts", [*batch, *(c.contact_number for c in part)],
                                                  [contact_payload(c) for c in part]), settle)
        # Another writer created the same customer a moment ago (Xero names are unique): use that contact.
        raced = {c.contact_number: (c, False) for c in missing
                 if isinstance(found[c.contact_number], Explanation)
                 and found[c.contact_number].code == "duplicate_contact_name"}
        for number in raced:
            del found[number]
        await self._match(xero, raced, found, "Name", lambda c: c.name)
        for number, (contact, _) in raced.items():
            found.setdefault(number, explain([f"The contact name {contact.name} is already assigned to another "
                                              "contact."]))

    async def forget(self, company_id: str, tenant_id: str, command: Any, code: str) -> None:
        if code in ("unknown_contact", "duplicate_contact_name"):
            await self._links.forget(company_id, tenant_id, "contact", command.contact.contact_number)
        elif code == "unknown_item":
            for line in command.line_items:
                if line.item_code:
                    await self._links.forget(company_id, tenant_id, "item", line.item_code)

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
                await self._links.put(xero.company_id, tenant_id, "item", item["Code"], item["ItemID"])
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
                    await self._links.put(xero.company_id, tenant_id, "item", code, element["ItemID"])

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
    payload: dict[str, Any] = {"Code": new.code, "Name": new.name}
    if new.description:
        payload["Description"] = new.description[:4000]
    sales: dict[str, Any] = {}
    if new.unit_price is not None:
        sales["UnitPrice"] = new.unit_price
    if new.account_code:
        sales["AccountCode"] = new.account_code
    if new.tax_type:
        sales["TaxType"] = new.tax_type
    if sales:
        payload["SalesDetails"] = sales
    return payload
