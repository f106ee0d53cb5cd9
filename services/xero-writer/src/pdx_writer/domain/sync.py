"""Master-data sync, the pure part: the Xero fields a Pipedrive customer or product maps to, what differs from what
was last written (``xero_links.synced``), the update Xero is sent, and an outcome in plain words. No I/O.

Values are kept as they are stored in ``synced`` (strings, lists of dicts; a price as its decimal text), so a
comparison with what was written before needs no conversion. A value that is empty in Pipedrive is left out: the
app never erases what someone typed in Xero.

Example: an organisation whose city changed::

    >>> wanted = {"Name": "Acme Ltd", "Addresses": [{"AddressType": "STREET", "City": "Nelson"}]}
    >>> changed(wanted, {"Name": "Acme Ltd", "Addresses": [{"AddressType": "STREET", "City": "Richmond"}]})
    {'Addresses': [{'AddressType': 'STREET', 'City': 'Nelson'}]}
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pdx_common.contracts import Contact, ContactField, ItemSync, NewItem

CONTACT_FIELDS: tuple[ContactField, ...] = ("Name", "FirstName", "LastName", "EmailAddress", "Phones", "Addresses",
                                            "TaxNumber")
PERSON_FIELDS: tuple[ContactField, ...] = ("EmailAddress", "Phones")  # what an org's contact person gives the org
SALES = ("UnitPrice", "AccountCode", "TaxType")  # an item's SalesDetails
ITEM_FIELDS = ("Name", "Description", *SALES)
_WORDS = {"Name": "name", "FirstName": "first name", "LastName": "last name", "EmailAddress": "email address",
          "Phones": "phone", "Addresses": "address", "TaxNumber": "tax number", "Description": "description",
          "UnitPrice": "price", "AccountCode": "sales account", "TaxType": "tax rate", "Code": "code"}
_ADDRESS_PARTS = ("AddressLine1", "AddressLine2", "City", "Region", "PostalCode", "Country")


def addresses(contact: Contact) -> list[dict[str, str]] | None:
    """The contact's street address as Xero's Address: structured from ``postal``, else the one-line address of
    older commands (cut at Xero's 500, as before)."""
    postal = contact.postal
    if postal is not None:
        parts = {"AddressLine1": postal.line1, "AddressLine2": postal.line2, "City": postal.city,
                 "Region": postal.region, "PostalCode": postal.postal_code, "Country": postal.country}
        present = {key: value for key, value in parts.items() if value}
        if present:
            return [{"AddressType": "STREET", **present}]
    if contact.address:
        return [{"AddressType": "STREET", "AddressLine1": contact.address[:500]}]
    return None


def contact_values(contact: Contact, fields: Iterable[str] = CONTACT_FIELDS) -> dict[str, Any]:
    """The Xero values of ``fields`` that Pipedrive has for this customer (empty ones left out)."""
    values: dict[str, Any] = {
        "Name": contact.name, "FirstName": contact.first_name, "LastName": contact.last_name,
        "EmailAddress": contact.email, "TaxNumber": contact.tax_number, "Addresses": addresses(contact),
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": contact.phone}] if contact.phone else None}
    return {field: values[field] for field in fields if values.get(field)}


def contact_as_synced(contact: dict[str, Any]) -> dict[str, Any]:
    """What a contact found in Xero already has, in the form ``synced`` keeps (so the first sync after linking it
    sends only what really differs, not every mapped field).

    >>> contact_as_synced({"Name": "Acme", "EmailAddress": "", "Phones": [{"PhoneType": "DEFAULT",
    ...     "PhoneNumber": "555 0101", "PhoneAreaCode": ""}], "Addresses": [{"AddressType": "POBOX", "City": "X"}]})
    {'Name': 'Acme', 'Phones': [{'PhoneType': 'DEFAULT', 'PhoneNumber': '555 0101'}]}
    """
    values: dict[str, Any] = {name: contact.get(name) for name in ("Name", "FirstName", "LastName", "EmailAddress",
                                                                   "TaxNumber")}
    street = next((a for a in contact.get("Addresses") or [] if a.get("AddressType") == "STREET"), None)
    if street is not None:
        parts = {part: street[part] for part in _ADDRESS_PARTS if street.get(part)}
        values["Addresses"] = [{"AddressType": "STREET", **parts}] if parts else None
    phone = next((p for p in contact.get("Phones") or [] if p.get("PhoneType") == "DEFAULT"), None)
    if phone is not None and phone.get("PhoneNumber"):
        # Only the number is written; an area or country code Xero keeps beside it makes the number differ.
        extra = [phone.get("PhoneCountryCode"), phone.get("PhoneAreaCode")]
        number = " ".join([*(part for part in extra if part), phone["PhoneNumber"]])
        values["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": number}]
    return {name: values[name] for name in CONTACT_FIELDS if values.get(name)}


def amount(value: Decimal) -> str:
    """A price as it is stored: ``Decimal("27.50")`` and ``Decimal("27.5")`` are both ``"27.5"``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def item_values(sync: ItemSync, base_currency: str | None) -> dict[str, Any]:
    """The Xero values of a product: name, description, sales account and tax type, and its price in the
    organisation's base currency (none: the price is left as Xero has it)."""
    price = sync.prices.get(base_currency) if base_currency else None
    return _item(sync.item, price)


def new_item_values(new: NewItem) -> dict[str, Any]:
    """What a draft's ``create_item`` rule sends when it creates the item (so the first sync finds it unchanged)."""
    return _item(new, new.unit_price)


def _item(item: NewItem, price: Decimal | None) -> dict[str, Any]:
    values = {"Name": item.name, "Description": (item.description or "")[:4000], "AccountCode": item.account_code,
              "TaxType": item.tax_type, "UnitPrice": amount(price) if price is not None else None}
    return {field: values[field] for field in ITEM_FIELDS if values.get(field)}


def item_as_synced(item: dict[str, Any]) -> dict[str, Any]:
    """What an item found in Xero already has, in the form ``synced`` keeps (so a first sync sends only what
    differs)."""
    sales = item.get("SalesDetails") or {}
    values: dict[str, Any] = {"Name": item.get("Name"), "Description": item.get("Description"),
                              "AccountCode": sales.get("AccountCode"), "TaxType": sales.get("TaxType")}
    if sales.get("UnitPrice") is not None:
        values["UnitPrice"] = amount(Decimal(str(sales["UnitPrice"])))
    return {name: values[name] for name in ITEM_FIELDS if values.get(name)}


def changed(wanted: dict[str, Any], synced: dict[str, Any] | None) -> dict[str, Any]:
    """The fields whose value differs from the one last written."""
    synced = synced or {}
    return {field: value for field, value in wanted.items() if synced.get(field) != value}


def contact_update(contact_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """One element of ``POST /Contacts``: the contact by its id and only the fields that changed."""
    return {"ContactID": contact_id, **changes}


def item_payload(code: str, values: dict[str, Any], changes: dict[str, Any] | None = None,
                 item_id: str | None = None) -> dict[str, Any]:
    """An element of ``PUT /Items`` (everything) or ``POST /Items`` (by ItemID: the changed fields; when a sales
    field changed, SalesDetails whole, so its other values are never dropped)."""
    changes = values if changes is None else changes
    payload: dict[str, Any] = {"ItemID": item_id} if item_id else {}
    payload["Code"] = code
    payload.update({field: changes[field] for field in ("Name", "Description") if field in changes})
    if any(field in changes for field in SALES):
        sales = {field: values[field] for field in SALES if field in values}
        if "UnitPrice" in sales:
            sales["UnitPrice"] = Decimal(sales["UnitPrice"])
        payload["SalesDetails"] = sales
    return payload


def in_words(fields: Iterable[str]) -> str:
    """``["EmailAddress", "Phones"]`` -> ``"email address and phone"``."""
    words = [_WORDS.get(field, field) for field in fields]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def updated_message(fields: Iterable[str], via: str | None = None) -> str:
    """What an update changed.

    >>> updated_message(["Addresses", "TaxNumber"])
    'Updated in Xero: address and tax number.'
    """
    text = f"Updated in Xero: {in_words(list(fields))}"
    return text + (f" (from its contact person {via})." if via else ".")


UNCHANGED = "Already up to date in Xero: nothing was sent."
# A person linked to a Xero contact that an organisation is linked to as well: the organisation names it.
SHARED = ("Only the email address and phone are sent: the Xero contact it is linked to also stands for an "
          "organisation.")


def created_message(kind: str) -> str:
    return f"Created in Xero as a new {kind}."


def linked_message(kind: str, xero_name: str, how: str) -> str:
    reason = {"number": "it carries this record's number", "legacy_number": "it carries this record's number and name",
              "name": "it has the same name", "email": "it has the same email address", "code": "it has the same code"}
    return f"Linked to the Xero {kind} '{xero_name}' ({reason.get(how, 'found in Xero')})."
