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


class Resolver:
    def __init__(self, links: MongoXeroLinks) -> None:
        self._links = links

    async def contact_id(self, xero: XeroClient, tenant_id: str, contact: Contact, *, create: bool,
                         idempotency_key: str) -> str:
        company = xero.company_id
        known = await self._links.get(company, tenant_id, "contact", contact.contact_number)
        if known:
            return known
        found = await self._find_contact(xero, contact)
        if found is None:
            if not create:
                raise Refused(Explanation(
                    "contact_not_found", f"Xero has no contact for '{contact.name}', and creating contacts is off.",
                    "Create the contact in Xero, or turn on customer.create_missing in the app settings, then "
                    "replay the deal."))
            found = (await xero.create_contacts([contact_payload(contact)], idempotency_key))[0]
            if found.get("StatusAttributeString") == "ERROR" or found.get("HasValidationErrors"):
                raise Refused(explain(validation_messages(found)))
        await self._links.put(company, tenant_id, "contact", contact.contact_number, found["ContactID"])
        return found["ContactID"]

    async def _find_contact(self, xero: XeroClient, contact: Contact) -> dict[str, Any] | None:
        searches = [where_equals("ContactNumber", contact.contact_number)]
        if contact.email:
            searches.append(where_equals("EmailAddress", contact.email))
        searches.append(where_equals("Name", contact.name))
        for where in searches:
            active = [c for c in await xero.find_contacts(where) if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
            if active:
                return active[0]
        return None

    async def item_code(self, xero: XeroClient, tenant_id: str, line: LineItem, idempotency_key: str) -> str | None:
        code = line.item_code
        if not code:
            return line.default_item_code if line.unmatched == "default_item" else None
        company = xero.company_id
        if await self._links.get(company, tenant_id, "item", code):
            return code
        items = await xero.find_items(code)
        if items:
            await self._links.put(company, tenant_id, "item", code, items[0]["ItemID"])
            return code
        if line.unmatched == "default_item":
            return line.default_item_code
        if line.unmatched == "create_item" and line.create_item:
            created = (await xero.create_items([_item_payload(line)], idempotency_key))[0]
            if created.get("StatusAttributeString") == "ERROR":
                raise Refused(explain(validation_messages(created)))
            await self._links.put(company, tenant_id, "item", code, created["ItemID"])
            return code
        return None  # description-only line


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
