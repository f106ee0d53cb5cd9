"""The CRM records of one sandbox company, kept in API v2 shape (ids are ints, times ISO 8601 UTC with a Z).

Deal products carry a computed ``sum``: quantity x item_price, less the line discount (a percentage, or an amount off
the line total), plus tax when ``tax_method`` is ``exclusive``. A deal's ``value`` is the sum of its enabled lines less
its deal-level discounts, applied in order; a deal without products keeps the value it was given.
"""

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from pdx_sandbox.clock import SandboxClock

DEAL_STATUSES = ("open", "won", "lost")
FIELD_ENTITIES = ("deal", "person", "organization")
# field types a custom field may have (pipedrive-openapi-v1.yaml, createFieldRequest)
FIELD_TYPES = ("address", "date", "daterange", "double", "enum", "monetary", "org", "people", "phone", "set", "text",
               "time", "timerange", "user", "varchar", "varchar_auto")


class NotFound(LookupError):
    """A record the request names does not exist; the API answers 404."""


class Invalid(ValueError):
    """The request body or query is wrong; the API answers 400."""


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _next_id(records: dict[int, Any], floor: int = 1) -> int:
    return max([floor - 1, *records]) + 1


def line_sum(line: dict[str, Any]) -> float:
    total = float(line["quantity"]) * float(line["item_price"])
    if line.get("discount_type") == "amount":
        total -= float(line.get("discount") or 0)
    else:
        total *= 1 - float(line.get("discount") or 0) / 100
    if line.get("tax_method") == "exclusive":
        total *= 1 + float(line.get("tax") or 0) / 100
    return round(total, 2)


class CrmStore:
    def __init__(self, clock: SandboxClock, user_id: int) -> None:
        self.clock, self.user_id = clock, user_id
        self.pipelines: dict[int, dict] = {}
        self.stages: dict[int, dict] = {}
        self.organizations: dict[int, dict] = {}
        self.persons: dict[int, dict] = {}
        self.products: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.deal_fields: dict[str, dict] = {}
        self.person_fields: dict[str, dict] = {}
        self.organization_fields: dict[str, dict] = {}
        self.deals: dict[int, dict] = {}
        self.deal_products: dict[int, list[dict]] = {}
        self.deal_discounts: dict[int, list[dict]] = {}
        self.activities: dict[int, dict] = {}
        self.notes: dict[int, dict] = {}
        self._attachment_ids: dict[int, dict] = {}

    def now(self) -> str:
        return iso(self.clock.time())

    # --- reference data -------------------------------------------------------------------------------------------
    def add_pipeline(self, pipeline_id: int, name: str) -> None:
        self.pipelines[pipeline_id] = {
            "id": pipeline_id, "name": name, "order_nr": pipeline_id, "is_deleted": False,
            "is_deal_probability_enabled": True, "add_time": self.now(), "update_time": self.now()}

    def add_stage(self, stage_id: int, pipeline_id: int, name: str, probability: int) -> None:
        order = 1 + sum(1 for s in self.stages.values() if s["pipeline_id"] == pipeline_id)
        self.stages[stage_id] = {
            "id": stage_id, "order_nr": order, "name": name, "is_deleted": False, "deal_probability": probability,
            "pipeline_id": pipeline_id, "is_deal_rot_enabled": False, "days_to_rotten": None,
            "add_time": self.now(), "update_time": self.now()}

    def add_organization(self, org_id: int, name: str, address: dict | None) -> None:
        self.organizations[org_id] = {
            "id": org_id, "name": name, "owner_id": self.user_id, "add_time": self.now(), "update_time": self.now(),
            "address": address, "is_deleted": False, "visible_to": 3, "label_ids": [], "website": None,
            "linkedin": None, "industry": None, "annual_revenue": None, "employee_count": None, "custom_fields": {}}

    def add_person(self, person_id: int, first: str, last: str, org_id: int | None, emails: list[str],
                   phone: str | None, postal_address: dict | None) -> None:
        self.persons[person_id] = {
            "id": person_id, "name": f"{first} {last}", "first_name": first, "last_name": last,
            "owner_id": self.user_id, "org_id": org_id, "add_time": self.now(), "update_time": self.now(),
            "emails": [{"value": e, "primary": i == 0, "label": "work"} for i, e in enumerate(emails)],
            "phones": [{"value": phone, "primary": True, "label": "work"}] if phone else [],
            "is_deleted": False, "visible_to": 3, "label_ids": [], "picture_id": None, "custom_fields": {},
            "notes": None, "im": [], "birthday": None, "job_title": None, "postal_address": postal_address}

    def add_product(self, product_id: int, name: str, code: str | None, unit: str, tax: float,
                    prices: dict[str, float]) -> None:
        self.products[product_id] = {
            "id": product_id, "name": name, "code": code, "description": f"{name} (sandbox product)", "unit": unit,
            "tax": tax, "category": None, "is_linkable": True, "is_deleted": False, "visible_to": 3,
            "owner_id": self.user_id, "add_time": self.now(), "update_time": self.now(),
            "billing_frequency": "one-time", "billing_frequency_cycles": None,
            "prices": [{"product_id": product_id, "price": p, "currency": c, "cost": 0, "direct_cost": None,
                        "notes": ""} for c, p in prices.items()],
            "custom_fields": {}}

    def add_user(self, user_id: int, name: str, email: str, *, admin: bool, active: bool = True) -> dict:
        user = {"id": user_id, "name": name, "email": email, "is_admin": admin, "active_flag": active,
                "created": self.now(), "modified": self.now()}
        self.users[user_id] = user
        return user

    def fields_of(self, entity: str) -> dict[str, dict]:
        """The custom fields of ``deal``, ``person`` or ``organization``, by their 40-hex key."""
        if entity not in FIELD_ENTITIES:
            raise Invalid(f"entity must be one of {FIELD_ENTITIES}")
        return getattr(self, f"{entity}_fields")

    def add_field(self, entity: str, key: str, name: str, field_type: str,
                  options: list[dict] | None = None) -> dict:
        fields = self.fields_of(entity)
        if field_type not in FIELD_TYPES:
            raise Invalid(f"field_type must be one of {FIELD_TYPES}")
        if field_type in ("enum", "set") and not options:
            raise Invalid("options are required for enum and set fields")
        first = {"deal": 12000, "person": 9000, "organization": 4000}[entity]
        field_id = max([first, *(f["id"] for f in fields.values())]) + 1
        fields[key] = {"id": field_id, "key": key, "name": name, "field_type": field_type,
                       "options": copy.deepcopy(options) if field_type in ("enum", "set") else None,
                       "add_time": self.now(), "update_time": self.now()}
        return fields[key]

    def add_deal_field(self, key: str, name: str, field_type: str, options: list[dict] | None = None) -> dict:
        return self.add_field("deal", key, name, field_type, options)

    # --- lookups --------------------------------------------------------------------------------------------------
    def get(self, kind: str, record_id: int) -> dict:
        record = getattr(self, kind).get(record_id)
        if record is None:
            raise NotFound(f"{kind[:-1].capitalize()} not found")
        return record

    def stage_by_name(self, name: str) -> dict:
        for stage in self.stages.values():
            if stage["name"].lower() == name.lower():
                return stage
        raise NotFound(f"Stage {name!r} not found")

    # --- deals ----------------------------------------------------------------------------------------------------
    def insert_deal(self, fields: dict[str, Any]) -> dict:
        """Create a deal from v2 fields, without events. ``title`` is required; ``stage_id`` defaults to Lead In."""
        if not fields.get("title"):
            raise Invalid("title is required")
        deal_id = fields.get("id") or _next_id(self.deals, 1000)
        stage = self.get("stages", fields.get("stage_id") or min(self.stages))
        now = self.now()
        deal = {
            "id": deal_id, "title": fields["title"], "creator_user_id": self.user_id, "owner_id": self.user_id,
            "value": 0, "person_id": None, "org_id": None, "stage_id": stage["id"], "pipeline_id": stage["pipeline_id"],
            "currency": "NZD", "archive_time": None, "add_time": now, "update_time": now, "stage_change_time": None,
            "status": "open", "is_archived": False, "is_deleted": False, "probability": None, "lost_reason": None,
            "visible_to": 3, "close_time": None, "won_time": None, "lost_time": None, "expected_close_date": None,
            "label_ids": [], "origin": "API", "origin_id": None, "channel": None, "channel_id": None,
            "source_lead_id": None, "acv": None, "arr": None, "mrr": None, "custom_fields": {}}
        self.deals[deal_id] = deal
        self.deal_products[deal_id], self.deal_discounts[deal_id] = [], []
        try:
            self._apply(deal, {k: v for k, v in fields.items() if k not in ("id", "title", "stage_id")})
        except (Invalid, NotFound):
            self.deals.pop(deal_id)
            raise
        return deal

    def change_deal(self, deal_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply v2 PATCH fields; return ``previous``: only the changed fields with their old values."""
        deal = self.get("deals", deal_id)
        after = copy.deepcopy(deal)
        self._apply(after, changes)  # on a copy, so a rejected change leaves the deal as it was
        previous = _diff(deal, after)
        if previous:
            deal.update(after, update_time=self.now())
        return previous

    def _apply(self, deal: dict, changes: dict[str, Any]) -> None:
        changes = dict(changes)
        for ref, kind in (("person_id", "persons"), ("org_id", "organizations")):
            if changes.get(ref) is not None:
                self.get(kind, int(changes[ref]))
        if "stage_id" in changes:
            stage = self.get("stages", int(changes.pop("stage_id")))
            if stage["id"] != deal["stage_id"]:
                deal.update(stage_id=stage["id"], pipeline_id=stage["pipeline_id"], stage_change_time=self.now())
        if "status" in changes:
            self._set_status(deal, changes.pop("status"))
        deal["custom_fields"] = {**deal["custom_fields"], **self._custom(changes.pop("custom_fields", None) or {})}
        changes.pop("pipeline_id", None)  # a deal's pipeline follows its stage
        deal.update({k: v for k, v in changes.items() if k in deal and k not in ("id", "add_time", "update_time")})

    def _custom(self, values: dict[str, Any], entity: str = "deal") -> dict[str, Any]:
        fields = self.fields_of(entity)
        unknown = set(values) - set(fields)
        if unknown:
            raise Invalid(f"unknown custom fields: {sorted(unknown)}")
        for key, value in values.items():
            if value == [] and fields[key]["field_type"] == "set":
                raise Invalid(f"{fields[key]['name']}: clear a multi-option field with null, not []")
            options = {o["id"] for o in fields[key].get("options") or []}
            chosen = value if isinstance(value, list) else [value]
            if value is not None and options and not all(v in options for v in chosen):
                raise Invalid(f"{fields[key]['name']}: {value!r} is not one of the option ids {sorted(options)}")
            if fields[key]["field_type"] == "monetary" and not _monetary(value):
                name = fields[key]["name"]
                raise Invalid(f'{name}: a monetary value is {{"value": 12.5, "currency": "NZD"}} or null')
        return values

    def set_custom(self, entity: str, record_id: int, values: dict[str, Any]) -> dict:
        """Set custom field values on a person or organisation (deals change through ``change_deal``)."""
        kind = {"person": "persons", "organization": "organizations"}.get(entity)
        if kind is None:
            raise Invalid("entity must be person or organization")
        record = self.get(kind, record_id)
        record["custom_fields"] = {**record["custom_fields"], **self._custom(values, entity)}
        record["update_time"] = self.now()
        return record

    def _set_status(self, deal: dict, status: str) -> None:
        if status not in DEAL_STATUSES:
            raise Invalid(f"status must be one of {DEAL_STATUSES}")
        if status == deal["status"]:
            return
        now = self.now()
        deal.update(status=status, close_time=None if status == "open" else now,
                    won_time=now if status == "won" else deal["won_time"],
                    lost_time=now if status == "lost" else deal["lost_time"])

    def insert_deal_product(self, deal_id: int, line: dict[str, Any]) -> dict:
        deal = self.get("deals", deal_id)
        missing = {"product_id", "item_price", "quantity"} - set(line)
        if missing:
            raise Invalid(f"missing fields: {sorted(missing)}")
        product = self.get("products", int(line["product_id"]))
        attachment_id = _next_id(self._attachment_ids, 5001)
        now = self.now()
        item = {
            "id": attachment_id, "sum": 0, "tax": product["tax"], "deal_id": deal_id, "name": product["name"],
            "product_id": product["id"], "product_variation_id": None, "order_nr": len(self.deal_products[deal_id]) + 1,
            "add_time": now, "update_time": now, "comments": "", "currency": deal["currency"], "discount": 0,
            "quantity": 1, "item_price": 0, "tax_method": "exclusive", "discount_type": "percentage",
            "is_enabled": True, "billing_frequency": "one-time", "billing_frequency_cycles": None,
            "billing_start_date": None}
        item.update({k: v for k, v in line.items() if k in item and k not in ("id", "deal_id", "sum")})
        if item["discount_type"] not in ("percentage", "amount"):
            raise Invalid("discount_type must be percentage or amount")
        if item["tax_method"] not in ("exclusive", "inclusive", "none"):
            raise Invalid("tax_method must be exclusive, inclusive or none")
        item["sum"] = line_sum(item)
        self._attachment_ids[attachment_id] = item
        self.deal_products[deal_id].append(item)
        return item

    def insert_deal_discount(self, deal_id: int, description: str, amount: float, kind: str) -> dict:
        now = self.now()
        discount = {"id": str(uuid.uuid4()), "description": description, "amount": amount, "type": kind,
                    "deal_id": deal_id, "created_at": now, "created_by": self.user_id, "updated_at": now,
                    "updated_by": self.user_id}
        self.deal_discounts[deal_id].append(discount)
        return discount

    def recompute_value(self, deal_id: int) -> None:
        lines = self.deal_products[deal_id]
        if not lines:
            return
        value = sum(line["sum"] for line in lines if line["is_enabled"])
        for discount in self.deal_discounts[deal_id]:
            if discount["type"] == "percentage":
                value *= 1 - discount["amount"] / 100
            else:
                value -= discount["amount"]
        self.deals[deal_id]["value"] = round(value, 2)


def _monetary(value: Any) -> bool:
    if value is None:
        return True
    amount, currency = (value.get("value"), value.get("currency")) if isinstance(value, dict) else (None, None)
    return (isinstance(amount, int | float) and not isinstance(amount, bool) and isinstance(currency, str)
            and len(currency) == 3 and set(value) <= {"value", "currency"})


def _diff(before: dict, after: dict) -> dict[str, Any]:
    previous = {k: v for k, v in before.items() if k not in ("update_time", "custom_fields") and after.get(k) != v}
    old_cf, new_cf = before["custom_fields"], after["custom_fields"]
    changed_cf = {k: old_cf.get(k) for k in set(old_cf) | set(new_cf) if old_cf.get(k) != new_cf.get(k)}
    if changed_cf:
        previous["custom_fields"] = changed_cf
    return previous
