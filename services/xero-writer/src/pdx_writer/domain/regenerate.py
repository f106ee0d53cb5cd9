"""Regenerating a draft in place (a person's Replay after a fix): the update Xero is sent, and in plain words why a
document was left alone or not updated. Pure: no I/O.

Only a DRAFT is regenerated. Anything further along (submitted, approved, paid, sent to the customer, ...) was
looked at or acted on by a person in Xero, so Replay leaves it untouched and says what to do in Xero instead.
"""

import hashlib
from typing import Any

from pdx_common.contracts import CreateInvoice, CreateQuote
from pdx_writer.domain.documents import document_payload
from pdx_writer.domain.explain import APP_SETTINGS, Explanation

Command = CreateInvoice | CreateQuote
REGENERABLE = "DRAFT"
_NO_SECOND = ("Replay does not make a second {kind} for the same deal; if the customer still needs one, create it "
              "in Xero.")

# Xero's status: (what state it is in, why Replay did not change it, what to do in Xero).
_INVOICE_STATES = {
    "SUBMITTED": ("is awaiting approval in Xero (submitted)", "Replay only updates drafts",
                  "To update it from the deal, open it in Xero, choose Edit and save it as a draft, then replay "
                  "the deal; or change it in Xero yourself."),
    "AUTHORISED": ("is approved in Xero (awaiting payment)", "an approved invoice is changed in Xero itself",
                   "To change it, open it in Xero and choose Invoice options > Edit (possible while no payment is "
                   "recorded), or void it there and create a new invoice in Xero."),
    "PAID": ("is paid in Xero", "a paid invoice cannot be changed",
             "To correct it, remove the payment in Xero first and then edit the invoice there, or raise a credit "
             "note in Xero."),
    "VOIDED": ("is voided in Xero", "a voided invoice cannot be changed", _NO_SECOND.format(kind="invoice")),
    "DELETED": ("is deleted in Xero", "a deleted invoice cannot be changed", _NO_SECOND.format(kind="invoice")),
}
_QUOTE_STATES = {
    "SENT": ("has been sent to the customer (Sent in Xero)",
             "Replay only updates drafts, so what the customer has seen is not changed behind their back",
             "To change it, open it in Xero, edit it there and send it to the customer again."),
    "ACCEPTED": ("has been accepted by the customer in Xero", "an accepted quote is changed in Xero itself",
                 "To change it, open it in Xero and edit it there, or copy it to a new quote."),
    "DECLINED": ("has been declined by the customer in Xero", "a declined quote is changed in Xero itself",
                 "To offer something new, open it in Xero and copy it to a new quote, or edit it there."),
    "INVOICED": ("has been turned into an invoice in Xero", "an invoiced quote is final",
                 "Change the invoice made from it in Xero instead."),
    "DELETED": ("is deleted in Xero", "a deleted quote cannot be changed", _NO_SECOND.format(kind="quote")),
}


def update_payload(command: Command, contact_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """What a creation would send, less its Status: an update never moves a document's status (had a person
    submitted it since we looked, sending DRAFT would pull it back). Never a number either: Xero keeps it.

    Example: ``{"Contact": {"ContactID": "..."}, "Date": "2026-11-27", "LineItems": [...], "Reference": "..."}``
    """
    payload = document_payload(command, contact_id, lines)
    payload.pop("Status", None)
    return payload


def untouched_reason(kind: str, number: str, status: str) -> str:
    """Why a document past DRAFT was left alone, and what to do in Xero.

    >>> untouched_reason("invoice", "INV-0007", "PAID")[:64]
    'Invoice INV-0007 is paid in Xero, so Replay left it untouched: a'
    """
    states = _INVOICE_STATES if kind == "invoice" else _QUOTE_STATES
    state, why, todo = states.get(status, (f"is {status.lower()} in Xero, no longer a draft",
                                           "Replay only updates drafts", "Change it in Xero itself."))
    return f"{kind.title()} {number} {state}, so Replay left it untouched: {why}. {todo}"


def not_updated_reason(kind: str, number: str, exp: Explanation) -> str:
    """Xero (or we, beforehand) refused the update: the draft is as it was; what is wrong and how to fix it."""
    return f"Draft {kind} {number} was not updated in Xero and is unchanged. {exp.message} {exp.fix}"


def gone_reason(kind: str, number: str) -> str:
    return (f"Draft {kind} {number} could not be found in Xero any more, so nothing was updated. "
            + _NO_SECOND.format(kind=kind))


def disconnected_reason(kind: str, number: str, why: str) -> str:
    return (f"Draft {kind} {number} was not updated: Xero is {why}. Connect Xero again in {APP_SETTINGS} under "
            "Connections, then replay the deal.")


def event_id(ledger_key: str, command_id: str, outcome: str) -> str:
    """The same id however often one command's outcome is announced (redelivery, a crash before it was noted), so
    the deal's activity, which deduplicates by id, tells it once."""
    return hashlib.sha256(f"{ledger_key}|{command_id}|{outcome}".encode()).hexdigest()[:32]

