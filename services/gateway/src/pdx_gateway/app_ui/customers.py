"""Customers & products: keeping Xero's contacts and items up to date with Pipedrive (one way), the field that holds a
customer's tax number, and the company's linked customers in its Xero organisation, problems first, each of which an
admin can link to another Xero contact.

``GET  /app/customers[?link=pd-org-12[&q=Kiwi]]``  the section; ``link`` opens that customer's "Link a different Xero
                                                 contact" (admins), ``q`` searches Xero's contacts for it
``POST /app/customers``                          the section's settings: ``sync.update_xero``, ``sync.create_on_add``,
                                                 ``customer.tax_number_field`` (blank: none), ``version``
``POST /app/customers/link``                     ``key`` (``pd-org-12``), ``q`` (the search it came from),
                                                 ``xero_contact_id`` (one of that search's contacts): the manual link;
                                                 a contact that already stands for another Pipedrive record (see
                                                 ``pdx_gateway.contact_owners``) is refused beside the list. Once
                                                 linked, the customer's details are queued for Xero at once
``POST /app/customers/webhooks``                 admins: register (or check) the company's Pipedrive webhooks again,
                                                 as ``POST /api/companies/{id}/webhooks`` does; shown when Pipedrive
                                                 is not sending changes of people, organisations and products

The company is always the session's, the organisation the company's current Xero organisation: a customer of another
company or organisation is not in the list, so it cannot be linked here.
"""

import asyncio
from typing import Any

from aiohttp import web

from pdx_common.http import ConnectionMissing
from pdx_gateway import record_webhooks
from pdx_gateway.adapters.mongo import MongoWebhookCredentials
from pdx_gateway.adapters.pipedrive_catalog import FieldInfo, PipedriveCatalog
from pdx_gateway.adapters.xero_catalog import Contact
from pdx_gateway.app_ui.catalog import (
    CONFLICT,
    UNREACHABLE,
    Source,
    blank_to_none,
    checked,
    choices,
    save_section,
    saved_notice,
)
from pdx_gateway.app_ui.customer_links import KEY, CustomerLinks, CustomerRow
from pdx_gateway.app_ui.history import when, zone_of
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form, require_admin
from pdx_gateway.contact_owners import owners
from pdx_gateway.errors import NotFound
from pdx_gateway.keys import CONNECTOR, DB, SETTINGS_STORE

routes = web.RouteTableDef()
PATH = "/app/customers"
TAX_FIELD_TYPES = ("varchar", "varchar_auto", "text", "double")
LONGEST_SEARCH = 100
LABELS = {"sync.update_xero": "Keep Xero up to date", "sync.create_on_add": "Create in Xero when added",
          "customer.tax_number_field": "Tax number", "q": "Search Xero contacts",
          "xero_contact_id": "Xero contacts found"}


@routes.get("/customers")
async def show(request: web.Request) -> web.StreamResponse:
    settings = await request.config_dict[SETTINGS_STORE].get(app_session(request).company_id)
    opened = request.query.get("link", "")
    term = request.query.get("q")
    return await _page(request, settings.model_dump(mode="json"), settings.version, opened=opened,
                       term=term.strip()[:LONGEST_SEARCH] if term is not None else None)


@routes.post("/customers")
async def save(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    fields = await _tax_fields(request)
    current = await request.config_dict[SETTINGS_STORE].get(app_session(request).company_id)
    tax_field = blank_to_none(form.get("customer.tax_number_field", ""))
    errors = {}
    if tax_field is not None and fields.ok and not _known_field(tax_field, fields, current.customer.tax_number_field):
        errors["customer.tax_number_field"] = "Choose a field from the list."
    part = {"sync": {"update_xero": checked(form, "sync.update_xero"),
                     "create_on_add": checked(form, "sync.create_on_add")},
            "customer": {"tax_number_field": tax_field}}

    async def page(document: dict[str, Any], version: int, **kwargs: Any) -> web.StreamResponse:
        return await _page(request, document, version, fields=fields, **kwargs)

    return await save_section(request, form, part, page, PATH, errors)


@routes.get("/customers/link")
async def link_reloaded(request: web.Request) -> web.StreamResponse:
    """A reloaded or bookmarked link address links nothing: back to the section."""
    raise web.HTTPSeeOther(PATH)


@routes.post("/customers/link")
async def link(request: web.Request) -> web.StreamResponse:
    """An admin links a customer to a Xero contact found by the search the form came from; a contact that search
    does not find is refused (an id typed or kept from another search is never linked)."""
    form = await posted_form(request)
    session = require_admin(request)
    key = str(form.get("key", "")).strip().lower()
    term = str(form.get("q", "")).strip()[:LONGEST_SEARCH]
    chosen = str(form.get("xero_contact_id", "")).strip()
    settings = await request.config_dict[SETTINGS_STORE].get(session.company_id)
    document, version = settings.model_dump(mode="json"), settings.version
    tenant_id, _ = await choices(request, session.company_id).xero_connection()
    if tenant_id is None:
        return await _page(request, document, version, status=409, problem=(
            "Xero is not connected, so no customer can be linked.", "Connect Xero under Connections, then try again."))
    customers = CustomerLinks(request.config_dict[DB])
    row = await customers.row(session.company_id, tenant_id, key) if KEY.fullmatch(key) else None
    if row is None:
        return await _page(request, document, version, status=404, problem=(
            "That customer is not in this list, so nothing was linked.",
            "Use Link a different Xero contact beside a customer below."))
    found, search_error = await _search(request, term)
    errors = {"q": search_error} if search_error else {}
    contact = next((c for c in found if c.id == chosen), None)
    if not errors and contact is None:
        errors["xero_contact_id"] = ("Choose one of the Xero contacts found." if chosen else
                                     f"Choose the Xero contact to link to {row.label}.")
    if not errors and contact is not None:
        taken = (await owners(request.config_dict[DB], session.company_id, tenant_id, key,
                              [(contact.id, contact.number)])).get(contact.id)
        if taken is not None:
            errors["xero_contact_id"] = " ".join(taken.refusal(contact.name, row.label))
    if errors:
        return await _page(request, document, version, status=400, opened=key, term=term, found=found,
                           errors=errors, chosen=chosen)
    await customers.links.put(session.company_id, tenant_id, "contact", key, contact.id, how="manual",
                              name=contact.name)
    await customers.queue_sync(session.company_id, key)
    raise web.HTTPSeeOther(f"{PATH}?linked={key}#c-{key}")


@routes.post("/customers/webhooks")
async def webhooks_again(request: web.Request) -> web.StreamResponse:
    """An admin's Try again: the company's Pipedrive webhooks registered anew unless all four are still there."""
    await posted_form(request)
    session = require_admin(request)
    settings = await request.config_dict[SETTINGS_STORE].get(session.company_id)
    document, version = settings.model_dump(mode="json"), settings.version
    connector = request.config_dict.get(CONNECTOR)
    if connector is None:
        return await _page(request, document, version, status=503, problem=(
            "The app cannot reach Pipedrive just now.", "Try again in a few minutes."))
    try:
        await record_webhooks.ensure_webhooks(connector, session.company_id, check_pipedrive=True)
    except record_webhooks.WebhooksBusy:
        return await _page(request, document, version, status=409, problem=(
            "Pipedrive's webhooks are being added for your company right now.", "Reload this page in a minute."))
    except NotFound:
        return await _page(request, document, version, status=409, problem=(
            "The app is not installed in your Pipedrive company.", "Install the app in Pipedrive again."))
    except record_webhooks.UNREACHABLE as exc:
        return await _page(request, document, version, status=502, problem=(
            f"Pipedrive still does not send changes of people, organisations and products: "
            f"{record_webhooks.reason_of(exc)}.",
            "Reconnect Pipedrive under Connections (the app asks Pipedrive again), or press Try again later."))
    raise web.HTTPSeeOther(f"{PATH}?webhooks=ok")


async def _webhooks_warning(request: web.Request, company_id: str, zone: Any) -> dict[str, Any] | None:
    """Why Pipedrive is not sending changes of people, organisations and products, when it is not: a webhook
    missing (a company installed before they were registered, or one deleted in Pipedrive since), or the last try
    failed."""
    credentials = MongoWebhookCredentials(request.config_dict[DB])
    state = await credentials.webhooks_state(company_id)
    if state is None:
        return None  # not installed: Connections says so
    missing = [e for e in record_webhooks.ENTITIES if e not in await credentials.webhook_ids(company_id)]
    if not missing and state.get("ok", True):
        return None
    reason = None if state.get("ok", True) else state.get("reason")
    return {"reason": reason, "when": when(state.get("at"), zone) if reason else None}


async def _search(request: web.Request, term: str) -> tuple[list[Contact], str | None]:
    """Xero's contacts for ``term``, or why there are none (shown beside the search input)."""
    if not term:
        return [], "Type part of the Xero contact's name, email or number."
    try:
        return await choices(request, app_session(request).company_id).xero_call(
            lambda x: x.search_contacts(term)), None
    except ConnectionMissing:
        return [], "Connect Xero under Connections to search its contacts."
    except UNREACHABLE:
        return [], "Xero did not answer just now; search again in a moment."


async def _tax_fields(request: web.Request) -> Source:
    async def both(catalog: PipedriveCatalog) -> list[tuple[str, FieldInfo]]:
        orgs, people = await asyncio.gather(catalog.fields("organization"), catalog.fields("person"))
        return [("organisation", f) for f in orgs if _fits(f)] + [("person", f) for f in people if _fits(f)]

    return await choices(request, app_session(request).company_id).pipedrive(
        "organisation and person fields", both, instead="type the field's name")


def _fits(field: FieldInfo) -> bool:
    return field.custom and field.type in TAX_FIELD_TYPES


def _known_field(value: str, fields: Source, stored: str | None) -> bool:
    return value == stored or any(value == f.key for _, f in fields.values or [])


def _tax_picker(fields: Source, current: str | None) -> dict[str, Any]:
    """Organisation and person custom fields by name; a stored field named by its name (the operators' API allows
    it) or no longer in Pipedrive stays choosable."""
    if not fields.ok:
        return {"ok": False, "options": [], "why_not": fields.why_not}
    options = [(f.key, f"{f.name} (on each {entity})") for entity, f in fields.values or []]
    if current and current not in {value for value, _ in options}:
        named = next((label for (_, f), (_, label) in zip(fields.values or [], options, strict=True)
                      if f.name.lower() == current.lower()), None)
        options.append((current, named or f"{current} (not found in Pipedrive)"))
    return {"ok": True, "options": options, "why_not": None}


async def _page(request: web.Request, document: dict[str, Any], version: int, *, fields: Source | None = None,
                errors: dict[str, str] | None = None, conflict: bool = False, status: int = 200,
                notice: str | None = None, opened: str = "", term: str | None = None,
                found: list[Contact] | None = None, problem: tuple[str, str] | None = None,
                chosen: str = "") -> web.Response:
    session = app_session(request)
    source = choices(request, session.company_id)
    fields = fields or await _tax_fields(request)
    tenant_id, organisation = await source.xero_connection()
    rows: list[CustomerRow] = []
    products: list[dict[str, Any]] = []
    if tenant_id is not None:
        customers = CustomerLinks(request.config_dict[DB])
        rows = await customers.rows(session.company_id, tenant_id)
        products = await customers.product_problems(session.company_id, tenant_id)
    errors = dict(errors or {})
    link_errors = {k: v for k, v in errors.items() if k in ("q", "xero_contact_id")}
    open_row = next((r for r in rows if r.key == opened), None) if session.is_admin else None
    if open_row is not None and term is not None and found is None and not errors:
        found, search_error = await _search(request, term)  # a search (GET): beside its input, no summary
        if search_error:
            link_errors["q"] = search_error
    linked = next((r for r in rows if r.key == request.query.get("linked")), None)
    sync = document.get("sync") or {}
    if linked is not None and notice is None:
        notice = _linked_notice(linked, bool(sync.get("update_xero", True)))
    if notice is None and request.query.get("webhooks") == "ok":
        notice = "✓ Pipedrive now sends this app changes of people, organisations and products."
    taken = {}
    if open_row is not None and found and tenant_id is not None:
        taken = {cid: o.label for cid, o in (await owners(request.config_dict[DB], session.company_id, tenant_id,
                                                          open_row.key, [(c.id, c.number) for c in found])).items()}
    zone = zone_of(document.get("timezone") or "UTC")
    customer = document.get("customer") or {}
    warning = await _webhooks_warning(request, session.company_id, zone)
    return render(request, "customers.html", {
        "document": document, "version": version, "errors": errors, "error_labels": LABELS,
        "conflict": CONFLICT if conflict else None, **saved_notice(request, notice),
        "sync": sync, "webhooks_warning": warning, "taken": taken, "tax_field": customer.get("tax_number_field"),
        "tax_fields": _tax_picker(fields, customer.get("tax_number_field")),
        "organisation": organisation, "connected": tenant_id is not None,
        "rows": [{"row": r, "when": when(r.shown_at, zone)} for r in rows],
        "problems": sum(1 for r in rows if r.problem),
        "product_problems": [{**p, "when": when(p["at"], zone)} for p in products],
        "open_row": open_row, "link_errors": link_errors, "term": term or "", "found": found,
        "searched": found is not None, "chosen": chosen,
        "problem": {"message": problem[0], "fix": problem[1]} if problem else None,
    }, status=status)


def _linked_notice(row: CustomerRow, update_xero: bool) -> str:
    """What happens now that an admin linked the customer, in plain words."""
    contact = row.xero_name or "the Xero contact you chose"
    words = f"✓ {row.label} is now linked to {contact} in Xero. "
    if update_xero:
        words += (f"The app sends {row.label}'s details from Pipedrive to that contact within a minute, and the "
                  f"next draft for {row.label} uses it.")
    else:
        words += (f"The next draft for {row.label} uses it. Nothing else is sent to Xero, since updating Xero when a "
                  "customer changes is off above.")
    if row.from_draft:
        deal = f"deal {row.deal_id}" if row.deal_id else "the deal whose draft failed"
        words += f" A draft failed on this customer: replay {deal} under Sync log to make it now."
    return words
