"""The sync-status activity on the deal, in words a salesperson understands. Pure."""

from dataclasses import dataclass
from html import escape

from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentParked, DocumentSkipped

KIND_WORDS = {"invoice": "invoice", "quote": "quote", None: "document"}


@dataclass(frozen=True)
class ActivityText:
    subject: str
    note: str  # HTML, as Pipedrive shows activity notes


def created(event: DocumentCreated) -> ActivityText:
    kind = KIND_WORDS[event.kind]
    number = event.number or "(no number yet)"
    note = (f"<p>Draft {kind} <b>{escape(number)}</b> for {escape(event.contact_name)}, total "
            f"{escape(event.currency_code)} {event.total:,.2f}, is in Xero as a draft: nothing was sent to the "
            f'customer.</p><p><a href="{escape(event.xero_url)}">Open the draft in Xero</a></p>')
    for warning in event.warnings:
        note += f"<p>⚠ {escape(warning)}</p>"
    return ActivityText(f"Draft {kind} {number} created in Xero", note)


def failed(event: DocumentFailed, replay_hint: str) -> ActivityText:
    kind = KIND_WORDS[event.kind]
    hint = replay_hint.format(company_id=event.company_id, deal_id=event.deal_id)
    note = (f"<p><b>What went wrong:</b> {escape(event.message)}</p><p><b>How to fix it:</b> {escape(event.fix)}</p>"
            f"<p><b>Replay:</b> once fixed, replay the deal ({escape(hint)}).</p>"
            f"<p><small>Code: {escape(event.code)}</small></p>")
    return ActivityText(f"Xero draft {kind} not created: {_short(event.message)}", note)


def parked(event: DocumentParked) -> ActivityText:
    kind = KIND_WORDS[event.kind]
    note = (f"<p><b>Waiting:</b> {escape(event.reason)} The draft {kind} for this deal is kept and will be made "
            f"as soon as Xero is connected again; nothing is lost and nothing needs replaying.</p>"
            f"<p><b>How to fix it:</b> reconnect Xero in the app settings (Settings &gt; Apps &gt; Xero drafts "
            f"&gt; Connect Xero).</p>")
    return ActivityText(f"Xero draft {kind} waiting: reconnect Xero", note)


def skipped(event: DocumentSkipped) -> ActivityText:
    return ActivityText(f"No Xero draft: {_short(event.reason)}", f"<p>{escape(event.reason)}</p>")


def _short(text: str, limit: int = 120) -> str:
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1] + "…"


_NEWS = {
    "AUTHORISED": ("approved in Xero", "was approved in Xero and now awaits payment of {due}."),
    "PAID": ("paid", "is paid in full ({total})."),
    "PART_PAID": ("part paid", "has a payment: {paid} paid, {due} still due."),
    "VOIDED": ("voided in Xero", "was voided in Xero: it is no longer owed."),
    "ACCEPTED": ("accepted", "was accepted by the customer."),
    "DECLINED": ("declined", "was declined by the customer."),
    "INVOICED": ("invoiced", "was turned into an invoice in Xero."),
}


def status_changed(doc: dict, news: str) -> ActivityText:
    """A draft we created moved on in Xero (``news`` from ``documents.status_news``)."""
    kind = KIND_WORDS[doc.get("kind")]
    number = doc.get("number") or "(no number)"
    short, sentence = _NEWS[news.split(":")[0]]
    currency = doc.get("currency") or ""
    sentence = sentence.format(total=f"{currency} {doc.get('total')}", due=f"{currency} {doc.get('amount_due')}",
                               paid=f"{currency} {doc.get('amount_paid')}")
    note = (f"<p>{kind.capitalize()} <b>{escape(number)}</b> for {escape(doc.get('contact_name') or 'the customer')} "
            f"{escape(sentence)}</p>")
    if doc.get("url"):
        note += f'<p><a href="{escape(doc["url"])}">Open it in Xero</a></p>'
    return ActivityText(f"{kind.capitalize()} {number} {short}", note)
