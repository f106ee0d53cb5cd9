"""Deal, person and organisation fields: the standard ones and the company's custom ones (40-hex keys).

v1 ``GET /api/v1/dealFields`` (and personFields, organizationFields) answers ``{id, key, name, field_type,
edit_flag, options, ...}``; v2 ``GET /api/v2/dealFields`` answers ``{field_name, field_code, field_type,
is_custom_field, options, ...}`` (pipedrive-openapi-v1.yaml GetField, pipedrive-openapi-v2.yaml). Custom fields have
``edit_flag`` / ``is_custom_field`` true; enum and set fields carry ``options: [{id, label}]``, and a record's value
for them is the option id (a list of ids for set).
"""

import copy
import secrets
from typing import TYPE_CHECKING, Any

from pdx_sandbox.pipedrive.store import FIELD_TYPES, Invalid, v1_time

if TYPE_CHECKING:
    from pdx_sandbox.pipedrive.state import PipedriveState

# key, name, field_type: the standard fields the product may offer in pickers (a subset of Pipedrive's)
STANDARD: dict[str, list[tuple[str, str, str]]] = {
    "deal": [("title", "Title", "varchar"), ("creator_user_id", "Creator", "user"), ("owner_id", "Owner", "user"),
             ("value", "Value", "monetary"), ("currency", "Currency", "varchar"), ("org_id", "Organization", "org"),
             ("pipeline_id", "Pipeline", "double"), ("person_id", "Contact person", "people"),
             ("stage_id", "Stage", "stage"), ("status", "Status", "status"), ("probability", "Probability", "double"),
             ("add_time", "Deal created", "date"), ("update_time", "Update time", "date"),
             ("stage_change_time", "Last stage change", "date"), ("expected_close_date", "Expected close date",
                                                                  "date"),
             ("close_time", "Deal closed on", "date"), ("won_time", "Won time", "date"),
             ("lost_time", "Lost time", "date"), ("lost_reason", "Lost reason", "varchar_options"),
             ("visible_to", "Visible to", "visible_to")],
    "person": [("name", "Name", "varchar"), ("first_name", "First name", "varchar"),
               ("last_name", "Last name", "varchar"), ("email", "Email", "varchar"), ("phone", "Phone", "phone"),
               ("org_id", "Organization", "org"), ("owner_id", "Owner", "user"), ("job_title", "Job title", "varchar"),
               ("postal_address", "Postal address", "address"), ("notes", "Notes", "text"),
               ("add_time", "Person created", "date"), ("visible_to", "Visible to", "visible_to")],
    "organization": [("name", "Name", "varchar"), ("address", "Address", "address"), ("owner_id", "Owner", "user"),
                     ("website", "Website", "varchar"), ("industry", "Industry", "enum"),
                     ("add_time", "Organization created", "date"), ("visible_to", "Visible to", "visible_to")],
}
_INDUSTRY_OPTIONS = [{"id": 1, "label": "Retail"}, {"id": 2, "label": "Services"}, {"id": 3, "label": "Wholesale"}]


def all_fields(state: "PipedriveState", entity: str) -> list[dict[str, Any]]:
    """Standard fields first, then the custom ones in creation order; each with ``custom`` true or false."""
    custom = state.fields_of(entity)
    standard = [{"id": n, "key": key, "name": name, "field_type": field_type, "custom": False,
                 "options": copy.deepcopy(_INDUSTRY_OPTIONS) if key == "industry" else None}
                for n, (key, name, field_type) in enumerate(STANDARD[entity], 1)]
    return standard + [{**f, "custom": True} for f in custom.values()]


def field_v1(state: "PipedriveState", entity: str, field: dict[str, Any], order: int) -> dict[str, Any]:
    custom = field["custom"]
    stamp = v1_time(state.clock.time() - 30 * 86400)
    return {"id": field["id"], "key": field["key"], "name": field["name"], "order_nr": order,
            "field_type": field["field_type"], "add_time": stamp, "update_time": stamp,
            "last_updated_by_user_id": state.user_id if custom else None, "created_by_user_id": state.user_id,
            "active_flag": True, "edit_flag": custom, "index_visible_flag": True, "details_visible_flag": True,
            "add_visible_flag": True, "important_flag": False, "bulk_edit_allowed": True, "searchable_flag": custom,
            "filtering_allowed": True, "sortable_flag": True, "options": copy.deepcopy(field.get("options")),
            "mandatory_flag": field["key"] == ("title" if entity == "deal" else "name")}


def field_v2(field: dict[str, Any]) -> dict[str, Any]:
    return {"field_name": field["name"], "field_code": field["key"], "description": None,
            "field_type": field["field_type"], "options": copy.deepcopy(field.get("options")), "subfields": None,
            "is_custom_field": field["custom"], "is_optional_response_field": False,
            "ui_visibility": {"add_visible_flag": True, "details_visible_flag": True,
                              "projects_detail_visible_flag": False,
                              "show_in_pipelines": {"show_in_all": True, "pipeline_ids": []}},
            "important_fields": {"enabled": False, "stage_ids": []},
            "required_fields": {"enabled": False, "stage_ids": [], "statuses": {}}}


def create(state: "PipedriveState", entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """A new custom field from ``{"name", "field_type", "options": [{"label"}]}``, with a fresh 40-hex key."""
    name, field_type = str(body.get("name") or "").strip(), body.get("field_type")
    if not name:
        raise Invalid("name is required")
    if field_type not in FIELD_TYPES:
        raise Invalid(f"field_type must be one of {FIELD_TYPES}")
    options = None
    if field_type in ("enum", "set"):
        labels = [o.get("label") if isinstance(o, dict) else o for o in body.get("options") or []]
        if not labels or not all(isinstance(label, str) and label for label in labels):
            raise Invalid('options must be a non-empty array like [{"label": "New Item"}]')
        used = [o["id"] for e in ("deal", "person", "organization") for f in state.fields_of(e).values()
                for o in f.get("options") or []]
        first = max([100, *used]) + 1
        options = [{"id": first + n, "label": label} for n, label in enumerate(labels)]
    return state.add_field(entity, secrets.token_hex(20), name, field_type, options)
