"""The JSON panel Pipedrive shows beside a deal, person or organisation, in Pipedrive's JSON-panel format. Pure.

Answer (``FIELDS`` is the data structure registered in Developer Hub; every object uses a subset of it)::

    {"data": [{"id": "summary", "header": "Xero: Kowhai Design Ltd", "xero_organisation": "Demo Company (NZ)",
               "outstanding": {"code": "NZD", "value": 2415.0}, "overdue_total": {"code": "NZD", "value": 0.0}, ...},
              {"id": "<InvoiceID>", "header": "Invoice INV-0042", "status": {"color": "blue", "label": "Awaiting
               payment"}, "date": "2026-11-27", "due_date": "2026-12-17", "total": {...}, "amount_due": {...},
               "xero_link": "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=..."}],
     "external_link": {"url": "https://go.xero.com/Contacts/View/<ContactID>", "label": "Open the customer in
     Xero"}, "settings": {"url": "https://..."}}

A deal whose trigger failed shows that first, with its fix and a Replay link (a signed gateway page that asks before
it acts; ``external``: Pipedrive opens it in a new tab)::

    {"id": "failed-p1-s5", "header": "Not created: The deal has no customer", "fix": "Link a person ...",
     "replay": {"label": "Replay this deal", "value": "https://gw/deal/replay?company_id=7001&deal_id=42&...",
                "external": true}}
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pdx_crmcard.domain import documents

MAX_OBJECTS, MAX_FIELDS = 10, 20
FIELDS = {  # name: Pipedrive field type
    "status": "label", "date": "date", "due_date": "date", "expiry_date": "date", "total": "currency",
    "amount_due": "currency", "overdue": "label", "source": "text", "xero_link": "link",
    "outstanding": "currency", "overdue_total": "currency", "open_invoices": "numerical", "open_quotes": "numerical",
    "note": "text", "updated_at": "date-time",
    "fix": "text", "replay": "link",  # a failed trigger's object (failure_object)
    "xero_organisation": "text",  # which Xero organisation the panel reads from (the summary, a message)
}
MAX_FAILURES = 3  # failed triggers shown on a deal (an invoice and a quote trigger, a Won trigger)
TEXT_LIMIT = 255  # Pipedrive truncates a text field after this many characters
_INVOICE_LABELS = {"DRAFT": ("gray", "Draft"), "SUBMITTED": ("yellow", "Awaiting approval"),
                   "AUTHORISED": ("blue", "Awaiting payment"), "PAID": ("green", "Paid"), "VOIDED": ("red", "Voided")}
_QUOTE_LABELS = {"DRAFT": ("gray", "Draft"), "SENT": ("blue", "Sent"), "ACCEPTED": ("green", "Accepted"),
                 "DECLINED": ("red", "Declined"), "INVOICED": ("purple", "Invoiced")}


@dataclass(frozen=True)
class PanelView:
    """What one panel shows: ``documents`` from the read model, this deal's own first."""

    title: str
    documents: list[dict[str, Any]]
    today: date
    settings_url: str
    contact_url: str | None = None
    deal_id: str | None = None
    refreshed_at: datetime | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # failure_object()s, shown first
    organisation: str | None = None  # the Xero organisation's name


def failure_object(failure: dict[str, Any], replay_url: str | None) -> dict[str, Any]:
    """A failed trigger (its deal_status record) as a panel object: what went wrong, the fix, and Replay."""
    trigger = str(failure.get("trigger_id") or "unknown")
    message_text = str(failure.get("message") or "the draft could not be made")
    fix = str(failure.get("fix") or "").strip()
    then = ("Then choose Replay." if replay_url else
            "Then ask an admin to replay it in the app's Sync log.")
    if replay_url and "replay" in fix.lower():
        then = ""  # the fix already ends "..., then replay the deal": the link below is how
    obj: dict[str, Any] = {"id": f"failed-{trigger}", "header": f"Not created: {_short(message_text)}",
                           "fix": f"{_clip(fix, TEXT_LIMIT - len(then) - 1)} {then}".strip()}
    if replay_url:
        obj["replay"] = {"label": "Replay this deal", "value": replay_url, "external": True}
    return obj


def _short(text: str, limit: int = 80) -> str:
    """The first clause: a header is read at a glance, the fix below says the rest."""
    first = text.split(". ")[0].rstrip(".")
    if len(first) > 50 and ": " in first:
        first = first.split(": ")[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _clip(text: str, limit: int) -> str:
    """Pipedrive cuts a text field after 255 characters; the sentence after the fix (what to do next) must stay."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def with_failures(body: dict[str, Any], failures: list[dict[str, Any]]) -> dict[str, Any]:
    """A message panel (not connected, not in Xero yet) with the deal's failures above it."""
    if not failures:
        return body
    return {**body, "data": [*failures[:MAX_FAILURES], *body["data"]][:MAX_OBJECTS]}


def render(view: PanelView) -> dict[str, Any]:
    failures = view.failures[:MAX_FAILURES]
    shown = [d for d in view.documents if d.get("status") not in documents.HIDDEN]
    if not shown:
        return with_failures(message(
            "nothing", f"Nothing in Xero yet for {view.title}",
            "No invoices or quotes. Drafts made from deals appear here; Update checks Xero now.",
            view.settings_url, organisation=view.organisation), failures)
    newest_first = sorted(shown, key=lambda d: d.get("date") or "", reverse=True)
    ordered = sorted(newest_first, key=lambda d: view.deal_id is None or d.get("deal_id") != view.deal_id)
    kept = ordered[: MAX_OBJECTS - 1 - len(failures)]
    notes = list(view.notes)
    if len(ordered) > len(kept):
        notes.append(f"Showing {len(kept)} of {len(ordered)} documents; the rest are in Xero.")
    body: dict[str, Any] = {"data": [*failures, summary(view, shown, notes), *(_document(d, view) for d in kept)],
                            "settings": {"url": view.settings_url}}
    if view.contact_url:
        body["external_link"] = {"url": view.contact_url, "label": "Open the customer in Xero"}
    return body


def summary(view: PanelView, shown: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    invoices = [d for d in shown if d["kind"] == "invoice" and d.get("status") == "AUTHORISED"]
    owed = _by_currency(invoices, lambda d: True)
    late = _by_currency(invoices, lambda d: documents.is_overdue(d, view.today))
    main = _main_currency(owed, shown)
    others = [f"{code} {amount:,.2f}" for code, amount in owed.items() if code != main and amount]
    if others:
        notes = [f"Also outstanding: {', '.join(others)}.", *notes]
    obj: dict[str, Any] = {"id": "summary", "header": f"Xero: {view.title}"}
    if view.organisation:
        obj["xero_organisation"] = view.organisation
    obj.update({
        "outstanding": _currency(main, owed.get(main, Decimal(0))),
        "overdue_total": _currency(main, late.get(main, Decimal(0))),
        "open_invoices": sum(1 for d in invoices if Decimal(d.get("amount_due") or 0) > 0),
        "open_quotes": sum(1 for d in shown if d["kind"] == "quote" and d.get("status") in documents.OPEN_QUOTES)})
    if notes:
        obj["note"] = " ".join(notes)
    if view.refreshed_at:
        obj["updated_at"] = view.refreshed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return obj


def _document(doc: dict[str, Any], view: PanelView) -> dict[str, Any]:
    kind = doc["kind"]
    obj: dict[str, Any] = {"id": doc["xero_id"], "header": f"{kind.capitalize()} {doc.get('number') or '(no number)'}",
                           "status": _status_label(doc)}
    if doc.get("date"):
        obj["date"] = doc["date"]
    if doc.get("due_date"):
        obj["due_date" if kind == "invoice" else "expiry_date"] = doc["due_date"]
    obj["total"] = _currency(doc.get("currency"), Decimal(doc.get("total") or 0))
    if kind == "invoice":
        obj["amount_due"] = _currency(doc.get("currency"), Decimal(doc.get("amount_due") or 0))
    if documents.is_overdue(doc, view.today):
        days = documents.days_overdue(doc, view.today)
        obj["overdue"] = {"color": "red", "label": f"Overdue {days} day{'s' if days != 1 else ''}"}
    if doc.get("deal_id"):
        obj["source"] = ("Drafted from this deal" if doc["deal_id"] == view.deal_id
                         else f"Drafted from deal {doc['deal_id']}")
    if doc.get("url"):
        obj["xero_link"] = doc["url"]
    return obj


def _status_label(doc: dict[str, Any]) -> dict[str, str]:
    if doc["kind"] == "invoice" and doc.get("status") == "AUTHORISED" and documents.part_paid(doc):
        return {"color": "yellow", "label": "Part paid"}
    labels = _INVOICE_LABELS if doc["kind"] == "invoice" else _QUOTE_LABELS
    color, label = labels.get(doc.get("status") or "", ("gray", str(doc.get("status") or "Unknown").title()))
    return {"color": color, "label": label}


def _by_currency(docs: list[dict[str, Any]], keep) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for doc in docs:
        if keep(doc):
            code = doc.get("currency") or ""
            totals[code] = totals.get(code, Decimal(0)) + Decimal(doc.get("amount_due") or 0)
    return totals


def _main_currency(owed: dict[str, Decimal], shown: list[dict[str, Any]]) -> str:
    if owed:
        return max(owed, key=lambda code: owed[code])
    counts = Counter(d.get("currency") for d in shown if d.get("currency"))
    return counts.most_common(1)[0][0] if counts else "USD"


def _currency(code: str | None, value: Decimal) -> dict[str, Any]:
    return {"code": code or "USD", "value": float(value)}


def message(object_id: str, header: str, text: str, settings_url: str, *,
            organisation: str | None = None) -> dict[str, Any]:
    """A plain message in the panel (not connected, not in Xero yet, nothing there, which contact?), naming the Xero
    organisation it looked in when there is one."""
    obj = {"id": object_id, "header": header, "note": text}
    if organisation:
        obj["xero_organisation"] = organisation
    return {"data": [obj], "settings": {"url": settings_url}}


def error(title: str, subtitle: str, action: dict[str, str] | None = None) -> dict[str, Any]:
    """Pipedrive's error body; it goes with a status above 300."""
    body: dict[str, Any] = {"title": title, "subtitle": subtitle}
    if action:
        body["action"] = action
    return {"error": body}
