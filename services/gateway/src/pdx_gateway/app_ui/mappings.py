"""Field mappings: the reference, the document date, due days, the quote's texts, tracking categories and the
branding theme, with Pipedrive's deal fields (custom ones by name) and Xero's tracking categories and branding themes
to pick from, and the template placeholders the company can use.

Form (``POST /app/mappings``, the whole section): ``fields.reference``, ``fields.date_field``, ``fields.due_days``,
``fields.due_days_field``, ``fields.quote_title``, ``fields.quote_summary``, ``fields.quote_terms``,
``fields.quote_expiry_days``, ``fields.tracking.<0|1>.name``, ``fields.tracking.<0|1>.option``,
``fields.branding_theme_id``, ``version``.
"""

import asyncio
import re
from typing import Any

from aiohttp import web

from pdx_gateway.app_ui.catalog import CONFLICT, Source, blank_to_none, choices, picker, save_section, saved_notice
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.keys import SETTINGS_STORE
from pdx_mapper.domain import templates

routes = web.RouteTableDef()
PATH = "/app/mappings"
TRACKING_ROWS = 2  # Xero allows two tracking categories
# Deal date fields every Pipedrive company has (their API names); custom date fields come from Pipedrive.
STANDARD_DATES = (("won_time", "Won time"), ("expected_close_date", "Expected close date"),
                  ("close_time", "Close time"), ("stage_change_time", "Stage change time"),
                  ("add_time", "Deal created"), ("update_time", "Last updated"), ("lost_time", "Lost time"))
NUMERIC = frozenset({"int", "double"})
# Fields a template cannot show as text, or that only repeat an id.
NOT_TEXT = frozenset({"picture", "visible_to", "json", "activity", "deal", "deals", "lead", "project",
                      "projects_board", "projects_phase", "price_list", "billing_frequency"})
PLACEHOLDERS = (("{deal.title}", "the deal's title"), ("{deal.id}", "the deal's number"),
                ("{deal.value}", "the deal's value"), ("{deal.currency}", "the deal's currency code"),
                ("{org.name}", "the organisation's name"), ("{person.name}", "the contact person's name"),
                ("{person.email}", "the contact person's email"), ("{person.phone}", "the contact person's phone"))
SHORT = {"{deal.id}": "Deal number", "{deal.currency}": "Currency code"}
# Standard fields that read well as text; ids (owner, organisation, stage ...) and timestamps are left out.
TEXT_TYPES = frozenset({"varchar", "varchar_auto", "varchar_options", "text", "double", "int", "monetary", "phone",
                        "address"})
# Custom fields whose value is an id of another record (a user, organisation or person): not offered.
CUSTOM_NOT_TEXT = NOT_TEXT | {"user", "org", "people"}
RECORDS = (("deal", "deal", "Deal"), ("person", "person", "Contact person"), ("org", "organization", "Organisation"))
# Without Pipedrive's field lists: the standard text fields every company's deals, persons and organisations have.
STANDARD = {"deal": ("title", "id", "value", "currency", "probability", "lost_reason"),
            "person": ("name", "first_name", "last_name", "email", "phone", "job_title", "postal_address", "notes"),
            "org": ("name", "address", "website")}
TEMPLATES = ("reference", "quote_title", "quote_summary", "quote_terms")
TOKEN = re.compile(r"\{[^{}]*\}")
LABELS = {"fields.reference": "Invoice reference", "fields.date_field": "Document date",
          "fields.due_days": "Due after (days)", "fields.due_days_field": "Due days from a deal field",
          "fields.quote_title": "Quote title", "fields.quote_summary": "Quote summary",
          "fields.quote_terms": "Quote terms", "fields.quote_expiry_days": "Quote valid for (days)",
          "fields.branding_theme_id": "Branding theme", "fields.tracking": "Tracking",
          **{f"fields.tracking.{i}.{part}": f"Tracking category {i + 1} · {label}" for i in range(TRACKING_ROWS)
             for part, label in (("name", "Category"), ("option", "Option"))}}


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
    sources = await _sources(request)
    errors = _tracking_errors(fields["tracking"], sources[3]) | _placeholder_errors(fields, *sources[:3])

    async def page(document: dict[str, Any], version: int, **kwargs: Any) -> web.StreamResponse:
        return await _page(request, document, version, sources=sources, **kwargs)

    return await save_section(request, form, {"fields": fields}, page, PATH, errors)


def _tracking(form: Any) -> list[dict[str, str]]:
    rows = []
    for index in range(TRACKING_ROWS):
        name = form.get(f"fields.tracking.{index}.name", "").strip()
        option = form.get(f"fields.tracking.{index}.option", "").strip()
        if name or option:
            rows.append({"name": name, "option": option})
    return rows


async def _sources(request: web.Request) -> tuple[Source, Source, Source, Source, Source]:
    """Deal, person and organisation fields from Pipedrive; tracking categories and branding themes from Xero."""
    source = choices(request, app_session(request).company_id)
    deal_fields, person_fields, org_fields, categories, themes = await asyncio.gather(
        source.pipedrive("deal fields", lambda c: c.fields("deal"), "type the field's name"),
        source.pipedrive("person fields", lambda c: c.fields("person"), "type the field's name"),
        source.pipedrive("organisation fields", lambda c: c.fields("organization"), "type the field's name"),
        source.xero("tracking categories", lambda x: x.tracking_categories()),
        source.xero("branding themes", lambda x: x.branding_themes()))
    return deal_fields, person_fields, org_fields, categories, themes


Group = tuple[str, list[tuple[str, str]]]


def insertable(deal_fields: Source, person_fields: Source, org_fields: Source) -> list[Group]:
    """The fields a template can show, by name, grouped by record: ``[("Deal", [("{deal.title}", "Title"), ...])]``.
    Without Pipedrive, the standard placeholders every company has."""
    groups = []
    for (record, _entity, heading), source in zip(RECORDS, (deal_fields, person_fields, org_fields), strict=True):
        options = [(p, SHORT.get(p) or meaning.split("'s ", 1)[-1].capitalize()) for p, meaning in PLACEHOLDERS
                   if p.startswith("{" + record + ".")]
        seen = {p for p, _ in options}
        for f in source.values or []:
            if f.custom:
                if f.type in CUSTOM_NOT_TEXT:
                    continue
                placeholder = "{" + f"{record}.custom.{f.name}" + "}"
                label = f"{f.name} (custom field)"
            else:
                if f.type not in TEXT_TYPES or f.key == "id" or f.key.endswith(("_id", "_time", "_ids")):
                    continue
                placeholder, label = "{" + f"{record}.{f.key}" + "}", f.name
            if placeholder not in seen:
                options.append((placeholder, label))
                seen.add(placeholder)
        groups.append((heading, options))
    return groups


def _placeholder_errors(fields: dict[str, Any], deal_fields: Source, person_fields: Source,
                        org_fields: Source) -> dict[str, str]:
    """``{deal.foo}`` in a template is refused beside its input (it would come out empty); so is a custom field
    that Pipedrive does not have. A record whose fields Pipedrive could not list accepts its placeholders unchecked."""
    known = {p.lower() for _, group in insertable(deal_fields, person_fields, org_fields) for p, _ in group}
    for (record, _entity, _heading), source in zip(RECORDS, (deal_fields, person_fields, org_fields), strict=True):
        known |= {"{" + f"{record}.custom.{f.key}".lower() + "}" for f in source.values or [] if f.custom}
    for (record, _entity, _heading), source in zip(RECORDS, (deal_fields, person_fields, org_fields), strict=True):
        if not source.ok:
            known |= {"{" + f"{record}.{key}" + "}" for key in STANDARD[record]}
    unchecked = {record for (record, _e, _h), source in zip(RECORDS, (deal_fields, person_fields, org_fields),
                                                          strict=True) if not source.ok}
    errors = {}
    texts = [(f"fields.{name}", fields.get(name)) for name in TEMPLATES]
    texts += [(f"fields.tracking.{i}.option", row.get("option")) for i, row in enumerate(fields.get("tracking") or [])]
    for name, text in texts:
        for token in TOKEN.findall(text or ""):
            match = templates.PLACEHOLDER.fullmatch(token)
            if token.lower() in known:
                continue
            if match and match[2] == "custom" and match[3] and match[1] in unchecked:
                continue  # a custom field Pipedrive could not list just now
            errors[name] = f"{token} is not a field; pick one from Insert a field."
            break
    return errors


def _tracking_errors(rows: list[dict[str, str]], categories: Source) -> dict[str, str]:
    errors = {}
    known = {c.name: c.options for c in categories.values or []}
    for index, row in enumerate(rows):
        if row["option"] and not row["name"]:
            errors[f"fields.tracking.{index}.name"] = ("Choose the tracking category for this option, or clear the "
                                                      "option.")
        elif row["option"] and "{" not in row["option"] and row["name"] in known:
            options = known[row["name"]]
            if row["option"] not in options:  # as Xero spells it: the writer sends it as typed
                listed = ", ".join(options) if options else "none"
                errors[f"fields.tracking.{index}.option"] = (f"{row['option']} is not an option of {row['name']} in "
                                                            f"Xero (its options: {listed}); type one of them, or "
                                                            "add it in Xero first.")
    return errors


async def _page(request: web.Request, document: dict[str, Any], version: int, *,
                errors: dict[str, str] | None = None, conflict: bool = False, status: int = 200,
                notice: str | None = None, sources: tuple[Source, ...] | None = None) -> web.Response:
    deal_fields, person_fields, org_fields, categories, themes = sources or await _sources(request)
    fields = document.get("fields") or {}
    tracking = list(fields.get("tracking") or [])
    tracking += [{"name": "", "option": ""}] * (TRACKING_ROWS - len(tracking))
    context = {
        "document": document, "fields": fields, "version": version, "errors": errors or {},
        "error_labels": LABELS, **saved_notice(request, notice),
        "conflict": CONFLICT if conflict else None, "tracking": tracking[:TRACKING_ROWS],
        "date_fields": _date_fields(deal_fields, fields.get("date_field")),
        "number_fields": picker(_custom_of(deal_fields, NUMERIC), lambda f: (f.key, f.name),
                                fields.get("due_days_field"), unknown="not found in Pipedrive"),
        "categories": picker(categories, lambda c: (c.name, c.name), *(t.get("name") for t in tracking)),
        "category_options": [(c.name, ", ".join(c.options)) for c in categories.values or []],
        "themes": picker(themes, lambda t: (t.id, t.name), fields.get("branding_theme_id")),
        "insertable": insertable(deal_fields, person_fields, org_fields),
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
