"""One Xero invoice or quote as the panel's read model keeps it, built from a Xero element or a DocumentCreated
(or a Replay's DocumentUpdated).
Pure: no I/O, no clock (the caller passes ``today``).

A read-model document::

    {"company_id": "7001", "tenant_id": "...", "kind": "invoice", "xero_id": "...", "number": "INV-0042",
     "status": "AUTHORISED", "date": "2026-11-27", "due_date": "2026-12-17", "total": "2415.00",
     "amount_due": "2415.00", "amount_paid": "0.00", "currency": "NZD", "contact_id": "...",
     "contact_name": "Kowhai Design Ltd", "url": "https://go.xero.com/...", "deal_id": "42" (ours only),
     "trigger_id": "p1-s5", "pipeline_id": 1 (ours only, when known),
     "xero_updated": datetime (Xero's UpdatedDateUTC, orders concurrent writes)}
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pdx_common.contracts import DocumentUpdated, DocumentWritten

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
OPEN_QUOTES = ("DRAFT", "SENT")
HIDDEN = ("DELETED",)
ID_FIELDS = {"invoice": ("InvoiceID", "InvoiceNumber", "DueDate"), "quote": ("QuoteID", "QuoteNumber", "ExpiryDate")}


def key(company_id: str, tenant_id: str, kind: str, xero_id: str) -> str:
    return f"{company_id}:{tenant_id}:{kind}:{xero_id}"


def parse_xero_time(value: object) -> datetime | None:
    """Xero's ``/Date(1552327126117+0000)/`` or an ISO string; None when it is neither."""
    if not isinstance(value, str) or not value:
        return None
    match = _MS_DATE.match(value)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_day(value: object) -> str | None:
    moment = parse_xero_time(value)
    return moment.date().isoformat() if moment else None


def money(value: object) -> str:
    try:
        return str(Decimal(str(value if value is not None else "0")).quantize(Decimal("0.01")))
    except InvalidOperation:
        return "0.00"


def xero_link(app_url: str, kind: str, xero_id: str, status: str) -> str:
    base = app_url.rstrip("/")
    if kind == "quote":
        return f"{base}/app/quotes/edit/{xero_id}"
    page = "Edit" if status in ("DRAFT", "SUBMITTED") else "View"
    return f"{base}/AccountsReceivable/{page}.aspx?InvoiceID={xero_id}"


def receivable(kind: str, element: dict[str, Any]) -> bool:
    """Sales invoices and quotes only: a bill (ACCPAY) to the same contact is not the customer's document."""
    return kind == "quote" or element.get("Type", "ACCREC") == "ACCREC"


def from_xero(kind: str, element: dict[str, Any], *, company_id: str, tenant_id: str, app_url: str) -> dict[str, Any]:
    id_field, number_field, second_date = ID_FIELDS[kind]
    xero_id, status = str(element[id_field]), str(element.get("Status") or "DRAFT")
    contact = element.get("Contact") or {}
    total = money(element.get("Total"))
    doc = {"company_id": company_id, "tenant_id": tenant_id, "kind": kind, "xero_id": xero_id,
           "number": element.get(number_field), "status": status, "date": parse_day(element.get("Date")),
           "due_date": parse_day(element.get(second_date)), "total": total, "currency": element.get("CurrencyCode"),
           "contact_id": contact.get("ContactID"), "contact_name": contact.get("Name"),
           "url": xero_link(app_url, kind, xero_id, status), "xero_updated": parse_xero_time(
               element.get("UpdatedDateUTC"))}
    if kind == "invoice":
        doc.update(amount_due=money(element.get("AmountDue")), amount_paid=money(element.get("AmountPaid")))
    else:
        doc.update(amount_due=None, amount_paid=None)
    return doc


def from_created(event: DocumentWritten) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a DocumentCreated tells: (fields that are ours for good, fields Xero may since have changed)."""
    ours: dict[str, Any] = {"company_id": event.company_id, "tenant_id": event.tenant_id, "kind": event.kind,
                            "xero_id": event.xero_id, "deal_id": event.deal_id,
                            "contact_number": event.contact_number, "trigger_id": event.trigger_id}
    if event.pipeline_id is not None:
        ours["pipeline_id"] = event.pipeline_id  # where a paid invoice moves the deal (deal_numbers)
    first = {"number": event.number, "status": event.status,
             "date": event.issue_date.isoformat() if event.issue_date else None,
             "due_date": event.due_date.isoformat() if event.due_date else None, "total": money(event.total),
             "currency": event.currency_code, "contact_id": event.contact_id, "contact_name": event.contact_name,
             "url": event.xero_url, "amount_due": money(event.total) if event.kind == "invoice" else None,
             "amount_paid": "0.00" if event.kind == "invoice" else None}
    return ours, first


def from_updated(event: DocumentUpdated) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """What a Replay's update in place tells: (ours for good, what the update replaced, what only a document not
    seen yet takes). The status and amounts stay Xero's: a later webhook may already have reported more."""
    ours, first = from_created(event)
    replaced = {name: first.pop(name) for name in ("number", "date", "due_date", "total", "currency", "contact_id",
                                                   "contact_name", "url")}
    return ours, replaced, first


def is_overdue(doc: dict[str, Any], today: date) -> bool:
    return (doc.get("kind") == "invoice" and doc.get("status") == "AUTHORISED" and bool(doc.get("due_date"))
            and doc["due_date"] < today.isoformat() and Decimal(doc.get("amount_due") or "0") > 0)


def days_overdue(doc: dict[str, Any], today: date) -> int:
    return (today - date.fromisoformat(doc["due_date"])).days


def part_paid(doc: dict[str, Any]) -> bool:
    return (doc.get("kind") == "invoice" and Decimal(doc.get("amount_paid") or "0") > 0
            and Decimal(doc.get("amount_due") or "0") > 0)


def status_news(doc: dict[str, Any]) -> str | None:
    """The change worth telling the deal about, as a key that is the same each time Xero reports the same state
    (so one activity per document per state); None for a state nobody needs to hear about."""
    status = doc.get("status")
    if doc.get("kind") == "quote":
        return status if status in ("ACCEPTED", "DECLINED", "INVOICED") else None
    if status == "AUTHORISED" and part_paid(doc):
        return f"PART_PAID:{doc['amount_paid']}"
    return status if status in ("AUTHORISED", "PAID", "VOIDED") else None


def customer_numbers(deal: dict[str, Any]) -> list[str]:
    """A Pipedrive deal's customer as Xero ContactNumbers, organisation first: ``["pd-org-12", "pd-person-7"]``."""
    found = []
    for field, prefix in (("org_id", "pd-org"), ("person_id", "pd-person")):
        value = deal.get(field)
        value = value.get("value") if isinstance(value, dict) else value
        if value:
            found.append(f"{prefix}-{value}")
    return found
