"""Does a panel answer fit what Pipedrive documents for JSON panels? Pure; every panel answer is checked before it
leaves (and every test answer too): at most 10 objects of at most 20 fields, each field of an allowed type and shape.

    problems({"data": [{"id": 1, "header": "x", "total": {"code": "NZD", "value": 1}}]}, 200)  ->  []
"""

import re
from datetime import date, datetime
from typing import Any

from pdx_crmcard.domain.panel import FIELDS, MAX_FIELDS, MAX_OBJECTS

ALLOWED_TYPES = {"text", "numerical", "date", "date-time", "email", "link", "phone", "address", "currency",
                 "label", "tags"}
LABEL_COLORS = {"green", "blue", "red", "yellow", "purple", "gray"}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def problems(body: Any, status: int = 200) -> list[str]:
    """Empty when ``body`` (with HTTP ``status``) is a panel Pipedrive can show; else what is wrong."""
    if not isinstance(body, dict):
        return ["the answer is not a JSON object"]
    if status > 300:
        return _error_problems(body)
    found = [f"unknown top-level key {k!r}" for k in body if k not in ("data", "external_link", "settings")]
    data = body.get("data")
    if not isinstance(data, list):
        return [*found, "data is not a list"]
    if len(data) > MAX_OBJECTS:
        found.append(f"{len(data)} objects (at most {MAX_OBJECTS})")
    for obj in data:
        found += _object_problems(obj)
    found += _link_problems(body.get("external_link"), "external_link", need_label=True)
    found += _link_problems(body.get("settings"), "settings", need_label=False)
    return found


def _error_problems(body: dict[str, Any]) -> list[str]:
    error = body.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("title"), str) or not error["title"]:
        return ["an error answer needs error.title"]
    extra = [k for k in error if k not in ("title", "subtitle", "action")]
    return [f"unknown error key {k!r}" for k in extra]


def _object_problems(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        return ["an object is not a JSON object"]
    name = obj.get("id")
    found = [] if isinstance(name, str | int) and str(name) else ["an object has no id"]
    if not isinstance(obj.get("header"), str) or not obj["header"]:
        found.append(f"object {name}: no header")
    fields = {k: v for k, v in obj.items() if k not in ("id", "header")}
    if len(fields) > MAX_FIELDS:
        found.append(f"object {name}: {len(fields)} fields (at most {MAX_FIELDS})")
    for key, value in fields.items():
        kind = FIELDS.get(key)
        if kind not in ALLOWED_TYPES:
            found.append(f"object {name}: field {key!r} is not in the data structure")
        elif not _fits(kind, value):
            found.append(f"object {name}: field {key!r} is not a valid {kind}: {value!r}")
    return found


def _fits(kind: str, value: Any) -> bool:
    checks = {
        "text": lambda v: isinstance(v, str),
        "numerical": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "date": lambda v: isinstance(v, str) and _parses(date.fromisoformat, v) and len(v) == 10,
        "date-time": lambda v: isinstance(v, str) and _parses(datetime.fromisoformat, v.replace("Z", "+00:00")),
        "link": _link_fits,
        "currency": lambda v: (isinstance(v, dict) and set(v) == {"code", "value"} and isinstance(v["code"], str)
                               and bool(_CURRENCY.match(v["code"])) and isinstance(v["value"], int | float)),
        "label": lambda v: (isinstance(v, dict) and set(v) == {"color", "label"} and v["color"] in LABEL_COLORS
                            and isinstance(v["label"], str) and bool(v["label"])),
    }
    return checks.get(kind, lambda v: isinstance(v, str))(value)


def _link_fits(value: Any) -> bool:
    """A URL, or ``{"label"?: str, "value": URL, "external": bool}`` (external: Pipedrive opens a new tab)."""
    if isinstance(value, dict):
        return (set(value) <= {"label", "value", "external"} and isinstance(value.get("external"), bool)
                and isinstance(value.get("label", ""), str) and _link_fits(value.get("value")))
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _parses(parse, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _link_problems(value: Any, name: str, *, need_label: bool) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict) or not str(value.get("url", "")).startswith(("https://", "http://")):
        return [f"{name} needs a url"]
    if need_label and not value.get("label"):
        return [f"{name} needs a label"]
    return []
