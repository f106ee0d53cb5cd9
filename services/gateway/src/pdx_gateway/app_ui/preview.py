"""Preview: the draft the company's saved settings would make for one deal, as the engine maps it
(``pdx_mapper.preview.preview_draft``), checked against the company's Xero organisation the way the writer checks it
(tax rates, revenue accounts, items, tracking options), so "it previews" means "it will work". Reads the deal from
Pipedrive and names from Xero; writes nothing anywhere.

Admins only: the preview reads deals with the company's connection, which sees deals a salesperson may not.

``GET /app/preview?recent_deal=42&action=invoice`` (a recent deal picked by title) or ``?deal_id=42`` (typed).
"""

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import CreateInvoice, CreateQuote, LineItem
from pdx_gateway.app_ui.catalog import Source, choices
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session
from pdx_gateway.keys import CONNECTOR, SETTINGS_STORE
from pdx_mapper.adapters.pipedrive import PipedriveDealReader
from pdx_mapper.preview import preview_draft

routes = web.RouteTableDef()
ACTIONS = (("invoice", "Invoice"), ("quote", "Quote"))
ECHO = 20  # characters of a typed deal number shown back
RULES, MAPPINGS = "Customers, products & money", "Field mappings"


@dataclass(frozen=True)
class Problem:
    """Why the deal cannot become a draft, how to fix it, and where (a section and field of the app)."""

    message: str
    fix: str | None = None
    url: str | None = None
    where: str | None = None


@routes.get("/preview")
async def show(request: web.Request) -> web.Response:
    session = app_session(request)
    if not session.is_admin:
        return render(request, "preview.html", {"admins_only": True})
    deal_id = (request.query.get("deal_id", "").strip() or request.query.get("recent_deal", "").strip())
    action = request.query.get("action", "invoice")
    action = action if action in ("invoice", "quote") else "invoice"
    recent = await choices(request, session.company_id).pipedrive("deals", lambda c: c.recent_deals())
    recent_deals = [(str(deal.id), f"{deal.title} (#{deal.id})") for deal in recent.values or []]
    context: dict[str, Any] = {
        "admins_only": False, "deal_id": request.query.get("deal_id", "").strip()[:ECHO],
        "recent_deal": request.query.get("recent_deal", "").strip(), "shown_id": _cut(deal_id),
        "action": action, "actions": ACTIONS, "draft": None, "problems": [], "unavailable": None,
        "recent_deals": recent_deals, "recent_why_not": recent.why_not, "title": None}
    if deal_id:
        context.update(await _preview(request, deal_id, action))
        titles = {str(deal.id): deal.title for deal in recent.values or []}
        context["title"] = titles.get(deal_id) or await _title(request, deal_id, context)
    return render(request, "preview.html", context)


async def _title(request: web.Request, deal_id: str, context: dict[str, Any]) -> str | None:
    """The title of a deal typed by number (not among the recent ones), when it previewed."""
    if not context.get("draft") or not deal_id.isdigit() or len(deal_id) > 18:
        return None
    found = await choices(request, app_session(request).company_id).pipedrive("deals", lambda c: _one(c, deal_id))
    return found.values[0].title if found.values else None


async def _one(catalog: Any, deal_id: str) -> list[Any]:
    return [await catalog.deal(int(deal_id))]


def _cut(text: str) -> str:
    return text if len(text) <= ECHO else text[: ECHO - 1] + "…"


async def _preview(request: web.Request, deal_id: str, action: str) -> dict[str, Any]:
    company_id = app_session(request).company_id
    connector = request.config_dict.get(CONNECTOR)
    if connector is None:
        return {"unavailable": "Previews read the deal from Pipedrive, which is not connected here. Reinstall or "
                               "reconnect the app in Pipedrive, then try again."}
    settings = await request.config_dict[SETTINGS_STORE].get(company_id)
    reader = PipedriveDealReader(connector.session, connector.pipedrive_tokens(), connector.settings.pipedrive_api_url)
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    result = await preview_draft(reader, company_id, deal_id, settings, action, today)
    if result.command is None:
        problem = result.problem
        return {"problems": [Problem(problem.message, problem.fix)] if problem else []}
    return await _shown(request, company_id, settings, result.command)


async def _shown(request: web.Request, company_id: str, settings: CompanySettings,
                 command: CreateInvoice | CreateQuote) -> dict[str, Any]:
    """The draft as a person reads it (names for accounts, tax rates and the branding theme), or, when Xero would
    refuse it, why and where to fix it."""
    source = choices(request, company_id)
    accounts, rates, themes, items, categories, organisation = await asyncio.gather(
        source.xero("accounts", lambda x: x.revenue_accounts()), source.xero("tax rates", lambda x: x.tax_rates()),
        source.xero("branding themes", lambda x: x.branding_themes()) if command.branding_theme_id
        else _nothing(), source.xero("items", lambda x: x.items()),
        source.xero("tracking categories", lambda x: x.tracking_categories()) if _tracked(command) else _nothing(),
        source.xero_organisation())
    check = Checks(settings, accounts, rates, items, categories)
    lines = [_line(line, check) for line in command.line_items]
    if check.problems:
        return {"problems": list(dict.fromkeys(check.problems))}
    subtotal = sum((_net(line) for line in command.line_items), Decimal(0))
    theme = {t.id: t.name for t in themes.values or []}.get(command.branding_theme_id or "",
                                                            command.branding_theme_id)
    return {"draft": {
        "kind": "quote" if isinstance(command, CreateQuote) else "invoice", "command": command, "lines": lines,
        "subtotal": _money(subtotal), "theme": theme, "organisation": organisation,
        "date": day(command.date), "due": day(getattr(command, "due_date", None)),
        "expiry": day(getattr(command, "expiry_date", None)),
        "discounts": any(line["discount"] for line in lines), "tracking": any(line["tracking"] for line in lines),
        "amounts": {"Exclusive": "Amounts exclude tax", "Inclusive": "Amounts include tax",
                    "NoTax": "No tax"}[command.line_amount_types]}}


def _tracked(command: CreateInvoice | CreateQuote) -> bool:
    return any(line.tracking for line in command.line_items)


async def _nothing() -> Source:
    return Source([])


class Checks:
    """What the writer checks against Xero before (or by) creating the draft, with the catalog the pages use. A source
    Xero could not give is not checked (the preview cannot know)."""

    def __init__(self, settings: CompanySettings, accounts: Source, rates: Source, items: Source,
                 categories: Source) -> None:
        self.settings = settings
        self.accounts = {a.code: f"{a.code} · {a.name}" for a in accounts.values or []} if accounts.ok else None
        self.rates = list(rates.values or []) if rates.ok else None
        self.items = {i.code.lower(): i.code for i in items.values or []} if items.ok else None
        self.categories = ({c.name.lower(): c for c in categories.values or []} if categories.ok else None)
        self.problems: list[Problem] = []

    def tax(self, line: LineItem) -> str:
        money = self.settings.money
        if line.tax_type:
            rate = next((r for r in self.rates or [] if r.tax_type == line.tax_type), None)
            if rate is not None or self.rates is None:
                return rate.name if rate else line.tax_type
            keys = list(money.tax_types)
            mapped = next((k for k, v in money.tax_types.items() if v == line.tax_type), None)
            field = f"tax_types-{keys.index(mapped)}-tax_type" if mapped is not None else "money-default_tax_type"
            self.problems.append(Problem(
                f"The tax rate {line.tax_type} is not a sales tax rate of Xero's organisation (it may be archived).",
                "Choose one of the organisation's tax rates instead.", f"/app/rules#f-{field}",
                f"{RULES} › Tax rates"))
            return line.tax_type
        if line.tax_rate is None:
            return "Xero's default for the account"
        if self.rates is None:
            return f"{_percent(line.tax_rate)} (Xero's rate with that percentage)"
        matches = [r for r in self.rates if r.rate is not None and r.rate == line.tax_rate]
        if matches:
            return matches[0].name  # the writer takes the first sales rate with that percentage
        if any(f"no sales tax rate of {_percent(line.tax_rate)}." in p.message for p in self.problems):
            return _percent(line.tax_rate)  # said once for the deal, not once per line
        self.problems.append(Problem(
            f"The deal has a {_percent(line.tax_rate)} tax on '{line.description[:60]}', and Xero's organisation has "
            f"no sales tax rate of {_percent(line.tax_rate)}.",
            f"Under Tax rates, add {_percent(line.tax_rate)} and choose the Xero tax rate for it, or change the "
            "product's tax in Pipedrive.", f"/app/rules#f-tax_types-{len(money.tax_types)}-rate",
            f"{RULES} › Tax rates"))
        return _percent(line.tax_rate)

    def account(self, line: LineItem) -> str:
        code = line.account_code or ""
        if not code or self.accounts is None or code in self.accounts:
            return (self.accounts or {}).get(code, code)
        money = self.settings.money
        pipeline = next((k for k, v in money.account_by_pipeline.items() if v == code), None)
        product = next((k for k, v in money.account_by_product.items() if v == code), None)
        field = (f"money-account_by_product-{product}" if product is not None
                 else f"money-account_by_pipeline-{pipeline}" if pipeline is not None else "money-sales_account_code")
        self.problems.append(Problem(
            f"The revenue account {code} is not an active revenue account of Xero's organisation.",
            "Choose one of the organisation's revenue accounts instead.", f"/app/rules#f-{field}",
            f"{RULES} › Money"))
        return code

    def item(self, line: LineItem) -> str:
        """The item the writer puts on the line: the product's own item, the default item, a new one, or none."""
        code = line.item_code
        if self.items is None:
            return code or ""
        if code and code.lower() in self.items:
            return self.items[code.lower()]
        if line.unmatched == "create_item" and code and line.create_item:
            return f"{code} (new item)"
        if line.unmatched != "default_item":
            return ""
        default = line.default_item_code or ""
        if default.lower() in self.items:
            return self.items[default.lower()]
        self.problems.append(Problem(
            f"The default item {default or '(none)'} is not an item of Xero's organisation, so "
            f"'{line.description[:60]}' cannot be sold as it.",
            "Choose one of the organisation's items as the default item, or another rule for products Xero doesn't "
            "know.", "/app/rules#f-products-default_item_code", f"{RULES} › Products"))
        return default

    def tracking(self, line: LineItem) -> str:
        if self.categories is None:
            return ", ".join(f"{name}: {option}" for name, option in line.tracking)
        rows = [row.name.lower() for row in self.settings.fields.tracking]
        for name, option in line.tracking[:2]:
            index = rows.index(name.lower()) if name.lower() in rows else 0
            category = self.categories.get(name.lower())
            if category is None:
                self.problems.append(Problem(
                    f"Xero's organisation has no active tracking category {name}.",
                    "Choose one of the organisation's tracking categories.",
                    f"/app/mappings#f-fields-tracking-{index}-name", f"{MAPPINGS} › Tracking"))
            elif option not in category.options:
                self.problems.append(Problem(
                    f"{option} is not an option of the tracking category {category.name} in Xero (its options: "
                    f"{', '.join(category.options) or 'none'}).",
                    "Change the option to one of these, or add the option in Xero.",
                    f"/app/mappings#f-fields-tracking-{index}-option", f"{MAPPINGS} › Tracking"))
        return ", ".join(f"{name}: {option}" for name, option in line.tracking)


def _line(line: LineItem, check: Checks) -> dict[str, Any]:
    discount = (_percent(line.discount_rate) if line.discount_rate is not None
                else amount(line.discount_amount) if line.discount_amount else "")
    return {"description": line.description, "quantity": f"{line.quantity.normalize():f}",
            "unit": amount(line.unit_amount), "item": check.item(line), "account": check.account(line),
            "tax": check.tax(line), "discount": discount, "amount": _money(_net(line)),
            "tracking": check.tracking(line)}


def _net(line: LineItem) -> Decimal:
    gross = line.quantity * line.unit_amount
    if line.discount_rate is not None:
        return gross * (100 - line.discount_rate) / 100
    return gross - (line.discount_amount or 0)


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


def amount(value: Decimal) -> str:
    """``1620`` -> ``1,620.00``; a price with more decimals keeps them (``0.125`` -> ``0.125``)."""
    if value == value.quantize(Decimal("0.01")):
        return _money(value)
    return f"{value.normalize():,f}"


def day(value: date | None) -> str | None:
    """``30 Nov 2026``."""
    return f"{value.day} {value:%b %Y}" if value else None
