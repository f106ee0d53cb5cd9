"""Invoices and quotes: header validation, status rules, and the approve/pay/void actions a user takes in Xero."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from .formats import day_string, iso_seconds, ms_date, ms_date_of_day, parse_day, to_decimal
from .lines import LineContext, build_lines, totals
from .tenant import Tenant, new_id

ZERO_ID = "00000000-0000-0000-0000-000000000000"
INVOICE_CREATE = {"DRAFT", "SUBMITTED", "AUTHORISED"}
QUOTE_STATUSES = {"DRAFT", "SENT", "DECLINED", "ACCEPTED", "INVOICED", "DELETED"}
_INVOICE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
_INVOICE_MOVES = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
}
_QUOTE_LENGTHS = {"Title": 100, "Summary": 3000, "Terms": 4000, "Reference": 4000}  # maxLength in the spec's Quote
_READ_ONLY = {"SubTotal", "TotalTax", "Total", "TotalDiscount", "AmountDue", "AmountPaid", "AmountCredited",
              "UpdatedDateUTC", "UpdatedDateUTCString", "HasErrors", "ValidationErrors", "StatusAttributeString",
              "Payments", "IsDiscounted", "DateString", "DueDateString", "ExpiryDateString", "Warnings"}


@dataclass
class Built:
    """One element of a write, checked; errors empty means it may be stored."""

    doc: dict
    errors: list[str] = field(default_factory=list)
    new_contact: dict | None = None
    created: bool = True


def stamp(now: float) -> str:
    return ms_date(now)


def build(kind: str, tenant: Tenant, raw: dict, existing: dict | None, now: float, unitdp: int = 2) -> Built:
    """Check one invoice or quote from a PUT/POST body, merged over the stored one for an update."""
    merged = {**(existing or {}), **{k: v for k, v in raw.items() if k not in _READ_ONLY}}
    errors: list[str] = []
    contact, new_contact = resolve_contact(tenant, raw.get("Contact"), existing, errors, now)
    if kind == "quote" and existing is not None:
        errors += _quote_update_needs(raw)
    status = _status(kind, merged, existing, errors)
    doc_type = _doc_type(kind, merged, errors)
    amount_types = _amount_types(merged.get("LineAmountTypes"), errors)
    currency = str(merged.get("CurrencyCode") or tenant.base_currency).upper()
    if currency not in tenant.currency_codes():
        errors.append(f"Organisation is not subscribed to currency {currency}")
    approved = kind == "invoice" and status in ("SUBMITTED", "AUTHORISED")
    ctx = LineContext(tenant, doc_type, amount_types, approved, 4 if unitdp == 4 else 2)
    lines, line_errors = build_lines(ctx, merged.get("LineItems"))
    errors += line_errors
    doc = {k: v for k, v in merged.items() if k not in ("LineItems", "Contact")}
    doc.update(Contact=contact, LineItems=[b.line for b in lines], Status=status, CurrencyCode=currency,
               LineAmountTypes=amount_types.upper() if kind == "quote" else amount_types,
               UpdatedDateUTC=stamp(now), **totals(lines, amount_types))
    foreign = currency != tenant.base_currency
    doc["CurrencyRate"] = float(to_decimal(merged.get("CurrencyRate")) or 1) if foreign else 1.0
    _branding_theme(tenant, merged, errors)
    _dates(kind, doc, merged, now, approved, errors)
    _numbers(kind, tenant, doc, existing, errors)
    if kind == "invoice":
        _invoice_fields(doc, doc_type, existing)
    else:
        errors += [f"{name} must not be more than {most} characters long." for name, most in _QUOTE_LENGTHS.items()
                   if len(str(doc.get(name) or "")) > most]
    return Built(doc, errors, new_contact, existing is None)


def resolve_contact(tenant: Tenant, raw: object, existing: dict | None, errors: list[str],
                    now: float) -> tuple[dict | None, dict | None]:
    """Contact by ContactID, ContactNumber or Name; an unknown Name creates a contact, as Xero does."""
    if raw is None and existing is not None:
        return existing.get("Contact"), None
    if not isinstance(raw, dict) or not any(raw.get(k) for k in ("ContactID", "ContactNumber", "Name")):
        errors.append("A Contact must be specified for this type of transaction")
        return None, None
    found = _find_contact(tenant, raw)
    if found is not None:
        return contact_summary(found), None
    if raw.get("ContactID"):
        errors.append(f"The contact with ContactID '{raw['ContactID']}' could not be found.")
        return {"ContactID": raw["ContactID"]}, None
    if not raw.get("Name"):
        errors.append(f"The contact with ContactNumber '{raw['ContactNumber']}' could not be found.")
        return {"ContactNumber": raw["ContactNumber"]}, None
    contact = new_contact(raw, now)
    return contact_summary(contact), contact


def _find_contact(tenant: Tenant, raw: dict) -> dict | None:
    if raw.get("ContactID"):
        return tenant.contacts.get(str(raw["ContactID"]))
    if raw.get("ContactNumber"):
        by_number = tenant.contact_by_number(str(raw["ContactNumber"]))
        if by_number is not None or not raw.get("Name"):
            return by_number
    return tenant.active_contact_by_name(str(raw["Name"]))


def new_contact(raw: dict, now: float) -> dict:
    base = {k: v for k, v in raw.items() if k not in ("ValidationErrors", "HasValidationErrors")}
    return {
        "ContactID": new_id(), "ContactStatus": "ACTIVE", **base,
        "Name": str(raw.get("Name", "")).strip(), "UpdatedDateUTC": stamp(now),
        "Addresses": raw.get("Addresses", []), "Phones": raw.get("Phones", []), "ContactGroups": [],
        "IsSupplier": bool(raw.get("IsSupplier", False)), "IsCustomer": bool(raw.get("IsCustomer", False)),
        "ContactPersons": raw.get("ContactPersons", []), "HasAttachments": False, "HasValidationErrors": False,
    }


def contact_summary(contact: dict) -> dict:
    keys = ("ContactID", "ContactNumber", "ContactStatus", "Name", "FirstName", "LastName", "EmailAddress")
    out = {k: contact[k] for k in keys if k in contact}
    return {**out, "Addresses": contact.get("Addresses", []), "Phones": contact.get("Phones", []),
            "ContactGroups": [], "ContactPersons": [], "HasValidationErrors": False}


def _quote_update_needs(raw: dict) -> list[str]:
    """An update of a quote names its Contact and Date again (updateQuote's example sends both, and Xero refuses an
    update without them). A body that only moves the status (``{"Status": "ACCEPTED"}``) is let through: the
    sandbox's shortcut for tests that play the customer; ``/_sandbox/quotes/<id>/<action>`` is the other way."""
    if set(raw) <= {"QuoteID", "QuoteNumber", "Status"}:
        return []
    needs = [] if raw.get("Contact") else ["A Contact must be specified for this type of transaction"]
    return needs + ([] if raw.get("Date") else ["Date cannot be empty."])


def _status(kind: str, merged: dict, existing: dict | None, errors: list[str]) -> str:
    status = str(merged.get("Status") or "DRAFT").upper()
    if kind == "quote":
        if status not in QUOTE_STATUSES or (existing is None and status == "DELETED"):
            errors.append("Quote not of valid status for creation" if existing is None else
                          f"Quote status {status} is not valid.")
        return status
    if existing is None:
        if status not in INVOICE_CREATE:
            errors.append("Invoice not of valid status for creation")
        return status
    before = existing["Status"]
    if before == "PAID" or (before == "AUTHORISED" and existing.get("AmountPaid")):
        errors.append("This document cannot be edited as it has a payment or credit note allocated to it.")
    elif status not in _INVOICE_MOVES.get(before, set()):
        errors.append("Invoice not of valid status for modification")
    return status


def _doc_type(kind: str, merged: dict, errors: list[str]) -> str:
    if kind == "quote":
        return "QUOTE"
    doc_type = str(merged.get("Type") or "")
    if doc_type not in ("ACCREC", "ACCPAY"):
        errors.append("Invoice Type must be specified" if not doc_type else f"Invoice Type {doc_type} is not valid.")
        return "ACCREC"
    return doc_type


def _amount_types(value: object, errors: list[str]) -> str:
    """Exclusive, Inclusive or NoTax, whatever the case sent (quotes spell them EXCLUSIVE/INCLUSIVE/NOTAX)."""
    canonical = _INVOICE_AMOUNT_TYPES.get(str(value or "Exclusive").casefold())
    if canonical is None:
        errors.append(f"LineAmountTypes '{value}' is not valid.")
        return "Exclusive"
    return canonical


def _branding_theme(tenant: Tenant, merged: dict, errors: list[str]) -> None:
    """An invoice or quote may name one of the organisation's branding themes; an unknown one fails the element."""
    theme_id = merged.get("BrandingThemeID")
    if theme_id and tenant.branding_theme(str(theme_id)) is None:
        errors.append(f"The branding theme with BrandingThemeID '{theme_id}' could not be found.")


def _dates(kind: str, doc: dict, merged: dict, now: float, approved: bool, errors: list[str]) -> None:
    second = "DueDate" if kind == "invoice" else "ExpiryDate"
    raw_date = merged.get("Date")
    if kind == "quote" and not raw_date:
        errors.append("Date cannot be empty.")
    day = parse_day(raw_date) if raw_date else datetime.fromtimestamp(now, UTC).date()
    if day is None:
        errors.append(f"Date '{raw_date}' is not a valid date.")
    else:
        doc["Date"], doc["DateString"] = ms_date_of_day(day), day_string(day)
    raw_second = merged.get(second)
    other = parse_day(raw_second) if raw_second else None
    if raw_second and other is None:
        errors.append(f"{second} '{raw_second}' is not a valid date.")
    if other is not None:
        doc[second], doc[f"{second}String"] = ms_date_of_day(other), day_string(other)
    elif approved:
        errors.append("Due Date is required for an approved invoice.")


def _numbers(kind: str, tenant: Tenant, doc: dict, existing: dict | None, errors: list[str]) -> None:
    id_field, number_field = ("InvoiceID", "InvoiceNumber") if kind == "invoice" else ("QuoteID", "QuoteNumber")
    doc[id_field] = existing[id_field] if existing else ZERO_ID
    number = doc.get(number_field)
    if not number:
        return
    clash = tenant.find_document(kind, str(number))
    if clash is not None and clash[id_field] != doc[id_field]:
        errors.append("Invoice # must be unique." if kind == "invoice" else "Quote # must be unique.")


def _invoice_fields(doc: dict, doc_type: str, existing: dict | None) -> None:
    paid = Decimal(str((existing or {}).get("AmountPaid", 0)))
    total = Decimal(str(doc["Total"]))
    doc["Type"] = doc_type
    doc["AmountPaid"] = float(paid)
    doc["AmountCredited"] = 0.0
    doc["AmountDue"] = 0.0 if doc["Status"] in ("VOIDED", "DELETED") else float(total - paid)
    doc["UpdatedDateUTCString"] = iso_seconds(_ms(doc["UpdatedDateUTC"]))
    for key, default in (("Payments", []), ("CreditNotes", []), ("Prepayments", []), ("Overpayments", []),
                         ("SentToContact", False), ("HasAttachments", False), ("HasErrors", False)):
        doc.setdefault(key, default)


def _ms(value: str) -> float:
    return int(value[6:value.index("+")]) / 1000


def commit(kind: str, tenant: Tenant, built: Built, client_id: str) -> dict:
    """Store a checked document: give it an id and a number, and record which app created it."""
    doc = dict(built.doc)
    id_field, number_field = ("InvoiceID", "InvoiceNumber") if kind == "invoice" else ("QuoteID", "QuoteNumber")
    if built.created:
        doc[id_field] = new_id()
        doc["_client_id"] = client_id
    if not doc.get(number_field) and (kind == "quote" or doc.get("Type") == "ACCREC"):
        doc[number_field] = tenant.next_number(kind)
    if built.new_contact is not None:
        tenant.contacts[built.new_contact["ContactID"]] = built.new_contact
    (tenant.invoices if kind == "invoice" else tenant.quotes)[doc[id_field]] = doc
    return doc


def render(doc: dict, unitdp: int = 2, summary_only: bool = False) -> dict:
    """A stored document as the API shows it: private keys dropped, unit prices at 2 dp unless unitdp=4."""
    out = {k: v for k, v in doc.items() if not k.startswith("_")}
    if summary_only:
        out.pop("LineItems", None)
        return out
    places = 4 if unitdp == 4 else 2
    out["LineItems"] = [_round_unit(line, places) for line in out.get("LineItems", [])]
    return out


def _round_unit(line: dict, places: int) -> dict:
    if line.get("UnitAmount") is None:
        return line
    return {**line, "UnitAmount": round(float(line["UnitAmount"]), places)}


def approve(doc: dict, now: float) -> tuple[list[str], dict]:
    if doc["Status"] not in ("DRAFT", "SUBMITTED"):
        return ["Invoice not of valid status for modification"], doc
    missing = [line for line in doc.get("LineItems", []) if not line.get("AccountCode")]
    if not doc.get("DueDate") or missing:
        return ["An approved invoice needs a DueDate and an AccountCode on every line."], doc
    return [], {**doc, "Status": "AUTHORISED", "UpdatedDateUTC": stamp(now)}


def submit(doc: dict, now: float) -> tuple[list[str], dict]:
    """A user submits a draft invoice for approval."""
    if doc["Status"] != "DRAFT":
        return ["Invoice not of valid status for modification"], doc
    return [], {**doc, "Status": "SUBMITTED", "UpdatedDateUTC": stamp(now)}


# What a user does to a quote in Xero: the status it moves to, and the statuses it may move from.
QUOTE_ACTIONS = {"send": ("SENT", {"DRAFT"}), "accept": ("ACCEPTED", {"SENT"}), "decline": ("DECLINED", {"SENT"}),
                 "invoice": ("INVOICED", {"ACCEPTED"}), "delete": ("DELETED", {"DRAFT", "SENT", "DECLINED"}),
                 "draft": ("DRAFT", {"SENT", "ACCEPTED", "DECLINED"})}


def quote_action(doc: dict, action: str, now: float) -> tuple[list[str], dict]:
    status, allowed = QUOTE_ACTIONS[action]
    if doc["Status"] not in allowed:
        return [f"A {doc['Status'].lower()} quote cannot be moved to {status}."], doc
    return [], {**doc, "Status": status, "UpdatedDateUTC": stamp(now)}


def pay(doc: dict, amount: float | None, now: float) -> tuple[list[str], dict]:
    if doc["Status"] != "AUTHORISED":
        return ["Payment can only be made against an approved invoice."], doc
    due = Decimal(str(doc["AmountDue"]))
    paid = Decimal(str(amount)) if amount is not None else due
    if paid <= 0 or paid > due:
        return ["Payment amount must be more than zero and no more than the amount due."], doc
    payment = {"PaymentID": new_id(), "Date": stamp(now), "Amount": float(paid), "CurrencyRate": 1.0,
               "HasAccount": False, "HasValidationErrors": False}
    out = {**doc, "Payments": [*doc.get("Payments", []), payment], "UpdatedDateUTC": stamp(now),
           "AmountPaid": float(Decimal(str(doc["AmountPaid"])) + paid), "AmountDue": float(due - paid)}
    if due == paid:
        out.update(Status="PAID", FullyPaidOnDate=stamp(now))
    return [], out


def void(doc: dict, now: float) -> tuple[list[str], dict]:
    if doc["Status"] != "AUTHORISED" or doc.get("AmountPaid"):
        return ["Invoice not of valid status for modification"], doc
    return [], {**doc, "Status": "VOIDED", "AmountDue": 0.0, "UpdatedDateUTC": stamp(now)}
