"""One Xero organisation (tenant) and its documents, kept as dicts in Xero's JSON shape."""

import uuid
from dataclasses import dataclass, field

from .formats import ms_date
from .seed import currency


@dataclass
class Tenant:
    tenant_id: str
    name: str
    base_currency: str
    country_code: str
    created: float
    currencies: list[dict] = field(default_factory=list)
    tax_rates: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    contacts: dict[str, dict] = field(default_factory=dict)
    items: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    quotes: dict[str, dict] = field(default_factory=dict)
    branding_themes: list[dict] = field(default_factory=list)
    tracking_categories: list[dict] = field(default_factory=list)
    invoice_seq: int = 0
    quote_seq: int = 0
    outage_status: int = 500
    outage_count: int = 0

    @property
    def short_code(self) -> str:
        return "!" + self.tenant_id.replace("-", "")[:5]

    def organisation(self) -> dict:
        version = {"GB": "UK"}.get(self.country_code, self.country_code)
        return {
            "OrganisationID": self.tenant_id,
            "APIKey": "",
            "Name": self.name,
            "LegalName": self.name,
            "PaysTax": True,
            "Version": version,
            "OrganisationType": "COMPANY",
            "BaseCurrency": self.base_currency,
            "CountryCode": self.country_code,
            "IsDemoCompany": True,
            "OrganisationStatus": "ACTIVE",
            "FinancialYearEndDay": 31,
            "FinancialYearEndMonth": 3,
            "SalesTaxBasis": "ACCRUALS",
            "SalesTaxPeriod": "TWOMONTHS",
            "DefaultSalesTax": "Tax Exclusive",
            "DefaultPurchasesTax": "Tax Exclusive",
            "CreatedDateUTC": ms_date(self.created).replace("+0000", ""),
            "OrganisationEntityType": "COMPANY",
            "Timezone": "NEWZEALANDSTANDARDTIME" if self.country_code == "NZ" else "GMTSTANDARDTIME",
            "ShortCode": self.short_code,
            "Edition": "BUSINESS",
            "Class": "PREMIUM",
            "Addresses": [],
            "Phones": [],
            "ExternalLinks": [],
            "PaymentTerms": {},
        }

    def branding_theme(self, theme_id: str) -> dict | None:
        wanted = str(theme_id).lower()
        return next((t for t in self.branding_themes if t["BrandingThemeID"] == wanted), None)

    def currency_codes(self) -> set[str]:
        return {c["Code"] for c in self.currencies}

    def enable_currency(self, code: str) -> None:
        if code not in self.currency_codes():
            self.currencies.append(currency(code))

    def tax_rate(self, tax_type: str) -> dict | None:
        return next((r for r in self.tax_rates if r["TaxType"] == tax_type and r["Status"] == "ACTIVE"), None)

    def account(self, code: str) -> dict | None:
        return next((a for a in self.accounts if a["Code"] == code), None)

    def item_by_code(self, code: str) -> dict | None:
        wanted = code.casefold()
        return next((i for i in self.items.values() if i["Code"].casefold() == wanted), None)

    def contact_by_number(self, number: str) -> dict | None:
        return next((c for c in self.contacts.values() if c.get("ContactNumber") == number), None)

    def active_contact_by_name(self, name: str) -> dict | None:
        wanted = name.strip().casefold()
        return next((c for c in self.contacts.values()
                     if c["ContactStatus"] == "ACTIVE" and c["Name"].strip().casefold() == wanted), None)

    def find_document(self, kind: str, key: str) -> dict | None:
        """By id or by number: GET /Invoices/{InvoiceID or InvoiceNumber}."""
        docs, number_field = (self.invoices, "InvoiceNumber") if kind == "invoice" else (self.quotes, "QuoteNumber")
        if key in docs:
            return docs[key]
        return next((d for d in docs.values() if d.get(number_field) == key), None)

    def next_number(self, kind: str) -> str:
        docs, prefix, field_name = ((self.invoices, "INV", "InvoiceNumber") if kind == "invoice"
                                    else (self.quotes, "QU", "QuoteNumber"))
        used = {d.get(field_name) for d in docs.values()}
        while True:
            if kind == "invoice":
                self.invoice_seq += 1
                number = f"{prefix}-{self.invoice_seq:04d}"
            else:
                self.quote_seq += 1
                number = f"{prefix}-{self.quote_seq:04d}"
            if number not in used:
                return number

    def snapshot(self) -> tuple:
        """Shallow copies are enough: stored documents are replaced, never changed in place."""
        return (dict(self.contacts), dict(self.items), dict(self.invoices), dict(self.quotes),
                self.invoice_seq, self.quote_seq)

    def restore(self, snap: tuple) -> None:
        (self.contacts, self.items, self.invoices, self.quotes, self.invoice_seq, self.quote_seq) = snap


def new_id() -> str:
    return str(uuid.uuid4())
