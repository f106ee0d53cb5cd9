"""Contacts and items: upsert matching, updates that change only what is sent, and Xero's validation messages.

An update (``POST /Contacts`` naming a ContactID or ContactNumber, ``POST /Contacts/{id}``) changes only the fields
it sends. ``Addresses`` and ``Phones`` are kept per type, as Xero keeps one address per AddressType (STREET, POBOX)
and one phone per PhoneType: an address sent replaces that type's address, the other type's stays. Items the same:
``SalesDetails``/``PurchaseDetails`` sent are merged into the item's (a price alone keeps its account and tax type).

Lengths are the spec's (xero_accounting.yaml Contact, Address, Phone, Item), refused in Xero's words, e.g. "The
AddressLine1 must not be more than 500 characters long."
"""

import re

from .documents import Built, new_contact, stamp
from .tenant import Tenant, new_id

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTACT_READ_ONLY = {"ContactID", "UpdatedDateUTC", "ValidationErrors", "HasValidationErrors",
                      "StatusAttributeString", "Balances", "Website", "Discount", "HasAttachments"}
_ITEM_READ_ONLY = {"ItemID", "UpdatedDateUTC", "ValidationErrors", "StatusAttributeString", "TotalCostPool",
                   "QuantityOnHand"}


def match_contact(tenant: Tenant, raw: dict, by_number: bool) -> dict | None:
    if raw.get("ContactID"):
        return tenant.contacts.get(str(raw["ContactID"]))
    if by_number and raw.get("ContactNumber"):
        return tenant.contact_by_number(str(raw["ContactNumber"]))
    return None


def build_contact(tenant: Tenant, raw: dict, existing: dict | None, now: float) -> Built:
    errors: list[str] = []
    if raw.get("ContactID") and existing is None:
        errors.append(f"The contact with ContactID '{raw['ContactID']}' could not be found.")
    changes = {k: v for k, v in raw.items() if k not in _CONTACT_READ_ONLY}
    errors += _shape_errors(changes)
    if existing and not errors:
        for key, type_key in (("Addresses", "AddressType"), ("Phones", "PhoneType")):
            if key in changes:
                changes[key] = _by_type(existing.get(key) or [], changes[key] or [], type_key)
    doc = {**existing, **changes, "UpdatedDateUTC": stamp(now)} if existing else new_contact(changes, now)
    doc["Name"] = str(doc.get("Name") or "").strip()
    if not doc["Name"]:
        errors.append("The contact name must be specified.")
    elif len(doc["Name"]) > 255:
        errors.append("The contact name must not be more than 255 characters long.")
    twin = tenant.active_contact_by_name(doc["Name"]) if doc["Name"] else None
    if twin is not None and twin["ContactID"] != doc["ContactID"] and doc.get("ContactStatus") == "ACTIVE":
        errors.append(f"The contact name {doc['Name']} is already assigned to another contact. "
                      "The contact name must be unique across all active contacts.")
    errors += _too_long(doc, _CONTACT_LIMITS)
    if not errors:  # Addresses and Phones are lists of objects by now
        errors += [m for a in doc.get("Addresses") or [] for m in _too_long(a, _ADDRESS_LIMITS)]
        errors += [m for p in doc.get("Phones") or [] for m in _too_long(p, _PHONE_LIMITS)]
    if doc.get("EmailAddress") and not _EMAIL.match(str(doc["EmailAddress"])):
        errors.append("Email address must be valid.")
    if doc.get("ContactStatus") not in ("ACTIVE", "ARCHIVED", "GDPRREQUEST"):
        errors.append(f"ContactStatus '{doc.get('ContactStatus')}' is not valid.")
    return Built(doc, errors, None, existing is None)


_CONTACT_LIMITS = (("ContactNumber", 50), ("AccountNumber", 50), ("FirstName", 255), ("LastName", 255),
                   ("CompanyNumber", 50), ("EmailAddress", 255), ("TaxNumber", 50))
_ADDRESS_LIMITS = (("AddressLine1", 500), ("AddressLine2", 500), ("AddressLine3", 500), ("AddressLine4", 500),
                   ("City", 255), ("Region", 255), ("PostalCode", 50), ("Country", 50), ("AttentionTo", 255))
_PHONE_LIMITS = (("PhoneNumber", 50), ("PhoneAreaCode", 10), ("PhoneCountryCode", 20))
_ITEM_LIMITS = (("Description", 4000), ("PurchaseDescription", 4000))
ADDRESS_TYPES = ("POBOX", "STREET")
PHONE_TYPES = ("DEFAULT", "DDI", "MOBILE", "FAX", "OFFICE")


def _too_long(doc: dict, limits: tuple[tuple[str, int], ...]) -> list[str]:
    return [f"The {name} must not be more than {limit} characters long."
            for name, limit in limits if len(str(doc.get(name) or "")) > limit]


def _shape_errors(changes: dict) -> list[str]:
    errors = []
    for key, type_key, allowed in (("Addresses", "AddressType", ADDRESS_TYPES), ("Phones", "PhoneType", PHONE_TYPES)):
        entries = changes.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            errors.append(f"{key} must be a list of objects.")
            continue
        errors += [f"{type_key} '{e.get(type_key)}' is not valid." for e in entries if e.get(type_key) not in allowed]
    return errors


def _by_type(stored: list[dict], sent: list[dict], type_key: str) -> list[dict]:
    """Stored entries with the sent ones in place of those of the same type (new types added at the end)."""
    sent_by_type = {e[type_key]: e for e in sent}
    kept = [sent_by_type.pop(e.get(type_key), e) for e in stored]
    return kept + list(sent_by_type.values())


def match_item(tenant: Tenant, raw: dict) -> dict | None:
    if raw.get("ItemID"):
        return tenant.items.get(str(raw["ItemID"]))
    if raw.get("Code"):
        return tenant.item_by_code(str(raw["Code"]))
    return None


def build_item(tenant: Tenant, raw: dict, existing: dict | None, now: float) -> Built:
    errors: list[str] = []
    if raw.get("ItemID") and existing is None:
        errors.append(f"The item with ItemID '{raw['ItemID']}' could not be found.")
    changes = {k: v for k, v in raw.items() if k not in _ITEM_READ_ONLY}
    for key in ("SalesDetails", "PurchaseDetails"):
        if existing and isinstance(changes.get(key), dict):
            changes[key] = {**(existing.get(key) or {}), **changes[key]}
    base = existing or {"ItemID": new_id(), "IsSold": True, "IsPurchased": False, "IsTrackedAsInventory": False,
                        "SalesDetails": {}, "PurchaseDetails": {}}
    doc = {**base, **changes, "UpdatedDateUTC": stamp(now)}
    code = str(doc.get("Code") or "")
    if not code:
        errors.append("Item code must be specified.")
    elif len(code) > 30:
        errors.append("The Code must not be more than 30 characters long.")
    twin = tenant.item_by_code(code) if code else None
    if twin is not None and twin["ItemID"] != doc["ItemID"]:
        errors.append(f"Item code '{code}' is already in use by another item. Item codes must be unique.")
    if len(str(doc.get("Name") or "")) > 50:
        errors.append("The Name must not be more than 50 characters long.")
    errors += _too_long(doc, _ITEM_LIMITS)
    for key, usable in (("SalesDetails", "CanApplyToRevenue"), ("PurchaseDetails", "CanApplyToExpenses")):
        _check_details(tenant, doc.get(key) or {}, usable, errors)
    if doc.get("IsTrackedAsInventory"):
        errors.append("The sandbox does not model tracked inventory items.")
    return Built(doc, errors, None, existing is None)


def _check_details(tenant: Tenant, details: dict, usable: str, errors: list[str]) -> None:
    account_code, tax_type = details.get("AccountCode"), details.get("TaxType")
    if account_code:
        account = tenant.account(str(account_code))
        if account is None or account["Status"] != "ACTIVE" or account["Type"] in ("BANK", "CURRENT"):
            errors.append(f"Account code '{account_code}' is not a valid code for this document.")
    if tax_type:
        rate = tenant.tax_rate(str(tax_type))
        if rate is None or not rate.get(usable):
            errors.append(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of "
                          "transaction.")


def commit_contact(tenant: Tenant, built: Built) -> dict:
    tenant.contacts[built.doc["ContactID"]] = built.doc
    return built.doc


def commit_item(tenant: Tenant, built: Built) -> dict:
    tenant.items[built.doc["ItemID"]] = built.doc
    return built.doc

