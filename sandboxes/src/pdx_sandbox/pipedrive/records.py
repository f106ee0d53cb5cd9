"""Persons, organisations and products: created, changed and deleted through API v2 or as a user, with webhooks.

Shapes follow pipedrive-openapi-v2.yaml (addPerson/updatePerson, addOrganization/updateOrganization,
addProduct/updateProduct, delete*). An address (an organisation's ``address``, a person's ``postal_address``) is an
object of components; what is not sent is null, and ``value``/``formatted_address`` are composed from the components
when not given::

    {"value": "12 Queen Street, Auckland 1010, New Zealand", "street_number": "12", "route": "Queen Street",
     "subpremise": null, "locality": "Auckland", "sublocality": null, "admin_area_level_1": "Auckland",
     "admin_area_level_2": null, "postal_code": "1010", "country": "New Zealand", "formatted_address": "..."}

Persons carry ``emails``/``phones`` as ``[{value, primary, label}]`` (one primary); products ``prices`` as
``[{currency, price, cost, direct_cost, notes}]`` (one per currency; ``overhead_cost`` is read as ``direct_cost``).
A delete marks the record ``is_deleted`` (Pipedrive removes it after 30 days); the API then answers 404 for it.
"""

import copy
from typing import Any

from pdx_sandbox.pipedrive.store import CrmStore, Invalid, NotFound

KINDS = {"person": "persons", "organization": "organizations", "product": "products"}
ADDRESS_KEYS = ("value", "street_number", "route", "subpremise", "locality", "sublocality", "admin_area_level_1",
                "admin_area_level_2", "postal_code", "country", "formatted_address")
WRITABLE = {
    "person": ("name", "first_name", "last_name", "owner_id", "org_id", "emails", "phones", "visible_to",
               "label_ids", "postal_address", "notes", "im", "birthday", "job_title", "custom_fields"),
    "organization": ("name", "owner_id", "visible_to", "label_ids", "address", "website", "linkedin", "industry",
                     "annual_revenue", "employee_count", "custom_fields"),
    "product": ("name", "code", "description", "unit", "tax", "category", "owner_id", "is_linkable", "visible_to",
                "prices", "custom_fields", "billing_frequency", "billing_frequency_cycles"),
}
_FIRST_ID = {"person": 1000, "organization": 1000, "product": 1000}
_NOT_DIFFED = ("update_time",)


def address(raw: Any, name: str) -> dict[str, Any] | None:
    """An address object from what was sent: an object of components, a one-line string, or null."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"value": raw}
    if not isinstance(raw, dict):
        raise Invalid(f"{name} must be an object of address components")
    unknown = set(raw) - set(ADDRESS_KEYS)
    if unknown:
        raise Invalid(f"{name}: unknown address components {sorted(unknown)}")
    out = {key: _text(raw.get(key), f"{name}.{key}") for key in ADDRESS_KEYS}
    if not out["value"]:
        out["value"] = _one_line(out)
    out["formatted_address"] = out["formatted_address"] or out["value"]
    return out


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise Invalid(f"{name} must be a string")


def _one_line(parts: dict[str, Any]) -> str | None:
    street = " ".join(p for p in (parts["street_number"], parts["route"]) if p)
    if parts["subpremise"]:
        street = f"{parts['subpremise']}/{street}" if street else parts["subpremise"]
    town = " ".join(p for p in (parts["locality"], parts["postal_code"]) if p)
    line = ", ".join(p for p in (street, parts["sublocality"], town, parts["admin_area_level_1"], parts["country"])
                     if p)
    return line or None


def labelled(raw: Any, name: str) -> list[dict[str, Any]]:
    """``emails``/``phones``: ``[{value, primary, label}]``; the first is primary when none is."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) and isinstance(e.get("value"), str) for e in raw):
        raise Invalid(f'{name} must be an array like [{{"value": "...", "primary": true, "label": "work"}}]')
    out = [{"value": e["value"], "primary": bool(e.get("primary")), "label": str(e.get("label") or "work")}
           for e in raw if e["value"]]
    if out and sum(e["primary"] for e in out) != 1:
        for n, entry in enumerate(out):
            entry["primary"] = n == 0
    return out


def prices(raw: Any, product_id: int) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        raise Invalid("prices must be an array of {currency, price, cost, direct_cost}")
    out: dict[str, dict[str, Any]] = {}
    for entry in raw:
        currency = entry.get("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            raise Invalid("prices[].currency must be a 3-letter currency code")
        if currency in out:
            raise Invalid(f"there can only be one price per product per currency ({currency})")
        out[currency] = {"product_id": product_id, "price": _number(entry.get("price", 0), "prices[].price"),
                         "currency": currency, "cost": _number(entry.get("cost", 0), "prices[].cost"),
                         "direct_cost": _number(entry.get("direct_cost", entry.get("overhead_cost")),
                                                "prices[].direct_cost"),
                         "notes": str(entry.get("notes") or "")}
    return list(out.values())


def _id(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Invalid(f"{name} must be an integer")
    return int(value)


def _number(value: Any, name: str) -> float | int | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise Invalid(f"{name} must be a number")


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``previous`` of a change: only the changed fields, with their old values (custom fields one by one)."""
    previous = {k: v for k, v in before.items() if k not in (*_NOT_DIFFED, "custom_fields") and after.get(k) != v}
    old_cf, new_cf = before.get("custom_fields") or {}, after.get("custom_fields") or {}
    changed_cf = {k: old_cf.get(k) for k in set(old_cf) | set(new_cf) if old_cf.get(k) != new_cf.get(k)}
    if changed_cf:
        previous["custom_fields"] = changed_cf
    return previous


class MasterData(CrmStore):
    """The record writes of one company; ``PipedriveState`` fires the webhooks around them."""

    def live(self, entity: str, record_id: int) -> dict:
        """A person, organisation or product that is not deleted (a deleted one is not found, as in the API)."""
        record = self.get(_kind(entity), record_id)
        if record.get("is_deleted"):
            raise NotFound(f"{entity.capitalize()} not found")
        return record

    def insert_record(self, entity: str, fields: dict[str, Any]) -> dict:
        records = getattr(self, _kind(entity))
        if not str(fields.get("name") or "").strip() and not (entity == "person" and fields.get("first_name")):
            raise Invalid("name is required")
        record_id = max([_FIRST_ID[entity] - 1, *records]) + 1
        now = self.now()
        record = {"id": record_id, "owner_id": self.user_id, "add_time": now, "update_time": now,
                  "is_deleted": False, "visible_to": 3, "custom_fields": {}, **_BLANK[entity](record_id)}
        self._apply_record(entity, record, fields)
        records[record_id] = record
        return record

    def change_record(self, entity: str, record_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply v2 PATCH fields; return ``previous`` (only the changed fields, their old values)."""
        record = self.live(entity, record_id)
        after = copy.deepcopy(record)
        self._apply_record(entity, after, changes)  # on a copy, so a refused change leaves the record as it was
        previous = diff(record, after)
        if previous:
            record.update(after, update_time=self.now())
        return previous

    def remove_record(self, entity: str, record_id: int) -> dict:
        record = self.live(entity, record_id)
        before = copy.deepcopy(record)
        record.update(is_deleted=True, update_time=self.now())
        return before

    def _apply_record(self, entity: str, record: dict, changes: dict[str, Any]) -> None:
        changes = {k: v for k, v in changes.items() if k in WRITABLE[entity]}
        if "name" in changes and not str(changes["name"] or "").strip():
            raise Invalid("name cannot be an empty string")
        if changes.get("owner_id") is not None and _id(changes["owner_id"], "owner_id") not in self.users:
            raise Invalid(f"owner_id {changes['owner_id']} is not a user of this company")
        if "custom_fields" in changes:
            values = changes.pop("custom_fields") or {}
            if not isinstance(values, dict):
                raise Invalid("custom_fields must be an object")
            checked = self._custom(values, entity) if entity != "product" else values
            record["custom_fields"] = {**record["custom_fields"], **checked}
        _APPLY[entity](self, record, changes)
        record.update(changes)


def _kind(entity: str) -> str:
    if entity not in KINDS:
        raise Invalid(f"entity must be one of {tuple(KINDS)}")
    return KINDS[entity]


def _apply_person(store: MasterData, record: dict, changes: dict[str, Any]) -> None:
    for key in ("emails", "phones"):
        if key in changes:
            changes[key] = labelled(changes[key], key)
    if "postal_address" in changes:
        changes["postal_address"] = address(changes["postal_address"], "postal_address")
    if changes.get("org_id") is not None:
        changes["org_id"] = store.live("organization", _id(changes["org_id"], "org_id"))["id"]
    if "name" in changes and not {"first_name", "last_name"} & set(changes):
        first, _, last = str(changes["name"]).strip().partition(" ")
        changes.update(first_name=first, last_name=last.strip() or None)
    elif {"first_name", "last_name"} & set(changes) and "name" not in changes:
        first, last = changes.get("first_name", record["first_name"]), changes.get("last_name", record["last_name"])
        changes["name"] = " ".join(p for p in (first, last) if p)


def _apply_organization(store: MasterData, record: dict, changes: dict[str, Any]) -> None:
    if "address" in changes:
        changes["address"] = address(changes["address"], "address")


def _apply_product(store: MasterData, record: dict, changes: dict[str, Any]) -> None:
    if "prices" in changes:
        changes["prices"] = prices(changes["prices"], record["id"])
    if "tax" in changes:
        changes["tax"] = _number(changes["tax"], "tax") or 0
    if "code" in changes:
        changes["code"] = _text(changes["code"], "code")


_APPLY = {"person": _apply_person, "organization": _apply_organization, "product": _apply_product}
_BLANK = {
    "person": lambda _id: {"name": "", "first_name": None, "last_name": None, "org_id": None, "emails": [],
                           "phones": [], "label_ids": [], "picture_id": None, "notes": None, "im": [],
                           "birthday": None, "job_title": None, "postal_address": None},
    "organization": lambda _id: {"name": "", "address": None, "label_ids": [], "website": None, "linkedin": None,
                                 "industry": None, "annual_revenue": None, "employee_count": None},
    "product": lambda _id: {"name": "", "code": None, "description": None, "unit": None, "tax": 0, "category": None,
                            "is_linkable": True, "billing_frequency": "one-time", "billing_frequency_cycles": None,
                            "prices": []},
}
