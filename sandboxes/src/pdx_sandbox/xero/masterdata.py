"""Contacts and items: upsert matching and Xero's validation messages for them."""

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
    if len(str(doc.get("ContactNumber") or "")) > 50:
        errors.append("The ContactNumber must not be more than 50 characters long.")
    if doc.get("EmailAddress") and not _EMAIL.match(str(doc["EmailAddress"])):
        errors.append("Email address must be valid.")
    if doc.get("ContactStatus") not in ("ACTIVE", "ARCHIVED", "GDPRREQUEST"):
        errors.append(f"ContactStatus '{doc.get('ContactStatus')}' is not valid.")
    return Built(doc, errors, None, existing is None)


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

