"""History: who changed the company's settings, what, and when, newest first (``GET /app/history``).

Each change reads as the sections show it: the section and the field's label, names instead of ids (pipelines, stages,
accounts, tax rates, branding themes from the same catalog the pages use), a trigger as its sentence ("Added: Deals
entering Proposal Made in Sales become a DRAFT quote"), long values cut short, times in the company's time zone.
"""

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from pdx_gateway.app_ui import rules, triggers
from pdx_gateway.app_ui.catalog import Source, choices
from pdx_gateway.app_ui.mappings import STANDARD_DATES
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session
from pdx_gateway.keys import SETTINGS_STORE

routes = web.RouteTableDef()
SHOWN = 100
LONGEST = 120  # characters of a value shown; the rest is cut with "…"

TRIGGERS, RULES, MAPPINGS = "Triggers", "Customers, products & money", "Field mappings"
CUSTOMERS, DEAL_FIELDS = "Customers & products", "Numbers on the deal"
# deal_fields.<setting> -> its label under Numbers on the deal
DEAL_FIELD_LABELS = {"status": "Status", "amount_due": "Amount due", "number": "Invoice number", "link": "Link"}
PAID_LABEL = "When the invoice is paid, move the deal to"
FIELD_KINDS = {"varchar": "Text", "varchar_auto": "Text", "text": "Long text", "double": "Number",
               "monetary": "Monetary"}
# dotted path -> (section, label), as the sections label their inputs
LABELS: dict[str, tuple[str, str]] = {
    "timezone": (TRIGGERS, "Time zone"),
    "on_reentry": (TRIGGERS, "When a deal enters the stage again"),
    "on_demand.invoice": (TRIGGERS, "Salespeople may create a draft invoice from a deal"),
    "on_demand.quote": (TRIGGERS, "Salespeople may create a draft quote from a deal"),
    "on_demand.more_than_once": (TRIGGERS, "Allow more than one per deal"),
    "customer.contact_from": (RULES, "Xero contact"),
    "customer.create_missing": (RULES, "Create the contact in Xero when it is missing"),
    "customer.tax_number_field": (CUSTOMERS, "Tax number"),
    "sync.update_xero": (CUSTOMERS, "Update Xero when a customer or product changes in Pipedrive"),
    "sync.create_on_add": (CUSTOMERS, "Create customers and products in Xero as soon as they are added"),
    "products.description_from": (RULES, "Line description"),
    "products.unmatched": (RULES, "Products Xero doesn't know"),
    "products.default_item_code": (RULES, "Default item"),
    "products.no_products": (RULES, "Deals without products"),
    "money.sales_account_code": (RULES, "Sales account"),
    "money.default_tax_type": (RULES, "Default tax rate"),
    "fields.reference": (MAPPINGS, "Invoice reference"),
    "fields.date_field": (MAPPINGS, "Document date"),
    "fields.due_days": (MAPPINGS, "Due after (days)"),
    "fields.due_days_field": (MAPPINGS, "Due days from a deal field"),
    "fields.quote_title": (MAPPINGS, "Quote title"),
    "fields.quote_summary": (MAPPINGS, "Quote summary"),
    "fields.quote_terms": (MAPPINGS, "Quote terms"),
    "fields.quote_expiry_days": (MAPPINGS, "Quote valid for (days)"),
    "fields.branding_theme_id": (MAPPINGS, "Branding theme"),
}
CHOICES: dict[str, dict[str, str]] = {
    "on_reentry": dict(triggers.ON_REENTRY), "customer.contact_from": dict(rules.CONTACT_FROM),
    "products.unmatched": dict(rules.UNMATCHED), "products.no_products": dict(rules.NO_PRODUCTS),
    "products.description_from": dict(rules.DESCRIPTION_FROM),
}
_PATH = re.compile(r"(?P<head>[a-z_.]+?)(?:\.(?P<key>[^.\[\]]+)|\[(?P<bracket>[^\]]+)\])?(?:\.(?P<leaf>[a-z_]+))?")


@routes.get("/history")
async def show(request: web.Request) -> web.Response:
    company_id = app_session(request).company_id
    store = request.config_dict[SETTINGS_STORE]
    settings = await store.get(company_id)
    entries = await store.history(company_id, SHOWN + 1, documents=True)
    names = await Names.load(request, company_id, entries)
    zone = zone_of(settings.timezone)
    shown = [_entry(entry, entries[i + 1] if i + 1 < len(entries) else None, names, zone)
             for i, entry in enumerate(entries[:SHOWN])]
    return render(request, "history.html", {"entries": shown})


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def when(at: Any, zone: ZoneInfo) -> str:
    """``30 Nov 2026, 13:20 NZDT``: a stored UTC time in the company's time zone."""
    if not isinstance(at, datetime):
        return ""
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


class Names:
    """Names for the ids a change holds, from the company's Pipedrive and Xero; the id itself where they cannot say."""

    def __init__(self, sources: dict[str, Source]) -> None:
        def table(what: str, pair: Callable[[Any], tuple[str, str]]) -> dict[str, str]:
            source = sources.get(what)
            return dict(pair(v) for v in (source.values if source and source.values else []))

        self.pipelines = table("pipelines", lambda p: (str(p.id), p.name))
        self.stages = table("stages", lambda s: (str(s.id), s.name))
        self.accounts = table("accounts", lambda a: (a.code, f"{a.code} · {a.name}"))
        self.tax_rates = table("tax_rates", lambda r: (r.tax_type, r.name))
        self.themes = table("themes", lambda t: (t.id, t.name))
        self.products = table("products", lambda p: (str(p.id), p.name))
        self.deal_fields = table("deal_fields", lambda f: (f.key, f.name))
        self.customer_fields = table("customer_fields", lambda f: (f.key, f.name))

    @classmethod
    async def load(cls, request: web.Request, company_id: str, entries: list[dict[str, Any]]) -> "Names":
        """Only what the shown changes need: no change of accounts, no call for accounts."""
        paths = " ".join(str(c.get("path") or "") for e in entries for c in e.get("changes") or [])
        source = choices(request, company_id)
        wanted: dict[str, Any] = {}
        if "triggers" in paths or "account_by_pipeline" in paths:
            wanted["pipelines"] = source.pipedrive("pipelines", lambda c: c.pipelines())
        if "triggers" in paths:
            wanted["stages"] = source.pipedrive("stages", lambda c: c.stages())
        if "account" in paths:
            wanted["accounts"] = source.xero("revenue accounts", lambda x: x.revenue_accounts())
        if "tax" in paths:
            wanted["tax_rates"] = source.xero("tax rates", lambda x: x.tax_rates())
        if "branding_theme_id" in paths:
            wanted["themes"] = source.xero("branding themes", lambda x: x.branding_themes())
        if "account_by_product" in paths:
            wanted["products"] = source.pipedrive("products", lambda c: c.products())
        if "date_field" in paths or "due_days_field" in paths or "deal_fields." in paths:
            wanted["deal_fields"] = source.pipedrive("deal fields", lambda c: c.fields("deal"))
        if "paid_stages" in paths and "pipelines" not in wanted:
            wanted["pipelines"] = source.pipedrive("pipelines", lambda c: c.pipelines())
        if "paid_stages" in paths and "stages" not in wanted:
            wanted["stages"] = source.pipedrive("stages", lambda c: c.stages())
        if "tax_number_field" in paths:
            wanted["customer_fields"] = source.pipedrive("fields", _customer_fields)
        loaded = await asyncio.gather(*wanted.values())
        return cls(dict(zip(wanted, loaded, strict=True)))

    def paid(self, row: dict[str, Any]) -> str:
        """``Sales: Won`` (a pipeline's paid deals move to that stage)."""
        pipeline = self.pipelines.get(str(row.get("pipeline_id")), f"pipeline {row.get('pipeline_id')}")
        stage = self.stages.get(str(row.get("stage_id")), f"stage {row.get('stage_id')}")
        return f"{pipeline}: {stage}"

    def won(self, row: dict[str, Any]) -> str:
        """``Deals marked won in Sales become a DRAFT invoice``."""
        pipeline = self.pipelines.get(str(row.get("pipeline_id")), f"pipeline {row.get('pipeline_id')}")
        if not row.get("enabled", True) or row.get("action") == "none":
            return f"Switched off: deals marked won in {pipeline} make nothing"
        return f"Deals marked won in {pipeline} become a DRAFT {row.get('action')}"

    def trigger(self, row: dict[str, Any]) -> str:
        """``Deals entering Won in Sales become a DRAFT invoice``."""
        stage = self.stages.get(str(row.get("stage_id")), f"stage {row.get('stage_id')}")
        pipeline = self.pipelines.get(str(row.get("pipeline_id")), f"pipeline {row.get('pipeline_id')}")
        if not row.get("enabled", True) or row.get("action") == "none":
            return f"Switched off: deals entering {stage} in {pipeline} make nothing"
        return f"Deals entering {stage} in {pipeline} become a DRAFT {row.get('action')}"


def _entry(entry: dict[str, Any], previous: dict[str, Any] | None, names: Names, zone: ZoneInfo) -> dict[str, Any]:
    by = entry.get("changed_by")
    stored = entry.get("changes") or []
    changes = [c for c in stored if not str(c.get("path") or "").startswith(("triggers", "won_triggers"))]
    rows: list[dict[str, Any]] = []
    for key in ("triggers", "won_triggers"):
        trigger_changes = [c for c in stored if re.match(rf"{key}(?:$|\.)", str(c.get("path") or ""))]
        if trigger_changes:
            rows += _trigger_rows(entry, previous, trigger_changes, names, key)
    rows += [_row(c, names) for c in changes]
    return {"when": when(entry.get("updated_at"), zone),
            "at": entry.get("updated_at"),
            "who": by.get("name") if isinstance(by, dict) else None,
            "operator": isinstance(by, dict) and by.get("user_id") is None,
            "changes": rows}


def _trigger_rows(entry: dict[str, Any], previous: dict[str, Any] | None, stored: list[dict[str, Any]],
                  names: Names, key: str = "triggers") -> list[dict[str, Any]]:
    """Triggers compared by their stage, won triggers by their pipeline (removing trigger 1 renumbers the rest, which
    is no change to them)."""
    by = "stage_id" if key == "triggers" else "pipeline_id"
    say = names.trigger if key == "triggers" else names.won
    if previous is not None and isinstance(entry.get(key), list) and isinstance(previous.get(key), list):
        old = {str(t.get(by)): t for t in previous[key] if isinstance(t, dict)}
        new = {str(t.get(by)): t for t in entry[key] if isinstance(t, dict)}
    else:  # no document to compare with: the stored changes, trigger by trigger
        old, new = {}, {}
        for change in stored:
            match = re.fullmatch(rf"{key}\.(\d+)", str(change.get("path")))
            if match and isinstance(change.get("old"), dict):
                old[f"old{match[1]}"] = change["old"]
            if match and isinstance(change.get("new"), dict):
                new[f"new{match[1]}"] = change["new"]
    if not old and not new:  # the whole list, added or emptied: its items
        for change in stored:
            if change.get("path") == key:
                old = {str(t.get(by)): t for t in change.get("old") or [] if isinstance(t, dict)}
                new = {str(t.get(by)): t for t in change.get("new") or [] if isinstance(t, dict)}
    rows = []
    for ident, row in new.items():
        if ident not in old:
            rows.append(_sentence(f"Added: {say(row)}."))
        elif _trigger_differs(old[ident], row):
            rows.append(_sentence(_changed(old[ident], row, say)))
    rows += [_sentence(f"Removed: {say(row)}.") for ident, row in old.items() if ident not in new]
    if not rows and not old and not new:  # a field of a trigger, without the documents: the path in words
        rows = [_row(change, names) for change in stored]
    return rows


def _on(row: dict[str, Any]) -> bool:
    return bool(row.get("enabled", True)) and row.get("action") != "none"


def _changed(old: dict[str, Any], new: dict[str, Any], say: Callable[[dict[str, Any]], str]) -> str:
    """``Changed: Deals entering Won in Sales now become a DRAFT quote (was: invoice).``"""
    if _on(old) and not _on(new):
        return f"{say(new)}."  # "Switched off: deals entering ... make nothing."
    if _on(new) and not _on(old):
        return f"Switched on: {say(new)}."
    if old.get("action") != new.get("action") and str(old.get("stage_id")) == str(new.get("stage_id")) and \
            str(old.get("pipeline_id")) == str(new.get("pipeline_id")):
        return f"Changed: {say(new).replace(' become ', ' now become ', 1)} (was: {old.get('action')})."
    return f"Changed: {say(new)} (was: {say(old)[:1].lower()}{say(old)[1:]})."


def _trigger_differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    fields = ("pipeline_id", "stage_id", "action", "enabled")
    return any(str(old.get(f, True if f == "enabled" else None)) != str(new.get(f, True if f == "enabled" else None))
               for f in fields)


def _sentence(text: str) -> dict[str, Any]:
    return {"section": TRIGGERS, "sentence": cut(text), "label": "", "old": "", "new": ""}


def _row(change: dict[str, Any], names: Names) -> dict[str, Any]:
    path = str(change.get("path") or "")
    section, label, kind = describe(path, names)
    return {"section": section, "label": label, "sentence": None,
            "old": cut(value(kind, change.get("old"), names)), "new": cut(value(kind, change.get("new"), names))}


async def _customer_fields(catalog: Any) -> list[Any]:
    orgs, people = await asyncio.gather(catalog.fields("organization"), catalog.fields("person"))
    return [*orgs, *people]


def _deal_fields_path(path: str) -> tuple[str, str, str] | None:
    """``deal_fields.status.key`` -> ``("Numbers on the deal", "Status", "deal_field")``; paid stages as a whole
    (``deal_fields.paid_stages``, ``.0``) or one part of one (``.0.stage_id``)."""
    parts = path.split(".")
    if parts[:1] != ["deal_fields"] or len(parts) < 2:
        return None
    if parts[1] in DEAL_FIELD_LABELS:
        label = DEAL_FIELD_LABELS[parts[1]]
        if parts[2:] == ["field_type"]:
            return DEAL_FIELDS, f"{label} · field type", "field_type"
        return DEAL_FIELDS, label, "deal_field"
    if parts[1] == "paid_stages":
        leaf = parts[3] if len(parts) > 3 else ""
        return DEAL_FIELDS, PAID_LABEL, {"stage_id": "stage", "pipeline_id": "pipeline"}.get(leaf, "paid")
    return None


def describe(path: str, names: Names) -> tuple[str, str, str]:
    """``money.account_by_pipeline.2`` -> ``("Customers, products & money", "Account for Renewals", "account")``:
    the section, the field's label, and what kind of value it holds."""
    if path in LABELS:
        section, label = LABELS[path]
        kind = {"money.sales_account_code": "account", "money.default_tax_type": "tax",
                "fields.branding_theme_id": "theme", "fields.date_field": "date_field",
                "fields.due_days_field": "deal_field", "customer.tax_number_field": "customer_field"}.get(path, path)
        return section, label, kind
    deal_fields = _deal_fields_path(path)
    if deal_fields is not None:
        return deal_fields
    match = _PATH.fullmatch(path)
    head, key, leaf = (match["head"], match["key"] or match["bracket"], match["leaf"]) if match else (path, None, None)
    if head == "money.tax_types" and key:
        return RULES, f"Tax rate for {key}%", "tax"
    if head == "money.tax_types":
        return RULES, "Tax rates", "tax"
    if head == "money.account_by_pipeline" and key:
        return RULES, f"Account for {names.pipelines.get(key, f'pipeline {key}')}", "account"
    if head == "money.account_by_product" and key:
        return RULES, f"Account for {names.products.get(key, f'product {key}')}", "account"
    if head == "fields.tracking" and key and key.isdigit():
        part = {"name": " · Category", "option": " · Option"}.get(leaf or "", "")
        return MAPPINGS, f"Tracking category {int(key) + 1}{part}", "tracking"
    if head.startswith("triggers"):
        return TRIGGERS, "Triggers", "text"
    if head == "won_triggers":
        part = {"pipeline_id": " · Pipeline", "action": " · Document", "enabled": " · Enabled"}.get(leaf or "", "")
        return TRIGGERS, f"When a deal is marked won{part}", "won_pipeline" if leaf == "pipeline_id" else "won"
    section = {"money": RULES, "customer": RULES, "products": RULES, "fields": MAPPINGS, "sync": CUSTOMERS,
               "deal_fields": DEAL_FIELDS}.get(path.split(".")[0], "Settings")
    return section, path.split(".")[-1].replace("_", " ").capitalize() or "All settings", "text"


def value(kind: str, raw: Any, names: Names) -> str:
    """A setting's value as a person reads it: a name for an id, words for a choice, "(none)" for nothing."""
    if raw is None or raw == "":
        return "(none)"
    if isinstance(raw, bool):
        return "On" if raw else "Off"
    if kind in CHOICES and isinstance(raw, str):
        return CHOICES[kind].get(raw, raw)
    lookup = {"account": names.accounts, "tax": names.tax_rates, "theme": names.themes,
              "deal_field": names.deal_fields, "date_field": {**dict(STANDARD_DATES), **names.deal_fields}}.get(kind)
    if kind == "deal_field" and isinstance(raw, dict):
        raw = raw.get("key")
    if lookup is not None and isinstance(raw, str):
        return lookup.get(raw, raw)
    if kind == "field_type" and isinstance(raw, str):
        return FIELD_KINDS.get(raw, raw)
    if kind == "customer_field" and isinstance(raw, str):
        return names.customer_fields.get(raw, raw)
    if kind == "paid" and isinstance(raw, dict | list):
        return "; ".join(names.paid(row) for row in (raw if isinstance(raw, list) else [raw])
                         if isinstance(row, dict)) or "(none)"
    if kind == "stage" and isinstance(raw, int | str):
        return names.stages.get(str(raw), f"stage {raw}")
    if kind == "pipeline" and isinstance(raw, int | str):
        return names.pipelines.get(str(raw), f"pipeline {raw}")
    if kind == "won" and isinstance(raw, dict | list):
        return "; ".join(names.won(row) for row in (raw if isinstance(raw, list) else [raw])
                         if isinstance(row, dict)) or "(none)"
    if kind == "won_pipeline" and isinstance(raw, int | str):
        return names.pipelines.get(str(raw), f"pipeline {raw}")
    if kind == "tracking" and isinstance(raw, dict):
        return f"{raw.get('name') or '(no category)'}: {raw.get('option') or '(no option)'}"
    if kind == "tax" and isinstance(raw, dict):
        return ", ".join(f"{rate}% → {names.tax_rates.get(str(t), t)}" for rate, t in raw.items()) or "(none)"
    if kind == "account" and isinstance(raw, dict):
        return ", ".join(names.accounts.get(str(code), str(code)) for code in raw.values()) or "(none)"
    return shown(raw)


def cut(text: str, longest: int = LONGEST) -> str:
    return text if len(text) <= longest else text[: longest - 1].rstrip() + "…"


def shown(value: Any) -> str:
    """Any other value: text as is, nothing as "(none)", anything else as compact JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value if value else "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
