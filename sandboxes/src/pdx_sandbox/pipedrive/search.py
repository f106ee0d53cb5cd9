"""``GET /api/v2/persons/search`` and ``/products/search``: case-insensitive, substring or ``exact_match``.

``/persons/search?term=john.smith@acme.example&fields=email&exact_match=true`` ->
``{"data": {"items": [{"result_score": 1.0, "item": {"id": 202, "type": "person", "name": "John Smith",
"emails": ["john.smith@acme.example"], "phones": [...], "organization": {"id": 102, ...}, ...}}]}}``
"""

from typing import Any

from aiohttp import web

from pdx_sandbox.pipedrive.http import ok, query_int, state_of
from pdx_sandbox.pipedrive.store import Invalid

PERSON_FIELDS = ("custom_fields", "email", "notes", "phone", "name")
PRODUCT_FIELDS = ("code", "custom_fields", "name")


def _criteria(request: web.Request, allowed: tuple[str, ...]) -> tuple[str, set[str], bool]:
    term = request.query.get("term", "").strip()
    exact = request.query.get("exact_match", "").lower() in ("1", "true")
    if len(term) < (1 if exact else 2):
        raise Invalid("term must be at least 2 characters (1 with exact_match)")
    fields = set(request.query.get("fields", ",".join(allowed)).split(","))
    if not fields <= set(allowed):
        raise Invalid(f"fields must be among {allowed}")
    return term.lower(), fields, exact


def _score(term: str, values: list[Any], exact: bool) -> float | None:
    texts = [str(v).lower() for v in values if v not in (None, "")]
    if any(t == term for t in texts):
        return 1.0
    if not exact and any(term in t for t in texts):
        return 0.5
    return None


def _result(request: web.Request, scored: list[tuple[float, dict]]) -> web.Response:
    limit = min(query_int(request, "limit") or 100, 500)
    scored.sort(key=lambda pair: (-pair[0], pair[1]["id"]))
    items = [{"result_score": score, "item": item} for score, item in scored[:limit]]
    return ok({"items": items}, additional_data={"next_cursor": None})


def _person_values(person: dict, fields: set[str]) -> list[Any]:
    values: list[Any] = []
    if "name" in fields:
        values += [person["name"], person["first_name"], person["last_name"]]
    if "email" in fields:
        values += [e["value"] for e in person["emails"]]
    if "phone" in fields:
        values += [p["value"] for p in person["phones"]]
    if "notes" in fields:
        values.append(person["notes"])
    if "custom_fields" in fields:
        values += list(person["custom_fields"].values())
    return values


async def persons(request: web.Request) -> web.Response:
    state = state_of(request)
    term, fields, exact = _criteria(request, PERSON_FIELDS)
    org_filter = query_int(request, "organization_id")
    scored = []
    for person in state.persons.values():
        if person["is_deleted"]:
            continue
        score = _score(term, _person_values(person, fields), exact)
        if score is None or (org_filter is not None and person["org_id"] != org_filter):
            continue
        org = state.organizations.get(person["org_id"]) if person["org_id"] else None
        item = {"id": person["id"], "type": "person", "name": person["name"],
                "phones": [p["value"] for p in person["phones"]], "emails": [e["value"] for e in person["emails"]],
                "visible_to": person["visible_to"], "owner": {"id": person["owner_id"]},
                "organization": {"id": org["id"], "name": org["name"], "address": (org["address"] or {}).get("value")}
                if org else None, "custom_fields": [], "notes": []}
        scored.append((score, item))
    return _result(request, scored)


async def products(request: web.Request) -> web.Response:
    state = state_of(request)
    term, fields, exact = _criteria(request, PRODUCT_FIELDS)
    scored = []
    for product in state.products.values():
        if product["is_deleted"]:
            continue
        values = ([product["name"]] if "name" in fields else []) + ([product["code"]] if "code" in fields else [])
        if "custom_fields" in fields:
            values += list(product["custom_fields"].values())
        score = _score(term, values, exact)
        if score is not None:
            item = {"id": product["id"], "type": "product", "name": product["name"], "code": product["code"],
                    "visible_to": product["visible_to"], "owner": {"id": product["owner_id"]}, "custom_fields": []}
            scored.append((score, item))
    return _result(request, scored)
