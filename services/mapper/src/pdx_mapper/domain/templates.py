"""Simple field templates: ``{deal.title}``, ``{deal.id}``, ``{org.name}``, ``{person.name}``, ``{person.email}``,
``{deal.custom.<field name or key>}``. Unknown placeholders render empty. Pure."""

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{([a-z_]+)\.([A-Za-z0-9_]+)(?:\.([^{}]+))?\}")


def custom_field(snapshot: Any, name_or_key: str) -> Any:
    custom = snapshot.deal.get("custom_fields") or {}
    key = name_or_key
    for f in snapshot.deal_fields:
        if str(f.get("name", "")).lower() == name_or_key.lower():
            key = f.get("key") or f.get("field_code") or key
    value = custom.get(key)
    if isinstance(value, dict):
        value = value.get("value")
    return value


def _value(snapshot: Any, entity: str, attr: str, rest: str | None) -> Any:
    if entity == "deal" and attr == "custom" and rest:
        return custom_field(snapshot, rest)
    source = {"deal": snapshot.deal, "org": snapshot.org, "person": snapshot.person}.get(entity) or {}
    if entity == "person" and attr in ("email", "phone"):
        values = source.get(attr + "s") or []
        return next((v.get("value") for v in values if v.get("primary")), values[0].get("value") if values else "")
    return source.get(attr)


def render(template: str | None, snapshot: Any) -> str | None:
    if template is None:
        return None

    def sub(match: re.Match) -> str:
        value = _value(snapshot, *match.groups())
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(sub, template).strip()
