"""What the company's connected Xero organisation offers the settings app's pickers: items, tax rates usable on
sales, active revenue accounts, tracking categories with their options, branding themes, the organisation's name,
and contacts found by name (for an admin linking a customer). Read on demand through the company's own connection;
nothing is kept between requests.

``XeroCatalog(XeroClient(connector.session, connector.xero_tokens(), "7001", api_url)).revenue_accounts()``
-> ``[Account(code="200", name="Sales"), ...]``
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

REVENUE_TYPES = frozenset({"REVENUE", "SALES", "OTHERINCOME"})


class XeroApi(Protocol):
    async def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                      idempotency_key: str | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Item:
    code: str
    name: str


@dataclass(frozen=True)
class TaxRate:
    tax_type: str
    name: str
    rate: Decimal | None  # the effective percentage, e.g. 15

    @property
    def label(self) -> str:
        """``GST on Income (15%)``; a name that already says its percentage (``15% GST on Income``) as it is."""
        if self.rate is None or _percent(self.rate) in self.name:
            return self.name
        return f"{self.name} ({_percent(self.rate)})"


@dataclass(frozen=True)
class Account:
    code: str
    name: str


@dataclass(frozen=True)
class TrackingCategory:
    name: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class BrandingTheme:
    id: str
    name: str


@dataclass(frozen=True)
class Contact:
    id: str
    name: str
    email: str | None
    number: str | None  # Xero's ContactNumber (ours: "pd7001-org-12")


SEARCH_SHOWN = 20  # a search that finds more asks for a longer name


class XeroCatalog:
    def __init__(self, api: XeroApi) -> None:
        self._api = api

    async def _list(self, path: str, key: str) -> list[dict[str, Any]]:
        body = await self._api.request("GET", path)
        return [row for row in body.get(key) or [] if isinstance(row, dict)]

    async def organisation_name(self) -> str:
        organisations = await self._list("/Organisation", "Organisations")
        return str(organisations[0].get("Name") or "") if organisations else ""

    async def search_contacts(self, term: str) -> list[Contact]:
        """Active contacts whose name, email or number contains ``term`` (``GET /Contacts?searchTerm=``), by name."""
        body = await self._api.request("GET", "/Contacts", params={"searchTerm": term, "page": "1"})
        rows = [r for r in body.get("Contacts") or [] if isinstance(r, dict) and r.get("ContactID")
                and r.get("ContactStatus", "ACTIVE") == "ACTIVE"]
        contacts = [Contact(str(r["ContactID"]), str(r.get("Name") or r["ContactID"]), r.get("EmailAddress") or None,
                            r.get("ContactNumber") or None) for r in rows]
        return sorted(contacts, key=lambda c: c.name.lower())[:SEARCH_SHOWN]

    async def items(self) -> list[Item]:
        rows = await self._list("/Items", "Items")
        return sorted((Item(str(r["Code"]), str(r.get("Name") or r["Code"])) for r in rows
                       if r.get("Code") and r.get("IsSold", True) is not False), key=lambda i: i.code.lower())

    async def tax_rates(self) -> list[TaxRate]:
        """Active rates Xero lets a sale use (``CanApplyToRevenue``)."""
        rows = await self._list("/TaxRates", "TaxRates")
        return [TaxRate(str(r["TaxType"]), str(r.get("Name") or r["TaxType"]), _decimal(r.get("EffectiveRate")))
                for r in rows if r.get("TaxType") and r.get("Status", "ACTIVE") == "ACTIVE"
                and r.get("CanApplyToRevenue", True) is not False]

    async def revenue_accounts(self) -> list[Account]:
        """Active accounts of the revenue class (sales, revenue, other income) that have a code."""
        rows = await self._list("/Accounts", "Accounts")
        return sorted((Account(str(r["Code"]), str(r.get("Name") or r["Code"])) for r in rows
                       if r.get("Code") and r.get("Status", "ACTIVE") == "ACTIVE"
                       and (r.get("Class") == "REVENUE" or r.get("Type") in REVENUE_TYPES)),
                      key=lambda a: a.code)

    async def tracking_categories(self) -> list[TrackingCategory]:
        rows = await self._list("/TrackingCategories", "TrackingCategories")
        return [TrackingCategory(str(r["Name"]), tuple(str(o["Name"]) for o in r.get("Options") or []
                                                      if o.get("Name") and o.get("Status", "ACTIVE") == "ACTIVE"))
                for r in rows if r.get("Name") and r.get("Status", "ACTIVE") == "ACTIVE"]

    async def branding_themes(self) -> list[BrandingTheme]:
        rows = await self._list("/BrandingThemes", "BrandingThemes")
        themes = sorted(rows, key=lambda r: r.get("SortOrder") or 0)
        return [BrandingTheme(str(r["BrandingThemeID"]), str(r.get("Name") or r["BrandingThemeID"]))
                for r in themes if r.get("BrandingThemeID")]


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"
