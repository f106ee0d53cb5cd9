"""Simple field templates: ``{deal.title}``, ``{deal.id}``, ``{org.name}``, ``{person.name}``, ``{person.email}``,
``{deal.custom.<field name or key>}``, ``{person.custom.<field name or key>}``, ``{org.custom.<field name or key>}``.
Unknown placeholders render empty. Pure."""

import math
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{([a-z_]+)\.([A-Za-z0-9_]+)(?:\.([^{}]+))?\}")


# the record a placeholder names -> the snapshot's record and its field list (v2 /dealFields, /personFields, ...)
RECORDS = {"deal": ("deal", "deal_fields"), "person": ("person", "person_fields"), "org": ("org", "org_fields")}


def _field(fields: list[dict[str, Any]], name_or_key: str) -> dict[str, Any]:
    """The field named or keyed ``name_or_key``: v2 ``/dealFields`` (and ``/personFields``, ``/organizationFields``)
    says field_name/field_code, v1 name/key."""
    wanted = name_or_key.strip().lower()
    for f in fields or []:
        labels = (f.get("field_name"), f.get("name"), f.get("field_code"), f.get("key"))
        if wanted in {str(label).strip().lower() for label in labels if label}:
            return f
    return {}


def _option_label(value: Any, options: list[dict[str, Any]]) -> Any:
    return next((o.get("label") for o in options if str(o.get("id")) == str(value).strip()), value)


def plain(value: Any, options: list[dict[str, Any]] | None = None) -> Any:
    """A field value as a person reads it: an address or money object by its value, an option by its label."""
    options = options or []
    if isinstance(value, dict):
        if value.get("label") is not None:
            return value["label"]
        if "value" in value or "values" in value:
            return plain(value.get("value", value.get("values")), options)
        return _option_label(value.get("id"), options) if "id" in value else None
    if isinstance(value, list):
        return ", ".join(str(v) for v in (plain(item, options) for item in value) if v not in (None, ""))
    if options and isinstance(value, str) and "," in value:  # a v1-style multiple-option value: "12,13"
        return plain(value.split(","), options)
    if options and isinstance(value, int | str):
        return _option_label(value, options)
    return value


def custom_field(snapshot: Any, name_or_key: str, record: str = "deal") -> Any:
    """A custom field's value on the deal, its person or its organisation (``record`` "deal", "person", "org"), by
    the field's name (as shown in Pipedrive) or its 40-character key; an option by its label."""
    source, fields = RECORDS[record]
    return field_value(getattr(snapshot, source, None), getattr(snapshot, fields, None), name_or_key)


def field_value(record: dict[str, Any] | None, fields: list[dict[str, Any]] | None, name_or_key: str) -> Any:
    """A custom field's value on one record (a deal, person, organisation or product as read from Pipedrive), by the
    field's name or key in ``fields`` (its v2 field definitions; a key alone needs none); an option by its label."""
    custom = (record or {}).get("custom_fields") or {}
    f = _field(fields or [], name_or_key)
    key = f.get("field_code") or f.get("key") or name_or_key
    return plain(custom.get(key), f.get("options"))


def _value(snapshot: Any, entity: str, attr: str, rest: str | None) -> Any:
    if entity in RECORDS and attr == "custom" and rest:
        return custom_field(snapshot, rest, entity)
    source = {"deal": snapshot.deal, "org": snapshot.org, "person": snapshot.person}.get(entity) or {}
    if entity == "person" and attr in ("email", "phone"):
        values = source.get(attr + "s") or []
        return next((v.get("value") for v in values if v.get("primary")), values[0].get("value") if values else "")
    return plain(source.get(attr))


def as_text(value: Any) -> str:
    """A value as it reads in a text field: nothing for None or an object, 1200.0 as "1200"."""
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def _float_text(value: float) -> str:
    """1200.0 reads "1200", 0.5 "0.5"; NaN and Infinity read as nothing, and a huge value keeps its exponent
    (``int(1e26)`` would print 27 digits that were never in Pipedrive)."""
    if not math.isfinite(value):
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def render(template: str | None, snapshot: Any) -> str | None:
    if template is None:
        return None
    return PLACEHOLDER.sub(lambda match: as_text(_value(snapshot, *match.groups())), template).strip()
