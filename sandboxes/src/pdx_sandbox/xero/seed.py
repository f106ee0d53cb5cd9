"""Seed data for the two demo organisations, close to what a fresh Xero demo company holds."""

import uuid

NZ_TENANT_ID = "6f3b5a51-1d6e-4b0c-9a53-2f1c2a7e0a01"
UK_TENANT_ID = "9c2d4e77-8b1a-4f3e-b6d2-5e0a3c9f1b02"

# Every organisation gets these branding themes (SortOrder 0 is the default) and tracking categories; their ids are
# uuid5 of the tenant and the name, so a test can compute them: seed.theme_id(NZ_TENANT_ID, "Special projects").
BRANDING_THEMES = ["Standard", "Special projects"]
TRACKING = {
    "NZ": [("Region", ["North Island", "South Island"], ["Chatham Islands"]),
           ("Sales channel", ["Direct", "Partner", "Online"], [])],
    "GB": [("Region", ["North", "Midlands", "South"], ["Channel Islands"]),
           ("Sales channel", ["Direct", "Partner", "Online"], [])],
}


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "xero-sandbox/" + "/".join(parts)))


def theme_id(tenant_id: str, name: str) -> str:
    return _uuid(tenant_id, "branding-theme", name)


def tracking_category_id(tenant_id: str, name: str) -> str:
    return _uuid(tenant_id, "tracking-category", name)


def tracking_option_id(tenant_id: str, category: str, option: str) -> str:
    return _uuid(tenant_id, "tracking-option", category, option)


def branding_themes(tenant_id: str, created: str) -> list[dict]:
    """GET /BrandingThemes (xero_accounting.yaml BrandingTheme)."""
    return [{"BrandingThemeID": theme_id(tenant_id, name), "Name": name, "LogoUrl": None, "Type": "INVOICE",
             "SortOrder": order, "CreatedDateUTC": created} for order, name in enumerate(BRANDING_THEMES)]


def tracking_categories(tenant_id: str, country_code: str) -> list[dict]:
    """GET /TrackingCategories (TrackingCategory with Options of TrackingOption); archived options included here,
    the route leaves them out unless includeArchived=true."""
    out = []
    for name, active, archived in TRACKING.get(country_code, TRACKING["NZ"]):
        category_id = tracking_category_id(tenant_id, name)
        options = [{"TrackingOptionID": tracking_option_id(tenant_id, name, option), "Name": option,
                    "Status": status, "TrackingCategoryID": category_id}
                   for options, status in ((active, "ACTIVE"), (archived, "ARCHIVED")) for option in options]
        out.append({"TrackingCategoryID": category_id, "Name": name, "Status": "ACTIVE", "Options": options})
    return out

_CURRENCY_NAMES = {
    "NZD": "New Zealand Dollar",
    "USD": "United States Dollar",
    "AUD": "Australian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound",
    "CAD": "Canadian Dollar",
    "SGD": "Singapore Dollar",
    "ZAR": "South African Rand",
}


def currency(code: str) -> dict:
    return {"Code": code, "Description": _CURRENCY_NAMES.get(code, code)}


def tax_rate(tax_type: str, name: str, rate: float, *, revenue: bool = True, expenses: bool = False) -> dict:
    component = "VAT" if "VAT" in name else "GST" if "GST" in name else "Tax"
    return {
        "Name": name,
        "TaxType": tax_type,
        "ReportTaxType": "OUTPUT" if revenue else "INPUT",
        "CanApplyToAssets": True,
        "CanApplyToEquity": True,
        "CanApplyToExpenses": expenses,
        "CanApplyToLiabilities": True,
        "CanApplyToRevenue": revenue,
        "DisplayTaxRate": rate,
        "EffectiveRate": rate,
        "Status": "ACTIVE",
        "TaxComponents": [{"Name": component, "Rate": rate, "IsCompound": False, "IsNonRecoverable": False}],
    }


def account(code: str, name: str, acc_type: str, tax_type: str, status: str = "ACTIVE") -> dict:
    classes = {"REVENUE": "REVENUE", "SALES": "REVENUE", "OTHERINCOME": "REVENUE", "EXPENSE": "EXPENSE"}
    return {
        "AccountID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"xero-sandbox/account/{code}/{name}")),
        "Code": code,
        "Name": name,
        "Type": acc_type,
        "TaxType": tax_type,
        "Status": status,
        "Class": classes.get(acc_type, "ASSET"),
        "EnablePaymentsToAccount": False,
        "ShowInExpenseClaims": False,
        "BankAccountType": "BANK" if acc_type == "BANK" else "",
        "ReportingCode": "REV" if acc_type == "REVENUE" else "",
        "HasAttachments": False,
    }


def item(code: str, name: str, price: float, account_code: str, tax_type: str, description: str = "") -> dict:
    return {
        "Code": code,
        "Name": name,
        "Description": description or name,
        "IsSold": True,
        "IsPurchased": False,
        "IsTrackedAsInventory": False,
        "SalesDetails": {"UnitPrice": price, "AccountCode": account_code, "TaxType": tax_type},
        "PurchaseDetails": {},
    }


def nz_settings() -> dict:
    return {
        "country_code": "NZ",
        "currencies": ["NZD", "USD", "AUD", "EUR"],
        "tax_rates": [
            tax_rate("OUTPUT2", "15% GST on Income", 15.0),
            tax_rate("INPUT2", "15% GST on Expenses", 15.0, revenue=False, expenses=True),
            tax_rate("NONE", "No GST", 0.0, expenses=True),
            tax_rate("EXEMPTOUTPUT", "Exempt Income", 0.0),
            tax_rate("ZERORATEDOUTPUT", "Zero Rated Income", 0.0),
        ],
        "accounts": _accounts("OUTPUT2", "INPUT2"),
        "items": [
            item("CONSULT-HR", "Consulting hour", 150.0, "200", "OUTPUT2", "Consulting, per hour"),
            item("WIDGET-01", "Widget", 25.5, "200", "OUTPUT2", "Standard widget"),
            item("SUPPORT-YR", "Annual support", 1200.0, "260", "OUTPUT2", "Support contract, 12 months"),
        ],
    }


def uk_settings() -> dict:
    return {
        "country_code": "GB",
        "currencies": ["GBP", "EUR", "USD"],
        "tax_rates": [
            tax_rate("OUTPUT2", "20% (VAT on Income)", 20.0),
            tax_rate("RROUTPUT", "5% (VAT on Income)", 5.0),
            tax_rate("ZERORATEDOUTPUT", "Zero Rated Income", 0.0),
            tax_rate("EXEMPTOUTPUT", "Exempt Income", 0.0),
            tax_rate("INPUT2", "20% (VAT on Expenses)", 20.0, revenue=False, expenses=True),
            tax_rate("NONE", "No VAT", 0.0, expenses=True),
        ],
        "accounts": _accounts("OUTPUT2", "INPUT2"),
        "items": [
            item("CONSULT-HR", "Consulting hour", 120.0, "200", "OUTPUT2", "Consulting, per hour"),
            item("WIDGET-01", "Widget", 20.0, "200", "OUTPUT2", "Standard widget"),
        ],
    }


def generic_settings(base_currency: str, country_code: str) -> dict:
    return {
        "country_code": country_code,
        "currencies": [base_currency],
        "tax_rates": [tax_rate("OUTPUT", "Tax on Sales", 10.0), tax_rate("NONE", "Tax Exempt", 0.0, expenses=True)],
        "accounts": _accounts("OUTPUT", "NONE"),
        "items": [],
    }


def settings_for(base_currency: str, country_code: str | None) -> dict:
    if base_currency == "NZD" and country_code in (None, "NZ"):
        return nz_settings()
    if base_currency == "GBP" and country_code in (None, "GB", "UK"):
        return uk_settings()
    return generic_settings(base_currency, country_code or "US")


def _accounts(sales_tax: str, expense_tax: str) -> list[dict]:
    return [
        account("090", "Business Bank Account", "BANK", "NONE"),
        account("200", "Sales", "REVENUE", sales_tax),
        account("205", "Old Sales", "REVENUE", sales_tax, status="ARCHIVED"),
        account("260", "Other Revenue", "REVENUE", sales_tax),
        account("270", "Interest Income", "REVENUE", "NONE"),
        account("400", "Advertising", "EXPENSE", expense_tax),
        account("610", "Accounts Receivable", "CURRENT", "NONE"),
    ]
