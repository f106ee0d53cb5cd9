"""Preview: the draft the company's saved settings would make for one deal, as the engine maps it
(``pdx_mapper.preview.preview_draft``). Reads the deal from Pipedrive and names from Xero; writes nothing anywhere.
Everyone in the company may preview (it is a GET form).

``GET /app/preview?deal_id=42&action=invoice``
"""

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from pdx_common.contracts import CreateInvoice, CreateQuote, LineItem
from pdx_gateway.app_ui.catalog import Source, choices
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session
from pdx_gateway.keys import CONNECTOR, SETTINGS_STORE
from pdx_mapper.adapters.pipedrive import PipedriveDealReader
from pdx_mapper.preview import preview_draft

routes = web.RouteTableDef()
ACTIONS = (("invoice", "Invoice"), ("quote", "Quote"))


@routes.get("/preview")
async def show(request: web.Request) -> web.Response:
    deal_id = request.query.get("deal_id", "").strip()
    action = request.query.get("action", "invoice")
    action = action if action in ("invoice", "quote") else "invoice"
    context: dict[str, Any] = {"deal_id": deal_id, "action": action, "actions": ACTIONS, "draft": None,
                               "problem": None, "unavailable": None}
    if deal_id:
        context.update(await _preview(request, deal_id, action))
    recent = await choices(request, app_session(request).company_id).pipedrive(
        "deals", lambda c: c.recent_deals())
    context["recent_deals"] = [(deal.id, deal.title) for deal in recent.values or []]
    return render(request, "preview.html", context)


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
        return {"problem": result.problem}
    return {"draft": await _shown(request, company_id, result.command)}


async def _shown(request: web.Request, company_id: str, command: CreateInvoice | CreateQuote) -> dict[str, Any]:
    """The draft as a person reads it: names for accounts, tax rates and the branding theme where Xero says them."""
    source = choices(request, company_id)
    accounts, rates, themes, organisation = await asyncio.gather(
        source.xero("accounts", lambda x: x.revenue_accounts()), source.xero("tax rates", lambda x: x.tax_rates()),
        source.xero("branding themes", lambda x: x.branding_themes()) if command.branding_theme_id
        else _nothing(), source.xero_organisation())
    account_names = _names(accounts, lambda a: (a.code, f"{a.code} · {a.name}"))
    tax_names = _names(rates, lambda r: (r.tax_type, r.label))
    lines = [_line(line, account_names, tax_names) for line in command.line_items]
    subtotal = sum((_net(line) for line in command.line_items), Decimal(0))
    theme = _names(themes, lambda t: (t.id, t.name)).get(command.branding_theme_id or "", command.branding_theme_id)
    return {"kind": "quote" if isinstance(command, CreateQuote) else "invoice", "command": command, "lines": lines,
            "subtotal": _money(subtotal), "theme": theme, "organisation": organisation,
            "due": getattr(command, "due_date", None), "expiry": getattr(command, "expiry_date", None),
            "amounts": {"Exclusive": "Amounts exclude tax", "Inclusive": "Amounts include tax",
                        "NoTax": "No tax"}[command.line_amount_types]}


async def _nothing() -> Source:
    return Source([])


def _names(source: Source, pair: Any) -> dict[str, str]:
    return dict(pair(value) for value in source.values or [])


def _line(line: LineItem, accounts: dict[str, str], taxes: dict[str, str]) -> dict[str, Any]:
    if line.tax_type:
        tax = taxes.get(line.tax_type, line.tax_type)
    elif line.tax_rate is not None:
        tax = f"{line.tax_rate.normalize():f}% (Xero's rate with that percentage)"
    else:
        tax = "Xero's default for the account"
    discount = (f"{line.discount_rate.normalize():f}%" if line.discount_rate is not None
                else f"{line.discount_amount}" if line.discount_amount else "")
    return {"description": line.description, "quantity": f"{line.quantity.normalize():f}", "unit": line.unit_amount,
            "item": line.item_code or "", "account": accounts.get(line.account_code or "", line.account_code or ""),
            "tax": tax, "discount": discount, "amount": _money(_net(line)),
            "tracking": ", ".join(f"{name}: {option}" for name, option in line.tracking)}


def _net(line: LineItem) -> Decimal:
    gross = line.quantity * line.unit_amount
    if line.discount_rate is not None:
        return gross * (100 - line.discount_rate) / 100
    return gross - (line.discount_amount or 0)


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):,}"
