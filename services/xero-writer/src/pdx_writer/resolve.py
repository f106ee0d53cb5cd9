"""Finding (or creating) what a draft refers to in Xero: the contact, the items, the tax types, the currency.

Each answer is remembered per organisation, so a known customer or product costs no Xero call.
"""

import time
from decimal import Decimal
from typing import Any

from pdx_common.contracts import Contact, LineItem
from pdx_common.xero import XeroClient, where_equals
from pdx_writer.adapters.links import MongoXeroLinks
from pdx_writer.domain.documents import contact_payload
from pdx_writer.domain.explain import Explanation, explain, validation_messages

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


def tax_type_for(facts: dict[str, Any], line: LineItem) -> str | None:
    if line.tax_type or line.tax_rate is None:
        return line.tax_type
    for rate in facts["tax_rates"]:
        if rate.get("CanApplyToRevenue", True) and Decimal(str(rate.get("EffectiveRate", "-1"))) == line.tax_rate:
            return rate["TaxType"]
    raise Refused(Explanation(
        "unknown_tax_rate", f"The deal has a {line.tax_rate}% tax on '{line.description[:60]}', and Xero's "
        f"organisation has no sales tax rate of {line.tax_rate}%.",
        f'Map {line.tax_rate}% to a Xero tax type in the app settings (money.tax_types, e.g. "{line.tax_rate}": '
        '"OUTPUT2"), or change the product\'s tax in Pipedrive, then replay the deal.'))


CHUNK = 25  # names per `where ... OR ...` query: keeps the URL short


def _chunks(values: list[str], size: int = CHUNK) -> list[list[str]]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def _or(field: str, values: list[str]) -> str:
    return " OR ".join(where_equals(field, value) for value in values)


def _failed(element: dict[str, Any]) -> bool:
    return element.get("StatusAttributeString") == "ERROR" or bool(element.get("HasValidationErrors"))


class Resolver:
    """Finds or creates the contacts and items of a whole batch of drafts in as few Xero calls as it can: one
    ``where ... OR ...`` query per kind of match, one PUT for everything missing, and none for what it knew."""

    def __init__(self, links: MongoXeroLinks) -> None:
        self._links = links

    async def contact_ids(self, xero: XeroClient, tenant_id: str, contacts: list[tuple[Contact, bool]],
                          idempotency_key: str) -> dict[str, str | Explanation]:
        """ContactID (or why not) per contact number. Each contact comes with whether it may be created."""
        wanted = {c.contact_number: (c, create) for c, create in contacts}
        found: dict[str, str | Explanation] = {}
        for number in wanted:
            if known := await self._links.get(xero.company_id, tenant_id, "contact", number):
                found[number] = known
        for field, key in (("ContactNumber", lambda c: c.contact_number), ("EmailAddress", lambda c: c.email),
                           ("Name", lambda c: c.name)):
            await self._match(xero, wanted, found, field, key)
        await self._create_contacts(xero, wanted, found, idempotency_key)
        for number, value in found.items():
            if isinstance(value, str):
                await self._links.put(xero.company_id, tenant_id, "contact", number, value)
        return found

    async def _match(self, xero: XeroClient, wanted: dict, found: dict, field: str, key) -> None:
        open_ = {number: key(c).lower() for number, (c, _) in wanted.items() if number not in found and key(c)}
        for values in _chunks(sorted(set(open_.values()))):
            matches = [c for c in await xero.find_contacts(_or(field, values))
                       if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
            by_value = {str(c.get(field) or "").lower(): c["ContactID"] for c in reversed(matches)}
            for number, value in open_.items():
                if value in by_value:
                    found[number] = by_value[value]

    async def _create_contacts(self, xero: XeroClient, wanted: dict, found: dict, idempotency_key: str) -> None:
        missing = [c for number, (c, create) in wanted.items() if number not in found and create]
        for number, (c, create) in wanted.items():
            if number not in found and not create:
                found[number] = Explanation(
                    "contact_not_found", f"Xero has no contact for '{c.name}', and creating contacts is off.",
                    "Create the contact in Xero, or turn on customer.create_missing in the app settings, then "
                    "replay the deal.")
        if not missing:
            return
        created = await xero.create_contacts([contact_payload(c) for c in missing], idempotency_key)
        for contact, element in zip(missing, created, strict=True):
            found[contact.contact_number] = (explain(validation_messages(element)) if _failed(element)
                                             else element["ContactID"])
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
                         idempotency_key: str) -> dict[str, str | None | Explanation]:
        """What each product code becomes on a line: itself (a Xero item), the default item, none, or why not."""
        codes = sorted({line.item_code for line in lines if line.item_code})
        known = {code for code in codes if await self._links.get(xero.company_id, tenant_id, "item", code)}
        for chunk in _chunks([c for c in codes if c not in known]):
            for item in await xero.find_items_any(chunk):
                await self._links.put(xero.company_id, tenant_id, "item", item["Code"], item["ItemID"])
                known.add(next(c for c in chunk if c.lower() == str(item["Code"]).lower()))
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
            created = await xero.create_items([_item_payload(line) for line in to_create.values()], idempotency_key)
            for code, element in zip(to_create, created, strict=True):
                if _failed(element):
                    result[code] = explain(validation_messages(element))
                else:
                    result[code] = code
                    await self._links.put(xero.company_id, tenant_id, "item", code, element["ItemID"])
        return result


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
        sales["UnitPrice"] = str(new.unit_price)
    if new.account_code:
        sales["AccountCode"] = new.account_code
    if new.tax_type:
        sales["TaxType"] = new.tax_type
    if sales:
        payload["SalesDetails"] = sales
    return payload
