"""Xero payloads from commands, and Xero's answers in plain words. Pure."""

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pdx_common.contracts import Contact, CreateInvoice, CreateQuote, LineItem
from pdx_writer.domain.sync import contact_values

QUOTE_AMOUNT_TYPES = {"Exclusive": "EXCLUSIVE", "Inclusive": "INCLUSIVE", "NoTax": "NOTAX"}
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def draft_marker(ledger_key: str) -> str:
    return hashlib.sha256(ledger_key.encode()).hexdigest()[:16]


def document_url(command: CreateInvoice | CreateQuote) -> str:
    """The deal link shown in Xero, tagged so a draft can be found again after an unclear outcome."""
    joiner = "&" if "?" in command.deal_url else "?"
    return f"{command.deal_url}{joiner}xero-draft={draft_marker(command.ledger_key)}"


def is_our_invoice(found: dict[str, Any], command: CreateInvoice) -> bool:
    """Tagged with this ledger key; the deal link before the tag may have changed since (a new Pipedrive host)."""
    return f"xero-draft={draft_marker(command.ledger_key)}" in str(found.get("Url") or "")


def may_be_our_quote(found: dict[str, Any], command: CreateQuote) -> bool:
    """Quotes have no Url to tag, so: the same Reference (Xero may answer "" for none) and the same Date."""
    return ((found.get("Reference") or "") == (command.reference or "")
            and xero_day(found.get("DateString") or found.get("Date")) == command.date.isoformat())


def xero_day(value: object) -> str | None:
    """YYYY-MM-DD of Xero's "2026-03-01T00:00:00" or "/Date(1772323200000+0000)/"."""
    text = str(value or "")
    match = _MS_DATE.match(text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC).date().isoformat()
    return text[:10] if re.match(r"\d{4}-\d{2}-\d{2}", text) else None


def contact_payload(contact: Contact, number: str | None = None) -> dict[str, Any]:
    """A new Xero contact: every mapped field Pipedrive has (structured street address, phone, tax number, ...) and
    ``number`` as its ContactNumber (the company-qualified ``pd7001-org-12``; the bare one when none is given).

    Example: ``{"Name": "Acme Ltd", "ContactNumber": "pd7001-org-12", "Addresses": [{"AddressType": "STREET",
    "AddressLine1": "4 Wharf Road", "City": "Nelson", "PostalCode": "7010", "Country": "New Zealand"}]}``
    """
    values = contact_values(contact)
    values.pop("Name", None)
    return {"Name": contact.name, "ContactNumber": (number or contact.contact_number)[:50], **values}


def line_payload(line: LineItem, item_code: str | None, tax_type: str | None) -> dict[str, Any]:
    # Decimals stay Decimals: the client writes them as exact JSON numbers, as the spec types them.
    payload: dict[str, Any] = {"Description": line.description, "Quantity": line.quantity,
                               "UnitAmount": line.unit_amount}
    if item_code:
        payload["ItemCode"] = item_code
    if line.account_code:
        payload["AccountCode"] = line.account_code
    if tax_type:
        payload["TaxType"] = tax_type
    if line.discount_rate is not None:
        payload["DiscountRate"] = line.discount_rate
    if line.discount_amount is not None:
        payload["DiscountAmount"] = line.discount_amount
    if line.tracking:
        payload["Tracking"] = [{"Name": name, "Option": option} for name, option in line.tracking[:2]]
    return payload


def document_payload(command: CreateInvoice | CreateQuote, contact_id: str, lines: list[dict[str, Any]]) -> dict:
    base: dict[str, Any] = {"Contact": {"ContactID": contact_id}, "Date": command.date.isoformat(),
                            "LineItems": lines, "CurrencyCode": command.currency_code, "Status": "DRAFT"}
    if command.reference:
        base["Reference"] = command.reference
    if command.branding_theme_id:
        base["BrandingThemeID"] = command.branding_theme_id  # both Invoice and Quote take it (Xero's spec)
    if isinstance(command, CreateQuote):
        base["LineAmountTypes"] = QUOTE_AMOUNT_TYPES[command.line_amount_types]
        for field, value in (("ExpiryDate", command.expiry_date), ("Title", command.title),
                             ("Summary", command.summary), ("Terms", command.terms)):
            if value:
                base[field] = value.isoformat() if hasattr(value, "isoformat") else value
        return base
    base.update(Type="ACCREC", LineAmountTypes=command.line_amount_types, Url=document_url(command))
    if command.due_date:
        base["DueDate"] = command.due_date.isoformat()
    return base


def total_warning(command: CreateInvoice | CreateQuote, total: Decimal) -> str | None:
    if command.deal_value is None or command.deal_value == total:
        return None
    return (f"Xero's total {total} {command.currency_code} differs from the deal value {command.deal_value} "
            f"(tax, discounts or rounding): check the draft before approving it.")
