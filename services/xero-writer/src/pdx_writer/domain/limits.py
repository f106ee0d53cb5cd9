"""Xero's limits on one document, checked before anything is sent: a draft over them is refused with what to change.

Each number says where it comes from: [spec] is Xero's OpenAPI accounting spec (xero_accounting.yaml, the field's
maxLength), [notes] the project's API notes (../shared/specs/API-NOTES.md), [limits] Xero's API limits page
(developer.xero.com/documentation/guides/oauth2/limits). Pure: no I/O.
"""

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

from pdx_common.contracts import Contact, CreateInvoice, CreateQuote, LineItem, NewItem, PostalAddress
from pdx_writer.domain.explain import APP_SETTINGS, Explanation

Command = CreateInvoice | CreateQuote

# "A single POST to the API has a size limit of 3.5MB" [limits]. Also the sandbox's limit.
MAX_REQUEST_BYTES = 3_500_000
# Neither the spec nor Xero's pages give a line count; the size limit is the real bound. 1,000 lines is our own cap,
# far beyond a deal's products, so a runaway list is stopped with a plain reason instead of a 413.
MAX_LINE_ITEMS = 1000
CONTACT_NAME = 255  # Contact.Name maxLength 255 [spec], "Name<=255" [notes]
CONTACT_PERSON_NAME = 255  # Contact.FirstName / LastName maxLength 255 [spec]
CONTACT_EMAIL = 255  # Contact.EmailAddress maxLength 255 [spec]
CONTACT_PHONE = 50  # Phone.PhoneNumber maxLength 50 [spec]
CONTACT_TAX_NUMBER = 50  # Contact.TaxNumber maxLength 50 [spec]
ADDRESS_LINE = 500  # Address.AddressLine1..4 maxLength 500 [spec]
ADDRESS_CITY = 255  # Address.City maxLength 255 [spec]
ADDRESS_REGION = 255  # Address.Region maxLength 255 [spec]
ADDRESS_POSTAL_CODE = 50  # Address.PostalCode maxLength 50 [spec]
ADDRESS_COUNTRY = 50  # Address.Country maxLength 50 [spec]
ITEM_CODE = 30  # Item.Code and LineItemItem.Code maxLength 30 [spec], "Code required (<=30)" [notes]
ITEM_NAME = 50  # Item.Name maxLength 50 [spec], "Name<=50" [notes]
ITEM_DESCRIPTION = 4000  # Item.Description maxLength 4000 [spec]
# LineItem.Description has no maxLength in the spec; Xero holds a line to its item's 4000 (Item.Description [spec]).
LINE_DESCRIPTION = 4000
TRACKING_NAME = 100  # LineItemTracking.Name maxLength 100 [spec]
# Invoice.Reference has no maxLength in the spec; 255 is Invoice.InvoiceNumber's [spec] and the mapper's own cap.
# (Xero's name, its limit, the setting's label under Field mappings in the app's settings)
INVOICE_FIELDS = {"reference": ("Reference", 255, "Invoice reference")}
QUOTE_FIELDS = {"reference": ("Reference", 4000, "Invoice reference"),  # Quote.Reference maxLength 4000 [spec]
                "title": ("Title", 100, "Quote title"),  # Quote.Title maxLength 100 [spec], "Title(100)" [notes]
                "summary": ("Summary", 3000, "Quote summary"),  # Quote.Summary maxLength 3000 [spec]
                "terms": ("Terms", 4000, "Quote terms")}  # Quote.Terms maxLength 4000 [spec]
# Xero reads amounts into .NET decimals: a larger number fails the whole request ("Value was either too large or too
# small for a Decimal").
DECIMAL_MAX = Decimal("79228162514264337593543950335")


def over_limits(command: Command) -> Explanation | None:
    """The first of Xero's limits this draft breaks, in words a salesperson can act on; None when it fits."""
    return next(_problems(command), None)


def _problems(command: Command) -> Iterator[Explanation]:
    if len(command.line_items) > MAX_LINE_ITEMS:
        yield Explanation(
            "too_many_lines", f"The deal has {len(command.line_items)} products, more than the {MAX_LINE_ITEMS} "
            "lines one Xero draft can take.", "Split the products over two or more deals, then replay the deal.")
    yield from _contact_problems(command)
    yield from _document_problems(command)
    for line in command.line_items:
        yield from _line_problems(line)
    size = estimated_bytes(command)
    if size > MAX_REQUEST_BYTES:
        yield Explanation(
            "document_too_large", f"The draft would be about {size // 1_000_000} MB, more than the 3.5 MB Xero "
            "accepts in one request.", "Shorten the product descriptions, or split the products over two deals, "
            "then replay the deal.")


def _contact_problems(command: Command) -> Iterator[Explanation]:
    for what, length, most, fix in contact_fields_too_long(command.contact):
        yield _too_long(what, length, most, fix)


def contact_fields_too_long(contact: Contact, fields: Iterable[str] | None = None
                            ) -> Iterator[tuple[str, int, int, str]]:
    """(what, its length, Xero's most, what to shorten) for each of the customer's values over Xero's limits; only
    those of ``fields`` (Xero's names: ``Addresses`` covers every part of the address) when given."""
    postal = contact.postal or PostalAddress()
    carried = None if fields is None else set(fields)
    for field, label, value, most in (
            ("Name", "name", contact.name, CONTACT_NAME),
            ("EmailAddress", "email address", contact.email, CONTACT_EMAIL),
            ("FirstName", "first name", contact.first_name, CONTACT_PERSON_NAME),
            ("LastName", "last name", contact.last_name, CONTACT_PERSON_NAME),
            ("Phones", "phone number", contact.phone, CONTACT_PHONE),
            ("Addresses", "street address", postal.line1, ADDRESS_LINE),
            ("Addresses", "address's area", postal.line2, ADDRESS_LINE),
            ("Addresses", "city", postal.city, ADDRESS_CITY), ("Addresses", "region", postal.region, ADDRESS_REGION),
            ("Addresses", "postal code", postal.postal_code, ADDRESS_POSTAL_CODE),
            ("Addresses", "country", postal.country, ADDRESS_COUNTRY),
            ("TaxNumber", "tax number", contact.tax_number, CONTACT_TAX_NUMBER)):
        if carried is not None and field not in carried:
            continue
        if value and len(value) > most:
            yield (f"The customer's {label} '{_start(value)}'", len(value), most,
                   f"Shorten the {contact.source}'s {label} in Pipedrive")


def record_over_limits(contact: Contact | None = None, item: NewItem | None = None,
                       fields: Iterable[str] | None = None) -> Explanation | None:
    """The first of Xero's limits a customer or product to sync breaks (nothing is sent for it), or None. A
    customer's ``fields``, when given, are the only ones checked (those it sends)."""
    found = list(contact_fields_too_long(contact, fields)) if contact is not None else []
    if item is not None:
        found += _item_fields_too_long(item, "product")
    if not found:
        return None
    what, length, most, fix = found[0]
    return Explanation("too_long", f"{what} is {length} characters long; Xero accepts at most {most}.",
                       f"{fix}; the change is sent to Xero when it is saved.")


def _item_fields_too_long(item: NewItem, word: str) -> Iterator[tuple[str, int, int, str]]:
    name = _start(item.name)
    for label, value, most in (("code", item.code, ITEM_CODE), ("name", item.name, ITEM_NAME),
                               ("description", item.description, ITEM_DESCRIPTION)):
        if value and len(value) > most:
            yield (f"The {word} {label} '{_start(value)}'" if label != "description"
                   else f"The description of {word} '{name}'", len(value), most,
                   f"Shorten the {word}'s {label} in Pipedrive")


def _document_problems(command: Command) -> Iterator[Explanation]:
    word, fields = ("invoice", INVOICE_FIELDS) if isinstance(command, CreateInvoice) else ("quote", QUOTE_FIELDS)
    for attribute, (xero_name, most, setting) in fields.items():
        value = getattr(command, attribute)
        if value and len(value) > most:
            yield _too_long(f"The {word}'s {xero_name} '{_start(value)}'", len(value), most,
                            f"Shorten the deal fields it uses in Pipedrive, or the template in {APP_SETTINGS} "
                            f"under Field mappings > {setting}")


def _line_problems(line: LineItem) -> Iterator[Explanation]:
    name = _start(line.description)
    if len(line.description) > LINE_DESCRIPTION:
        yield _too_long(f"The description of product '{name}'", len(line.description), LINE_DESCRIPTION,
                        "Shorten the product's description in Pipedrive")
    for code in (line.item_code, line.default_item_code):
        if code and len(code) > ITEM_CODE:
            yield _too_long(f"The product code '{_start(code)}' of '{name}'", len(code), ITEM_CODE,
                            "Shorten the product code in Pipedrive, or, when it is the Default item, choose "
                            f"another one in {APP_SETTINGS} under Customers, products & money > Default item")
    new = line.create_item
    if new is not None:
        if len(new.name) > ITEM_NAME:
            yield _too_long(f"The product name '{_start(new.name)}'", len(new.name), ITEM_NAME,
                            "Shorten the product's name in Pipedrive")
        if new.description and len(new.description) > ITEM_DESCRIPTION:
            yield _too_long(f"The description of product '{_start(new.name)}'", len(new.description),
                            ITEM_DESCRIPTION, "Shorten the product's description in Pipedrive")
    for category, _option in line.tracking[:2]:
        if len(category) > TRACKING_NAME:
            yield _too_long(f"The tracking category '{_start(category)}'", len(category), TRACKING_NAME,
                            "Shorten the category's name in Xero, or choose another category in "
                            f"{APP_SETTINGS} under Field mappings > Tracking")
    yield from _number_problems(line, name)


def _number_problems(line: LineItem, name: str) -> Iterator[Explanation]:
    for label, value in (("quantity", line.quantity), ("unit price", line.unit_amount),
                         ("discount", line.discount_rate), ("discount", line.discount_amount)):
        if value is not None and (not value.is_finite() or abs(value) > DECIMAL_MAX):
            yield Explanation("bad_number", f"The {label} of product '{name}' is {value}, which is not a number "
                              "Xero can store.", "Correct the product's quantity, price or discount on the deal in "
                              "Pipedrive, then replay the deal.")


def estimated_bytes(command: Command) -> int:
    """An upper bound of the draft's size in a request: its text as JSON plus room for what Xero ids add."""
    texts = [command.reference, command.deal_url, command.contact.name]
    if isinstance(command, CreateQuote):
        texts += [command.title, command.summary, command.terms]
    texts += [text for line in command.line_items for text in (line.description, line.item_code,
                                                                 line.default_item_code, line.account_code)]
    return sum(len(json.dumps(text)) for text in texts if text) + 200 * len(command.line_items) + 1000


def _too_long(what: str, length: int, most: int, fix: str) -> Explanation:
    return Explanation("too_long", f"{what} is {length} characters long; Xero accepts at most {most}.",
                       f"{fix}, then replay the deal.")


def _start(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
