"""Field mappings: the reference, the document date, due days, the quote's texts, tracking categories and the
branding theme, with Pipedrive's deal fields (custom ones by name) and Xero's tracking categories and branding themes
to pick from, and the template placeholders the company can use.

Form (``POST /app/mappings``, the whole section): ``fields.reference``, ``fields.date_field``, ``fields.due_days``,
``fields.due_days_field``, ``fields.quote_title``, ``fields.quote_summary``, ``fields.quote_terms``,
``fields.quote_expiry_days``, ``fields.tracking.<0|1>.name``, ``fields.tracking.<0|1>.option``,
``fields.branding_theme_id``, ``version``.
"""

import asyncio
from typing import Any

from aiohttp import web

from pdx_gateway.app_ui.catalog import CONFLICT, Source, blank_to_none, choices, picker, save_section
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.keys import SETTINGS_STORE

routes = web.RouteTableDef()
PATH = "/app/mappings"
TRACKING_ROWS = 2  # Xero allows two tracking categories
# Deal date fields every Pipedrive company has (their API names); custom date fields come from Pipedrive.
STANDARD_DATES = (("won_time", "Won time"), ("expected_close_date", "Expected close date"),
                  ("close_time", "Close time"), ("stage_change_time", "Stage change time"),
                  ("add_time", "Deal created"), ("update_time", "Last updated"), ("lost_time", "Lost time"))
NUMERIC = frozenset({"int", "double"})
KINDS = {"varchar": "text", "varchar_auto": "text", "text": "long text", "double": "number", "int": "number",
         "enum": "single option", "set": "multiple options", "date": "date", "monetary": "money", "phone": "phone",
         "address": "address", "time": "time", "user": "user", "org": "organisation", "people": "person"}
# Fields a template cannot show as text, or that only repeat an id.
NOT_TEXT = frozenset({"picture", "visible_to", "json", "activity", "deal", "deals", "lead", "project",
                      "projects_board", "projects_phase", "price_list", "billing_frequency"})
PLACEHOLDERS = (("{deal.title}", "the deal's title"), ("{deal.id}", "the deal's number"),
                ("{deal.value}", "the deal's value"), ("{deal.currency}", "the deal's currency code"),
                ("{org.name}", "the organisation's name"), ("{person.name}", "the contact person's name"),
                ("{person.email}", "the contact person's email"), ("{person.phone}", "the contact person's phone"))


@routes.get("/mappings")
async def show(request: web.Request) -> web.StreamResponse:
    settings = await request.config_dict[SETTINGS_STORE].get(app_session(request).company_id)
    return await _page(request, settings.model_dump(mode="json"), settings.version)


@routes.post("/mappings")
async def save(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    fields: dict[str, Any] = {name: form.get(f"fields.{name}", "") for name in
                              ("reference", "due_days", "quote_title", "quote_expiry_days")}
    for name in ("date_field", "due_days_field", "quote_summary", "quote_terms", "branding_theme_id"):
        fields[name] = blank_to_none(form.get(f"fields.{name}"))
    fields["tracking"] = _tracking(form)

    async def page(document: dict[str, Any], version: int, **kwargs: Any) -> web.StreamResponse:
        return await _page(request, document, version, **kwargs)

    return await save_section(request, form, {"fields": fields}, page, PATH)


def _tracking(form: Any) -> list[dict[str, str]]:
    rows = []
    for index in range(TRACKING_ROWS):
        name = form.get(f"fields.tracking.{index}.name", "").strip()
        option = form.get(f"fields.tracking.{index}.option", "").strip()
        if name or option:
            rows.append({"name": name, "option": option})
    return rows


async def _page(request: web.Request, document: dict[str, Any], version: int, *,
                errors: dict[str, str] | None = None, conflict: bool = False, status: int = 200) -> web.Response:
    source = choices(request, app_session(request).company_id)
    deal_fields, person_fields, org_fields, categories, themes = await asyncio.gather(
        source.pipedrive("deal fields", lambda c: c.fields("deal"), "type the field's name"),
        source.pipedrive("person fields", lambda c: c.fields("person"), "type the field's name"),
        source.pipedrive("organisation fields", lambda c: c.fields("organization"), "type the field's name"),
        source.xero("tracking categories", lambda x: x.tracking_categories()),
        source.xero("branding themes", lambda x: x.branding_themes()))
    fields = document.get("fields") or {}
    tracking = list(fields.get("tracking") or [])
    tracking += [{"name": "", "option": ""}] * (TRACKING_ROWS - len(tracking))
    custom = [f for f in deal_fields.values or [] if f.custom]
    context = {
        "document": document, "fields": fields, "version": version, "errors": errors or {},
        "conflict": CONFLICT if conflict else None, "tracking": tracking[:TRACKING_ROWS],
        "date_fields": _date_fields(deal_fields, fields.get("date_field")),
        "number_fields": picker(_custom_of(deal_fields, NUMERIC), lambda f: (f.key, f.name),
                                fields.get("due_days_field"), unknown="not found in Pipedrive"),
        "categories": picker(categories, lambda c: (c.name, c.name), *(t.get("name") for t in tracking)),
        "category_options": [(c.name, ", ".join(c.options)) for c in categories.values or []],
        "themes": picker(themes, lambda t: (t.id, t.name), fields.get("branding_theme_id")),
        "placeholders": PLACEHOLDERS,
        "custom_placeholders": [("{deal.custom." + f.name + "}", KINDS.get(f.type, "")) for f in custom],
        "record_placeholders": _record_placeholders(person_fields, "person", "contact person")
        + _record_placeholders(org_fields, "org", "organisation"),
        "deal_fields": deal_fields,
    }
    return render(request, "mappings.html", context, status=status)


def _custom_of(fields: Source, types: frozenset[str]) -> Source:
    if not fields.ok:
        return fields
    return Source([f for f in fields.values or [] if f.custom and f.type in types])


def _date_fields(fields: Source, current: Any) -> dict[str, Any]:
    """Pipedrive's date fields, standard and custom; without Pipedrive, the standard ones every company has. A stored
    choice that is neither stays choosable."""
    dates = [f for f in fields.values or [] if f.type == "date"]
    options = [(f.key, f.name) for f in dates if not f.custom] or list(STANDARD_DATES)
    options += [(f.key, f"{f.name} (custom field)") for f in dates if f.custom]
    if current and current not in {value for value, _ in options}:
        named = next((f for f in fields.values or [] if f.name.strip().lower() == str(current).strip().lower()), None)
        options.append((current, f"{named.name} (custom field)" if named else f"{current} (as typed)"))
    return {"ok": True, "options": options, "why_not": None if fields.ok else fields.why_not}


def _record_placeholders(fields: Source, record: str, whose: str) -> list[tuple[str, str]]:
    """A person's or organisation's own fields by API name (templates read their top-level fields, not custom
    ones), beyond the ones listed already."""
    listed = {placeholder for placeholder, _ in PLACEHOLDERS}
    return [("{" + f"{record}.{f.key}" + "}", f"the {whose}'s {f.name}") for f in fields.values or []
            if not f.custom and f.type not in NOT_TEXT and "{" + f"{record}.{f.key}" + "}" not in listed]
