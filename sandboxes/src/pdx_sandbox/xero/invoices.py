"""Accounting API routes for invoices and quotes (/api.xro/2.0/Invoices, /api.xro/2.0/Quotes)."""

from datetime import datetime

from aiohttp import web

from . import documents
from .api import (
    body_elements,
    client_id_of,
    csv_param,
    envelope,
    filter_where,
    flag,
    paginate,
    run_batch,
    state_of,
    tenant_of,
    unitdp,
)
from .documents import Built
from .errors import not_found
from .formats import parse_day

routes = web.RouteTableDef()
P = "/api.xro/2.0"
_KINDS = {"invoice": ("Invoices", "InvoiceID", "InvoiceNumber"), "quote": ("Quotes", "QuoteID", "QuoteNumber")}
_NOT_FOUND_ID = "The document with the supplied id was not found for this endpoint."


def _modified_since(request: web.Request, docs: list[dict]) -> list[dict]:
    header = request.headers.get("If-Modified-Since")
    if not header:
        return docs
    try:
        since = datetime.fromisoformat(header).timestamp() * 1000
    except ValueError:
        return docs
    return [d for d in docs if int(d["UpdatedDateUTC"][6:d["UpdatedDateUTC"].index("+")]) > since]


@routes.get(f"{P}/Invoices")
async def get_invoices(request: web.Request) -> web.Response:
    """GET /Invoices?Statuses=DRAFT,AUTHORISED&where=Reference=="deal-42"&createdByMyApp=true&page=1&unitdp=4."""
    docs = list(tenant_of(request).invoices.values())
    for param, field in (("IDs", "InvoiceID"), ("InvoiceNumbers", "InvoiceNumber"), ("Statuses", "Status")):
        wanted = csv_param(request, param)
        if wanted is not None:
            docs = [d for d in docs if d.get(field) in wanted]
    contact_ids = csv_param(request, "ContactIDs")
    if contact_ids is not None:
        docs = [d for d in docs if (d.get("Contact") or {}).get("ContactID") in contact_ids]
    if flag(request, "createdByMyApp"):
        docs = [d for d in docs if d.get("_client_id") == client_id_of(request)]
    if request.query.get("searchTerm"):
        term = request.query["searchTerm"].casefold()
        docs = [d for d in docs if term in f"{d.get('InvoiceNumber', '')} {d.get('Reference', '')}".casefold()]
    docs = _modified_since(request, filter_where(request, docs))
    page, extra = paginate(request, docs)
    summary = flag(request, "summaryOnly")
    return envelope(request, "Invoices", [documents.render(d, unitdp(request), summary) for d in page], extra)


@routes.get(f"{P}/Invoices/{{key}}")
async def get_invoice(request: web.Request) -> web.Response:
    doc = tenant_of(request).find_document("invoice", request.match_info["key"])
    if doc is None:
        raise not_found()
    return envelope(request, "Invoices", [documents.render(doc, unitdp(request))])


@routes.get(f"{P}/Quotes")
async def get_quotes(request: web.Request) -> web.Response:
    """GET /Quotes?ContactID=...&Status=DRAFT&QuoteNumber=QU-0001&DateFrom=2026-01-01&page=1."""
    docs = list(tenant_of(request).quotes.values())
    query = request.query
    if query.get("ContactID"):
        docs = [d for d in docs if (d.get("Contact") or {}).get("ContactID") == query["ContactID"]]
    if query.get("Status"):
        docs = [d for d in docs if d["Status"] == query["Status"].upper()]
    if query.get("QuoteNumber"):
        docs = [d for d in docs if d.get("QuoteNumber") == query["QuoteNumber"]]
    for param, field, after in (("DateFrom", "Date", True), ("DateTo", "Date", False),
                                ("ExpiryDateFrom", "ExpiryDate", True), ("ExpiryDateTo", "ExpiryDate", False)):
        bound = parse_day(query.get(param))
        if bound is not None:
            docs = [d for d in docs if _within(parse_day(d.get(field)), bound, after)]
    page, extra = paginate(request, _modified_since(request, docs))
    return envelope(request, "Quotes", [documents.render(d) for d in page], extra)


def _within(day, bound, after: bool) -> bool:
    return day is not None and (day >= bound if after else day <= bound)


@routes.get(f"{P}/Quotes/{{key}}")
async def get_quote(request: web.Request) -> web.Response:
    doc = tenant_of(request).find_document("quote", request.match_info["key"])
    if doc is None:
        raise not_found()
    return envelope(request, "Quotes", [documents.render(doc)])


async def _write(request: web.Request, kind: str, upsert: bool, only_id: str | None = None) -> web.Response:
    state, tenant = state_of(request), tenant_of(request)
    key, id_field, _number_field = _KINDS[kind]
    elements = await body_elements(request, key)
    if only_id is not None:
        elements = [{**elements[0], id_field: only_id}]
    now, dp, client_id = state.clock.time(), unitdp(request), client_id_of(request)

    def build(raw: dict) -> Built:
        existing = _match(kind, tenant, raw, upsert)
        built = documents.build(kind, tenant, raw, existing, now, dp)
        if raw.get(id_field) and existing is None:
            built.errors.insert(0, _NOT_FOUND_ID)
        return built

    response, committed = run_batch(request, key, id_field, elements, build,
                                    lambda b: documents.commit(kind, tenant, b, client_id),
                                    lambda d: documents.render(d, dp))
    for built, doc in committed:
        if built.new_contact is not None:
            state.emit(tenant.tenant_id, "CONTACT", "CREATE", built.new_contact["ContactID"])
        if kind == "invoice":  # Xero has no quote events
            state.emit(tenant.tenant_id, "INVOICE", "CREATE" if built.created else "UPDATE", doc[id_field])
    return response


def _match(kind: str, tenant, raw: dict, upsert: bool) -> dict | None:
    _key, id_field, number_field = _KINDS[kind]
    if raw.get(id_field):
        return tenant.find_document(kind, str(raw[id_field]))
    if upsert and raw.get(number_field):
        return tenant.find_document(kind, str(raw[number_field]))
    return None


@routes.put(f"{P}/Invoices")
async def put_invoices(request: web.Request) -> web.Response:
    """PUT ?summarizeErrors=false {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": "..."},
    "LineItems": [{"ItemCode": "CONSULT-HR", "Quantity": 2}], "Reference": "deal-42", "Status": "DRAFT"}]}."""
    return await _write(request, "invoice", upsert=False)


@routes.post(f"{P}/Invoices")
async def post_invoices(request: web.Request) -> web.Response:
    """Upsert: a known InvoiceID or InvoiceNumber updates that invoice."""
    return await _write(request, "invoice", upsert=True)


@routes.post(f"{P}/Invoices/{{invoice_id}}")
async def post_invoice(request: web.Request) -> web.Response:
    doc = tenant_of(request).find_document("invoice", request.match_info["invoice_id"])
    if doc is None:
        raise not_found()
    return await _write(request, "invoice", upsert=True, only_id=doc["InvoiceID"])


@routes.put(f"{P}/Quotes")
async def put_quotes(request: web.Request) -> web.Response:
    """PUT {"Quotes": [{"Contact": {"ContactID": "..."}, "Date": "2026-03-01", "LineAmountTypes": "EXCLUSIVE",
    "LineItems": [...], "Title": "Deal 42"}]}."""
    return await _write(request, "quote", upsert=False)


@routes.post(f"{P}/Quotes")
async def post_quotes(request: web.Request) -> web.Response:
    return await _write(request, "quote", upsert=True)


@routes.post(f"{P}/Quotes/{{quote_id}}")
async def post_quote(request: web.Request) -> web.Response:
    doc = tenant_of(request).find_document("quote", request.match_info["quote_id"])
    if doc is None:
        raise not_found()
    return await _write(request, "quote", upsert=True, only_id=doc["QuoteID"])
