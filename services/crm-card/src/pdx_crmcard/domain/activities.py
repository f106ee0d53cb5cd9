"""The sync-status activity on the deal, in words a salesperson understands. Pure.

A note is HTML (Pipedrive shows activity notes as HTML): every value is escaped, links are only http(s). A note speaks
plain words and a reference (the result event's id, bound as ``message_id`` in every log line about it); internals
(exception text, URLs, response bodies, host names) stay in the logs.
"""

import re
from dataclasses import dataclass
from html import escape

from pdx_common.contracts import (
    DocumentCreated,
    DocumentFailed,
    DocumentParked,
    DocumentSkipped,
    DocumentUpdated,
    DocumentWritten,
)

KIND_WORDS = {"invoice": "invoice", "quote": "quote", None: "document"}
_URL = re.compile(r"\b(?:https?|wss?|mongodb(?:\+srv)?|kafka)://\S+", re.IGNORECASE)
_HOST_PORT = re.compile(r"\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+):\d{2,5}\b", re.IGNORECASE)
_TRACE = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b:?")
# A replay hint that names an API call is for operators, not for the salesperson reading the note.
_API_CALL = re.compile(r"^\s*(?:GET|POST|PUT|PATCH|DELETE)\s|/api/", re.IGNORECASE)
_UNTOUCHED = ", so Replay left it untouched"  # the writer's words for a document no longer a draft
_REFUSED_UPDATE = re.compile(r"(Draft (?:invoice|quote) \S+) was not updated in Xero and is unchanged\. ")
_NOT_UPDATED = re.compile(r"\b(?:left untouched|not updated|was not changed|nothing was updated)\b", re.IGNORECASE)
PLAIN_REPLAY = ("ask an admin to replay it in the app's Sync log (Pipedrive: Settings > Apps > Xero drafts > "
                "Sync log)")


@dataclass(frozen=True)
class ActivityText:
    subject: str
    note: str  # HTML, as Pipedrive shows activity notes


def created(event: DocumentCreated) -> ActivityText:
    kind, number = KIND_WORDS.get(event.kind, "document"), event.number or "(no number yet)"
    return ActivityText(f"Draft {kind} {number} created in Xero", _written_note(event, "is in Xero as a draft"))


def updated(event: DocumentUpdated) -> ActivityText:
    """A Replay regenerated the deal's draft in place: same document, same number, today's deal and mappings.

        updated(event).subject  ->  "Draft invoice INV-0007 updated in Xero"
    """
    kind, number = KIND_WORDS.get(event.kind, "document"), event.number or "(no number yet)"
    return ActivityText(f"Draft {kind} {number} updated in Xero",
                        _written_note(event, "was updated in Xero from the deal as it is now and is still a draft"))


def _written_note(event: DocumentWritten, where: str) -> str:
    kind, number = KIND_WORDS.get(event.kind, "document"), event.number or "(no number yet)"
    note = (f"<p>Draft {kind} <b>{escape(number)}</b> for {escape(event.contact_name)}, total "
            f"{escape(event.currency_code)} {event.total:,.2f}, {where}: nothing was sent to the "
            f"customer.</p>{_link(event.xero_url, 'Open the draft in Xero')}")
    for warning in event.warnings:
        note += f"<p>⚠ {escape(plain(warning))}</p>"
    return note


def failed(event: DocumentFailed, replay_hint: str, replay_url: str | None = None) -> ActivityText:
    """What went wrong, how to fix it, and a Replay link (a signed gateway page that asks before it acts) when the
    links are configured; else where an admin replays, in words. An operator's hint naming an API call never
    reaches the salesperson."""
    kind = KIND_WORDS.get(event.kind, "document")
    message = plain(event.message)
    note = (f"<p><b>What went wrong:</b> {escape(message)}</p><p><b>How to fix it:</b> {escape(plain(event.fix))}"
            f"</p>{_replay(event, replay_hint, replay_url)}"
            f"<p><small>Code: {escape(event.code)} · Reference: {escape(event.id)}</small></p>")
    return ActivityText(f"Xero draft {kind} not created: {_short(message)}", note)


def _replay(event: DocumentFailed, replay_hint: str, replay_url: str | None) -> str:
    if replay_url and re.match(r"https?://", replay_url, re.IGNORECASE):
        return f'<p><b>Replay:</b> Once fixed, <a href="{escape(replay_url, quote=True)}">Replay this deal</a>.</p>'
    hint = replay_hint.format(company_id=event.company_id, deal_id=event.deal_id)
    hint = PLAIN_REPLAY if not hint.strip() or _API_CALL.search(hint) else plain(hint)
    return f"<p><b>Replay:</b> once fixed, {escape(hint)}.</p>"


def plain(text: str) -> str:
    """``text`` without what only the logs should hold: addresses, host names and exception names (the services
    write plain failures already; this keeps a slip from reaching a salesperson)."""
    text = _URL.sub("(an address kept in our logs)", text)
    text = _HOST_PORT.sub("(a server kept in our logs)", text)
    return _TRACE.sub("", text).strip()


def _link(url: str | None, words: str) -> str:
    if not url or not re.match(r"https?://", url, re.IGNORECASE):
        return ""
    return f'<p><a href="{escape(url, quote=True)}">{escape(words)}</a></p>'


def parked(event: DocumentParked) -> ActivityText:
    kind = KIND_WORDS.get(event.kind, "document")
    note = (f"<p><b>Waiting:</b> {escape(plain(event.reason))} The draft {kind} for this deal is kept and will be made "
            f"as soon as Xero is connected again; nothing is lost and nothing needs replaying.</p>"
            f"<p><b>How to fix it:</b> reconnect Xero in the app's settings (Pipedrive: Settings &gt; Apps &gt; "
            f"Xero drafts &gt; Connections &gt; Reconnect Xero).</p>")
    return ActivityText(f"Xero draft {kind} waiting: reconnect Xero", note)


def skipped(event: DocumentSkipped) -> ActivityText:
    """Nothing made. After a Replay the writer says why the deal's existing document was left as it is, and the
    subject says so, since a document does exist::

        "Invoice INV-0001 is approved in Xero (awaiting payment), so Replay left it untouched: ..."
        -> "Replay left it untouched: Invoice INV-0001 is approved in Xero (awaiting payment)"
        "Draft invoice INV-0002 was not updated in Xero and is unchanged. The account code 999 ..."
        -> "Draft invoice INV-0002 not updated: The account code 999 ..."
    """
    reason = plain(event.reason)
    if _UNTOUCHED in reason:
        subject = f"Replay left it untouched: {_short(reason.split(_UNTOUCHED, 1)[0])}"
    elif (refused := _REFUSED_UPDATE.match(reason)) is not None:
        subject = f"{refused[1]} not updated: {_short(reason[refused.end():])}"
    elif _NOT_UPDATED.search(reason):
        subject = f"Not updated: {_short(reason)}"
    else:
        subject = f"No Xero draft: {_short(reason)}"
    return ActivityText(subject, f"<p>{escape(reason)}</p>")


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
    kind = KIND_WORDS.get(doc.get("kind"), "document")
    number = doc.get("number") or "(no number)"
    short, sentence = _NEWS.get(news.split(":")[0], ("changed in Xero", "changed in Xero."))
    currency = doc.get("currency") or ""
    sentence = sentence.format(total=f"{currency} {doc.get('total')}", due=f"{currency} {doc.get('amount_due')}",
                               paid=f"{currency} {doc.get('amount_paid')}")
    note = (f"<p>{kind.capitalize()} <b>{escape(number)}</b> for {escape(doc.get('contact_name') or 'the customer')} "
            f"{escape(sentence)}</p>")
    note += _link(doc.get("url"), "Open it in Xero")
    return ActivityText(f"{kind.capitalize()} {number} {short}", note)
