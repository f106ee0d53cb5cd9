"""A Pipedrive organisation, person or product, as read, into the Xero contact or item it stands for. Pure.

One mapping for both uses: a draft's customer (``mapping.build_command``) and the master-data sync (``ContactSync`` /
``ItemSync`` in ``SyncRecords``), so a contact looks the same in Xero whichever wrote it last.

Addresses are structured from Pipedrive's address components (v2 ``address`` of an organisation, ``postal_address``
of a person)::

    {"value": "Apt 1, 123 Main St, Sunnyvale, CA 94085, USA", "street_number": "123", "route": "Main St",
     "subpremise": "Apt 1", "sublocality": "Downtown", "locality": "Sunnyvale", "admin_area_level_1": "CA",
     "postal_code": "94085", "country": "USA"}
    -> PostalAddress(line1="123 Main St, Apt 1", line2="Downtown", city="Sunnyvale", region="CA",
                     postal_code="94085", country="USA")

An address typed without components (only ``value``) is ``line1`` alone.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import Contact, ContactField, ContactSync, ItemSync, NewItem, PostalAddress
from pdx_mapper.domain.templates import as_text, field_value

Entity = Literal["person", "organization", "product"]
CONTACT_ENTITIES = ("person", "organization")
ORG_FIELDS: tuple[ContactField, ...] = ("Name", "Addresses")
PERSON_FIELDS: tuple[ContactField, ...] = ("Name", "FirstName", "LastName", "EmailAddress", "Phones", "Addresses")
NAME_LIMIT = 255  # a longer name is cut, as drafts always did
ITEM_CODE_LIMIT, ITEM_NAME_LIMIT, ITEM_DESCRIPTION_LIMIT = 30, 50, 4000


@dataclass(frozen=True)
class Limit:
    """A contact value Xero holds at most ``limit`` characters of, named as a person sees it in Pipedrive."""

    words: str  # "postal code", as in "the postal code of Kiwi Widgets Ltd"
    limit: int


LIMITS = {"first_name": Limit("first name", 255), "last_name": Limit("last name", 255),
          "email": Limit("email address", 255), "phone": Limit("phone number", 50),
          "tax_number": Limit("tax number", 50)}
ADDRESS_LIMITS = {"line1": Limit("street address", 500), "line2": Limit("address's area", 500),
                  "city": Limit("city", 255), "region": Limit("region (state)", 255),
                  "postal_code": Limit("postal code", 50), "country": Limit("country", 50)}


@dataclass(frozen=True)
class TooLong:
    """One value of a contact longer than Xero accepts."""

    words: str
    length: int
    limit: int


def too_long(contact: Contact) -> list[TooLong]:
    """Every value of ``contact`` over Xero's limit (the name is cut to 255, never refused)."""
    found = [TooLong(limit.words, len(value), limit.limit) for name, limit in LIMITS.items()
             if len(value := getattr(contact, name) or "") > limit.limit]
    if contact.postal is not None:
        found += [TooLong(limit.words, len(value), limit.limit) for name, limit in ADDRESS_LIMITS.items()
                  if len(value := getattr(contact.postal, name) or "") > limit.limit]
    return found


# --- contacts -----------------------------------------------------------------------------------------------------

def name_of(record: dict[str, Any]) -> str:
    """The record's name, trimmed and cut to Xero's 255; empty when it has none."""
    return str(record.get("name") or "").strip()[:NAME_LIMIT]


def primary(person: dict[str, Any] | None, key: str) -> str | None:
    """A person's primary email or phone (``key`` "emails" or "phones"), else their first."""
    values = [v for v in (person or {}).get(key) or [] if isinstance(v, dict)]
    chosen = next((v for v in values if v.get("primary")), values[0] if values else None)
    return str((chosen or {}).get("value") or "").strip() or None


def one_line(address: Any) -> str | None:
    """The address as one line of text (older commands' ``Contact.address``)."""
    if isinstance(address, dict):
        return address.get("value") or address.get("formatted_address") or None
    return address or None


_COMPONENTS = ("street_number", "route", "subpremise", "sublocality", "locality", "admin_area_level_1",
               "postal_code", "country")


def postal_address(address: Any) -> PostalAddress | None:
    """Pipedrive's address object as Xero's structured address; None when there is no address."""
    if isinstance(address, str):
        address = {"value": address}
    if not isinstance(address, dict):
        return None
    part = {name: _clean(address.get(name)) for name in _COMPONENTS}
    street = " ".join(p for p in (part["street_number"], part["route"]) if p)
    line1 = ", ".join(p for p in (street, part["subpremise"]) if p) or None
    if line1 is None and not any(part.values()):
        line1 = _clean(address.get("value") or address.get("formatted_address"))
    postal = PostalAddress(line1=line1, line2=part["sublocality"], city=part["locality"],
                           region=part["admin_area_level_1"], postal_code=part["postal_code"],
                           country=part["country"])
    return postal if any(postal.model_dump().values()) else None


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value).strip() or None


def tax_number(record: dict[str, Any] | None, fields: list[dict[str, Any]] | None,
               settings: CompanySettings) -> str | None:
    """The value of the company's chosen tax number field (``customer.tax_number_field``, by name or key) on the
    record; None when no field is chosen or the record has no value."""
    chosen = settings.customer.tax_number_field
    if not chosen or not record:
        return None
    return as_text(field_value(record, fields, chosen)).strip() or None


def org_contact(org: dict[str, Any], *, tax: str | None = None, person: dict[str, Any] | None = None) -> Contact:
    """An organisation as a Xero contact. ``person``: its contact person (a deal's), whose primary email and phone
    the contact carries (``person_id`` tells the writer whose they are)."""
    return Contact(name=name_of(org), contact_number=f"pd-org-{org['id']}", source="organization",
                   source_id=str(org["id"]), email=primary(person, "emails"), phone=primary(person, "phones"),
                   address=one_line(org.get("address")), postal=postal_address(org.get("address")), tax_number=tax,
                   person_id=str(person["id"]) if person and person.get("id") is not None else None)


def person_contact(person: dict[str, Any], *, tax: str | None = None) -> Contact:
    """A person as a Xero contact: first and last name as Pipedrive has them, else split from the full name."""
    first, _, last = str(person.get("name") or "").strip().partition(" ")
    return Contact(name=name_of(person), contact_number=f"pd-person-{person['id']}", source="person",
                   source_id=str(person["id"]), email=primary(person, "emails"), phone=primary(person, "phones"),
                   first_name=_clean(person.get("first_name")) or first or None,
                   last_name=_clean(person.get("last_name")) or last or None,
                   address=one_line(person.get("postal_address")), postal=postal_address(person.get("postal_address")),
                   tax_number=tax)


def contact_sync(entity: Literal["person", "organization"], record: dict[str, Any],
                 fields: list[dict[str, Any]] | None, settings: CompanySettings) -> ContactSync | None:
    """What the Xero contact of ``record`` should now look like; None for a record without a name (it cannot be a
    contact). TaxNumber is among the fields only when the company chose a tax number field, so a tax number typed
    in Xero is never cleared by a company that does not keep one in Pipedrive."""
    if not name_of(record):
        return None
    tax = tax_number(record, fields, settings)
    if entity == "organization":
        contact, synced = org_contact(record, tax=tax), ORG_FIELDS
    else:
        contact, synced = person_contact(record, tax=tax), PERSON_FIELDS
    if settings.customer.tax_number_field:
        synced = (*synced, "TaxNumber")
    return ContactSync(contact=contact, fields=synced, create=settings.sync.create_on_add)


# --- items --------------------------------------------------------------------------------------------------------

def item_code(product: dict[str, Any]) -> str | None:
    """The product's code as its Xero item's Code (cut to 30, as drafts name it); None without one."""
    code = str(product.get("code") or "").strip()
    return code[:ITEM_CODE_LIMIT] or None


def tax_type_for(rate: Any, settings: CompanySettings) -> str | None:
    """The Xero tax type the company maps a Pipedrive tax percentage to (``money.tax_types``); None: unmapped."""
    wanted = _decimal(rate)
    if wanted is None:
        return None
    return next((tax_type for key, tax_type in settings.money.tax_types.items() if _decimal(key) == wanted), None)


def product_account(settings: CompanySettings, product_id: Any) -> str:
    """The product's revenue account: its own (``money.account_by_product``), else the default sales account."""
    return settings.money.account_by_product.get(str(product_id), settings.money.sales_account_code)


def item_text(product: dict[str, Any], name: str | None = None) -> dict[str, str | None]:
    """The Code, Name and Description of the product's Xero item (``name``: the deal product's, when drafting)."""
    code = item_code(product)
    name = (str(name or "").strip() or name_of(product))[:ITEM_NAME_LIMIT] or code
    description = str(product.get("description") or "").strip()[:ITEM_DESCRIPTION_LIMIT] or None
    return {"code": code, "name": name, "description": description}


def item_sync(product: dict[str, Any], settings: CompanySettings) -> ItemSync | None:
    """What the Xero item of ``product`` should now look like; None for a product without a code (it cannot be an
    item). The price is the product's price per currency (the writer picks the organisation's base currency)."""
    if item_code(product) is None:
        return None
    item = NewItem(**item_text(product), account_code=product_account(settings, product.get("id")),
                   tax_type=tax_type_for(product.get("tax"), settings))
    return ItemSync(item=item, prices=prices(product), create=settings.sync.create_on_add,
                    product_id=str(product["id"]) if product.get("id") is not None else None)


def prices(product: dict[str, Any]) -> dict[str, Decimal]:
    """The product's unit price per currency (v2 ``prices: [{"currency": "NZD", "price": 180}, ...]``)."""
    found: dict[str, Decimal] = {}
    for entry in product.get("prices") or []:
        if not isinstance(entry, dict):
            continue
        currency, price = str(entry.get("currency") or "").strip().upper(), _decimal(entry.get("price"))
        if len(currency) == 3 and currency.isalpha() and price is not None and price >= 0:
            found[currency] = price
    return found


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
