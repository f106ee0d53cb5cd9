"""Accounting API routes for settings (organisation, currencies, tax rates, accounts, branding themes, tracking
categories), contacts and items (/api.xro/2.0/...)."""

from aiohttp import web

from . import masterdata
from .api import body_elements, csv_param, envelope, filter_where, flag, paginate, run_batch, state_of, tenant_of
from .documents import Built
from .errors import not_found

routes = web.RouteTableDef()
P = "/api.xro/2.0"


@routes.get(f"{P}/Organisation")
async def get_organisation(request: web.Request) -> web.Response:
    return envelope(request, "Organisations", [tenant_of(request).organisation()])


@routes.get(f"{P}/Currencies")
async def get_currencies(request: web.Request) -> web.Response:
    return envelope(request, "Currencies", filter_where(request, list(tenant_of(request).currencies)))


@routes.get(f"{P}/TaxRates")
async def get_tax_rates(request: web.Request) -> web.Response:
    rates = filter_where(request, list(tenant_of(request).tax_rates))
    if request.query.get("TaxType"):
        rates = [r for r in rates if r["TaxType"] == request.query["TaxType"]]
    return envelope(request, "TaxRates", rates)


@routes.get(f"{P}/Accounts")
async def get_accounts(request: web.Request) -> web.Response:
    return envelope(request, "Accounts", filter_where(request, list(tenant_of(request).accounts)))


@routes.get(f"{P}/Accounts/{{account_id}}")
async def get_account(request: web.Request) -> web.Response:
    wanted = request.match_info["account_id"]
    found = [a for a in tenant_of(request).accounts if a["AccountID"] == wanted]
    if not found:
        raise not_found()
    return envelope(request, "Accounts", found)


@routes.get(f"{P}/BrandingThemes")
async def get_branding_themes(request: web.Request) -> web.Response:
    """GET /BrandingThemes: every theme, the default (SortOrder 0) first."""
    themes = sorted(tenant_of(request).branding_themes, key=lambda t: t["SortOrder"])
    return envelope(request, "BrandingThemes", themes)


@routes.get(f"{P}/BrandingThemes/{{theme_id}}")
async def get_branding_theme(request: web.Request) -> web.Response:
    theme = tenant_of(request).branding_theme(request.match_info["theme_id"])
    if theme is None:
        raise not_found()
    return envelope(request, "BrandingThemes", [theme])


def _active_options(category: dict, include_archived: bool) -> dict:
    if include_archived:
        return category
    return {**category, "Options": [o for o in category["Options"] if o["Status"] == "ACTIVE"]}


@routes.get(f"{P}/TrackingCategories")
async def get_tracking_categories(request: web.Request) -> web.Response:
    """GET /TrackingCategories[?where=Status=="ACTIVE"&includeArchived=true]: categories with their Options
    (archived categories and options only with includeArchived=true)."""
    archived = flag(request, "includeArchived")
    categories = [_active_options(c, archived) for c in tenant_of(request).tracking_categories
                  if archived or c["Status"] == "ACTIVE"]
    return envelope(request, "TrackingCategories", filter_where(request, categories))


@routes.get(f"{P}/TrackingCategories/{{category_id}}")
async def get_tracking_category(request: web.Request) -> web.Response:
    wanted = request.match_info["category_id"].lower()
    found = [c for c in tenant_of(request).tracking_categories if c["TrackingCategoryID"] == wanted]
    if not found:
        raise not_found()
    return envelope(request, "TrackingCategories", [_active_options(found[0], flag(request, "includeArchived"))])


# --- contacts -----------------------------------------------------------------------------------------------------
def _search(term: str, contact: dict) -> bool:
    fields = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
    return any(term in str(contact.get(f) or "").casefold() for f in fields)


@routes.get(f"{P}/Contacts")
async def get_contacts(request: web.Request) -> web.Response:
    """GET /Contacts?where=Name=="Acme"&searchTerm=acme&IDs=..&page=1&includeArchived=true."""
    contacts = list(tenant_of(request).contacts.values())
    if not flag(request, "includeArchived"):
        contacts = [c for c in contacts if c["ContactStatus"] != "ARCHIVED"]
    ids = csv_param(request, "IDs")
    if ids is not None:
        contacts = [c for c in contacts if c["ContactID"] in ids]
    if request.query.get("searchTerm"):
        term = request.query["searchTerm"].casefold()
        contacts = [c for c in contacts if _search(term, c)]
    contacts = filter_where(request, contacts)
    page, extra = paginate(request, contacts)
    return envelope(request, "Contacts", page, extra)


@routes.get(f"{P}/Contacts/{{key}}")
async def get_contact(request: web.Request) -> web.Response:
    tenant, key = tenant_of(request), request.match_info["key"]
    contact = tenant.contacts.get(key) or tenant.contact_by_number(key)
    if contact is None:
        raise not_found()
    return envelope(request, "Contacts", [contact])


async def _write_contacts(request: web.Request, by_number: bool) -> web.Response:
    state, tenant = state_of(request), tenant_of(request)
    elements = await body_elements(request, "Contacts")
    now = state.clock.time()

    def build(raw: dict) -> Built:
        existing = masterdata.match_contact(tenant, raw, by_number)
        return masterdata.build_contact(tenant, raw, existing, now)

    response, committed = run_batch(request, "Contacts", "ContactID", elements, build,
                                    lambda b: masterdata.commit_contact(tenant, b), dict)
    for built, doc in committed:
        state.emit(tenant.tenant_id, "CONTACT", "CREATE" if built.created else "UPDATE", doc["ContactID"])
    return response


@routes.put(f"{P}/Contacts")
async def put_contacts(request: web.Request) -> web.Response:
    """PUT {"Contacts": [{"Name": "Acme Ltd", "ContactNumber": "pd-org-42", "EmailAddress": "a@acme.test"}]}."""
    return await _write_contacts(request, by_number=False)


@routes.post(f"{P}/Contacts")
async def post_contacts(request: web.Request) -> web.Response:
    """Upsert: an element with a known ContactID or ContactNumber updates that contact."""
    return await _write_contacts(request, by_number=True)


@routes.post(f"{P}/Contacts/{{contact_id}}")
async def post_contact(request: web.Request) -> web.Response:
    state, tenant = state_of(request), tenant_of(request)
    existing = tenant.contacts.get(request.match_info["contact_id"])
    if existing is None:
        raise not_found()
    elements = [{**e, "ContactID": existing["ContactID"]} for e in await body_elements(request, "Contacts")][:1]
    now = state.clock.time()
    response, committed = run_batch(request, "Contacts", "ContactID", elements,
                                    lambda raw: masterdata.build_contact(tenant, raw, existing, now),
                                    lambda b: masterdata.commit_contact(tenant, b), dict)
    for _built, doc in committed:
        state.emit(tenant.tenant_id, "CONTACT", "UPDATE", doc["ContactID"])
    return response


# --- items --------------------------------------------------------------------------------------------------------
@routes.get(f"{P}/Items")
async def get_items(request: web.Request) -> web.Response:
    """GET /Items?where=Code=="WIDGET-01"."""
    return envelope(request, "Items", filter_where(request, list(tenant_of(request).items.values())))


@routes.get(f"{P}/Items/{{key}}")
async def get_item(request: web.Request) -> web.Response:
    tenant, key = tenant_of(request), request.match_info["key"]
    item = tenant.items.get(key) or tenant.item_by_code(key)
    if item is None:
        raise not_found()
    return envelope(request, "Items", [item])


async def _write_items(request: web.Request, by_code: bool) -> web.Response:
    state, tenant = state_of(request), tenant_of(request)
    elements = await body_elements(request, "Items")
    now = state.clock.time()

    def build(raw: dict) -> Built:
        existing = masterdata.match_item(tenant, raw if by_code else {"ItemID": raw.get("ItemID")})
        return masterdata.build_item(tenant, raw, existing, now)

    response, _ = run_batch(request, "Items", "ItemID", elements, build,
                            lambda b: masterdata.commit_item(tenant, b), dict)
    return response


@routes.put(f"{P}/Items")
async def put_items(request: web.Request) -> web.Response:
    """PUT {"Items": [{"Code": "SKU-1", "Name": "Widget", "SalesDetails": {"UnitPrice": 10, "AccountCode": "200"}}]}."""
    return await _write_items(request, by_code=False)


@routes.post(f"{P}/Items")
async def post_items(request: web.Request) -> web.Response:
    """Upsert: a known ItemID or Code updates that item."""
    return await _write_items(request, by_code=True)
