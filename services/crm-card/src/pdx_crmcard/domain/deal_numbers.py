"""Xero's numbers back on the deal: which of the deal's documents the deal shows, and the one ``PATCH
/api/v2/deals/{id}`` body that writes it into the deal fields the company chose (``CompanySettings.deal_fields``).
Pure.

    values(doc, fields)  ->  {"custom_fields": {"<status key>": "Paid", "<amount key>": {"value": 0.0,
                              "currency": "NZD"}, "<number key>": "INV-0042", "<link key>": "https://go.xero.com/..."},
                              "stage_id": 5}      # paid, and the deal's pipeline has a paid stage

The same values make the same ``digest``: the deal's last written digest tells a change (written) from the same
values reported again (not), so a change Xero reports three times is written once, and values that return to earlier
ones (paid, then the payment removed) are written again.
"""

import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pdx_common.company_settings import DealFieldRef, DealFields

INVOICE_WORDS = {"DRAFT": "Draft", "SUBMITTED": "Awaiting approval", "AUTHORISED": "Awaiting payment",
                 "PAID": "Paid", "VOIDED": "Voided", "DELETED": "Deleted"}
QUOTE_WORDS = {"DRAFT": "Draft", "SENT": "Sent", "ACCEPTED": "Accepted", "DECLINED": "Declined",
               "INVOICED": "Invoiced", "DELETED": "Deleted"}
GONE = ("VOIDED", "DELETED")
_TRIGGER_PIPELINE = re.compile(r"^p(\d+)-")


def status_words(doc: dict[str, Any]) -> str:
    words = INVOICE_WORDS if doc.get("kind") == "invoice" else QUOTE_WORDS
    status = str(doc.get("status") or "DRAFT")
    return words.get(status, status.replace("_", " ").capitalize())


def headline(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The document whose numbers the deal shows: an invoice before a quote (a quote turned into an invoice is old
    news), one still standing before a voided or deleted one, then the newest (by date, then number)."""
    return max(docs, default=None, key=lambda d: (d.get("kind") == "invoice", d.get("status") not in GONE,
                                                  d.get("date") or "", d.get("number") or ""))


def pipeline_of(doc: dict[str, Any]) -> int | None:
    """The deal's pipeline when the draft was made: from the result event, else from the trigger (``p3-s7``)."""
    if doc.get("pipeline_id"):
        return int(doc["pipeline_id"])
    match = _TRIGGER_PIPELINE.match(str(doc.get("trigger_id") or ""))
    return int(match.group(1)) if match else None


def values(doc: dict[str, Any], fields: DealFields) -> dict[str, Any]:
    """The PATCH body for the deal (empty: nothing to write)."""
    custom: dict[str, Any] = {}
    if fields.status:
        custom[fields.status.key] = status_words(doc)
    if fields.amount_due and doc.get("kind") == "invoice" and doc.get("amount_due") is not None:
        custom[fields.amount_due.key] = amount(fields.amount_due, doc["amount_due"], doc.get("currency"))
    if fields.number and doc.get("number"):
        custom[fields.number.key] = str(doc["number"])
    if fields.link and doc.get("url"):
        custom[fields.link.key] = str(doc["url"])
    body: dict[str, Any] = {"custom_fields": custom} if custom else {}
    if doc.get("kind") == "invoice" and doc.get("status") == "PAID":
        stage_id = fields.paid_stage_for(pipeline_of(doc))
        if stage_id is not None:
            body["stage_id"] = stage_id
    return body


def amount(field: DealFieldRef, value: object, currency: str | None) -> Any:
    """A number for a numeric field, ``{"value", "currency"}`` for a monetary one, else words (``NZD 1,725.00``)."""
    try:
        due = Decimal(str(value))
    except InvalidOperation:
        due = Decimal(0)
    if field.field_type == "double":
        return float(due)
    if field.field_type == "monetary":
        return {"value": float(due), "currency": currency or ""}
    return f"{currency or ''} {due:,.2f}".strip()


def digest(body: dict[str, Any]) -> str:
    """The same for the same values, whatever their order."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
