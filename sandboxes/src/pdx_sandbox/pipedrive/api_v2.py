"""API v2 routes under ``/api/v2``: deals, deal products and discounts, persons, organisations and products (read,
create, change, delete: ``records``), stages, pipelines, deal/person/organization fields, activities. Shapes follow
pipedrive-openapi-v2.yaml: ints for ids, custom field values under ``custom_fields[<40-hex key>]``.
"""

import copy
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pdx_sandbox.pipedrive import fields as fields_api
from pdx_sandbox.pipedrive import search
from pdx_sandbox.pipedrive.http import json_body, ok, page, path_id, query_int, state_of
from pdx_sandbox.pipedrive.store import Invalid, iso

DEAL_WRITABLE = ("title", "owner_id", "person_id", "org_id", "pipeline_id", "stage_id", "value", "currency",
                 "status", "probability", "lost_reason", "visible_to", "expected_close_date", "label_ids",
                 "custom_fields")


def deal_out(request: web.Request, deal: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(deal)
    wanted = request.query.get("custom_fields")
    if wanted:
        keys = set(wanted.split(","))
        data["custom_fields"] = {k: v for k, v in data["custom_fields"].items() if k in keys}
    return data


def _since(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise Invalid("updated_since must be RFC 3339") from exc
    return iso((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


async def list_deals(request: web.Request) -> web.Response:
    state = state_of(request)
    filters = {name: query_int(request, name) for name in ("stage_id", "pipeline_id", "person_id", "org_id")}
    since, status = _since(request.query.get("updated_since")), request.query.get("status")
    ids = {int(i) for i in request.query["ids"].split(",")} if request.query.get("ids") else None
    deals = [d for _, d in sorted(state.deals.items())
             if all(v is None or d[k] == v for k, v in filters.items())
             and (since is None or d["update_time"] >= since) and (status is None or d["status"] == status)
             and (ids is None or d["id"] in ids) and not d["is_deleted"]]
    return page(request, [deal_out(request, d) for d in deals])


async def get_deal(request: web.Request) -> web.Response:
    deal = state_of(request).get("deals", path_id(request))
    return ok(deal_out(request, deal))


async def create_deal(request: web.Request) -> web.Response:
    body = await json_body(request)
    fields = {k: v for k, v in body.items() if k in DEAL_WRITABLE}
    return ok(deal_out(request, state_of(request).create_deal(fields)))


async def patch_deal(request: web.Request) -> web.Response:
    state, deal_id = state_of(request), path_id(request)
    state.get("deals", deal_id)
    body = await json_body(request)
    changes = {k: v for k, v in body.items() if k in DEAL_WRITABLE}
    return ok(deal_out(request, state.update_deal(deal_id, changes)))


async def deal_products(request: web.Request) -> web.Response:
    state, deal_id = state_of(request), path_id(request)
    state.get("deals", deal_id)
    return page(request, copy.deepcopy(state.deal_products[deal_id]))


async def add_deal_product(request: web.Request) -> web.Response:
    state, deal_id = state_of(request), path_id(request)
    state.get("deals", deal_id)
    item = state.add_deal_product(deal_id, await json_body(request))
    return ok(copy.deepcopy(item), status=201)


async def deal_discounts(request: web.Request) -> web.Response:
    state, deal_id = state_of(request), path_id(request)
    state.get("deals", deal_id)
    return ok(copy.deepcopy(state.deal_discounts[deal_id]))


def getter(kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return ok(copy.deepcopy(state_of(request).get(kind, path_id(request))))

    return handler


def record_getter(entity: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /api/v2/persons/{id}`` (organizations, products): 404 once deleted."""
    async def handler(request: web.Request) -> web.Response:
        return ok(copy.deepcopy(state_of(request).live(entity, path_id(request))))

    return handler


def record_creator(entity: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /api/v2/organizations {"name": "Kowhai Ltd", "address": {"street_number": "5", "route": "Lambton
    Quay", "locality": "Wellington", "postal_code": "6011", "country": "New Zealand"}}`` (persons: ``name, emails,
    phones, org_id, postal_address``; products: ``name, code, description, unit, tax, prices``); fires ``create``."""
    async def handler(request: web.Request) -> web.Response:
        record = state_of(request).create_record(entity, await json_body(request))
        return ok(copy.deepcopy(record), status=201 if entity == "product" else 200)  # as the spec answers each

    return handler


def record_updater(entity: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``PATCH /api/v2/products/301 {"prices": [{"currency": "NZD", "price": 200}]}``: only the fields sent change;
    fires ``change`` (change_source api) when something did."""
    async def handler(request: web.Request) -> web.Response:
        state, record_id = state_of(request), path_id(request)
        state.live(entity, record_id)
        return ok(copy.deepcopy(state.update_record(entity, record_id, await json_body(request))))

    return handler


def record_deleter(entity: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``DELETE /api/v2/products/301`` -> ``{"success": true, "data": {"id": 301}}``; fires ``delete``."""
    async def handler(request: web.Request) -> web.Response:
        record_id = path_id(request)
        state_of(request).delete_record(entity, record_id)
        return ok({"id": record_id})

    return handler


async def list_stages(request: web.Request) -> web.Response:
    pipeline_id = query_int(request, "pipeline_id")
    stages = [s for _, s in sorted(state_of(request).stages.items())
              if pipeline_id is None or s["pipeline_id"] == pipeline_id]
    return page(request, copy.deepcopy(stages))


async def list_pipelines(request: web.Request) -> web.Response:
    return page(request, copy.deepcopy([p for _, p in sorted(state_of(request).pipelines.items())]))


def _v2_fields(entity: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return page(request, [fields_api.field_v2(f) for f in fields_api.all_fields(state_of(request), entity)])

    return handler


async def list_products(request: web.Request) -> web.Response:
    """``GET /api/v2/products[?ids=301,302&owner_id=12001&sort_by=name&sort_direction=desc]``, cursor paged."""
    state = state_of(request)
    owner_id = query_int(request, "owner_id")
    ids = {_int(i, "ids") for i in request.query["ids"].split(",") if i} if request.query.get("ids") else None
    products = [p for _, p in sorted(state.products.items()) if not p["is_deleted"]
                and (owner_id is None or p["owner_id"] == owner_id) and (ids is None or p["id"] in ids)]
    sort_by = request.query.get("sort_by", "id")
    if sort_by not in ("id", "name", "add_time", "update_time"):
        raise Invalid("sort_by must be one of id, name, add_time, update_time")
    products.sort(key=lambda p: (p[sort_by], p["id"]), reverse=request.query.get("sort_direction") == "desc")
    return page(request, copy.deepcopy(products))


def record_lister(entity: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /api/v2/persons[?ids=201,202&org_id=101&owner_id=12001&updated_since=2026-01-01T00:00:00Z]`` (and
    /organizations): the records that are not deleted, by id, cursor paged."""
    async def handler(request: web.Request) -> web.Response:
        state = state_of(request)
        kind = {"person": "persons", "organization": "organizations"}[entity]
        ids = {_int(i, "ids") for i in request.query["ids"].split(",") if i} if request.query.get("ids") else None
        filters = {name: query_int(request, name) for name in ("owner_id", "org_id") if name in request.query}
        since = _since(request.query.get("updated_since"))
        records = [r for _, r in sorted(getattr(state, kind).items()) if not r["is_deleted"]
                   and (ids is None or r["id"] in ids) and all(r.get(k) == v for k, v in filters.items())
                   and (since is None or r["update_time"] >= since)]
        return page(request, copy.deepcopy(records))

    return handler


async def create_activity(request: web.Request) -> web.Response:
    """``POST /api/v2/activities {"subject": "Invoice INV-0042 drafted", "type": "task", "deal_id": 1,
    "done": true, "note": "<p>...</p>"}``"""
    state, body = state_of(request), await json_body(request)
    deal = state.get("deals", _int(body["deal_id"], "deal_id")) if body.get("deal_id") is not None else None
    now = state.now()
    activity_id = max([0, *state.activities]) + 1
    activity = {
        "id": activity_id, "subject": body.get("subject") or "Task", "type": body.get("type") or "task",
        "owner_id": body.get("owner_id") or state.user_id, "creator_user_id": state.user_id, "is_deleted": False,
        "add_time": now, "update_time": now, "deal_id": deal["id"] if deal else None, "lead_id": body.get("lead_id"),
        "person_id": body.get("person_id") or (deal or {}).get("person_id"),
        "org_id": body.get("org_id") or (deal or {}).get("org_id"), "project_id": body.get("project_id"),
        "due_date": body.get("due_date") or now[:10], "due_time": body.get("due_time"),
        "duration": body.get("duration"), "busy": bool(body.get("busy", False)), "done": bool(body.get("done")),
        "marked_as_done_time": now if body.get("done") else None, "location": body.get("location"),
        "participants": body.get("participants") or [], "attendees": body.get("attendees") or [],
        "public_description": body.get("public_description"), "priority": body.get("priority"),
        "note": body.get("note")}
    state.activities[activity_id] = activity
    return ok(copy.deepcopy(activity))


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{name} must be an integer") from exc


async def list_activities(request: web.Request) -> web.Response:
    deal_id = query_int(request, "deal_id")
    done = request.query.get("done")
    items = [a for _, a in sorted(state_of(request).activities.items())
             if (deal_id is None or a["deal_id"] == deal_id)
             and (done is None or a["done"] == (done.lower() in ("1", "true")))]
    return page(request, copy.deepcopy(items))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v2/deals", list_deals)
    r.add_post("/api/v2/deals", create_deal)
    r.add_get("/api/v2/deals/{id}", get_deal)
    r.add_patch("/api/v2/deals/{id}", patch_deal)
    r.add_get("/api/v2/deals/{id}/products", deal_products)
    r.add_post("/api/v2/deals/{id}/products", add_deal_product)
    r.add_get("/api/v2/deals/{id}/discounts", deal_discounts)
    r.add_get("/api/v2/persons/search", search.persons)
    r.add_get("/api/v2/products/search", search.products)
    for entity, path in (("person", "persons"), ("organization", "organizations"), ("product", "products")):
        r.add_post(f"/api/v2/{path}", record_creator(entity))
        r.add_get(f"/api/v2/{path}/{{id}}", record_getter(entity))
        r.add_patch(f"/api/v2/{path}/{{id}}", record_updater(entity))
        r.add_delete(f"/api/v2/{path}/{{id}}", record_deleter(entity))
    r.add_get("/api/v2/stages", list_stages)
    r.add_get("/api/v2/stages/{id}", getter("stages"))
    r.add_get("/api/v2/pipelines", list_pipelines)
    r.add_get("/api/v2/pipelines/{id}", getter("pipelines"))
    r.add_get("/api/v2/dealFields", _v2_fields("deal"))
    r.add_get("/api/v2/personFields", _v2_fields("person"))
    r.add_get("/api/v2/organizationFields", _v2_fields("organization"))
    r.add_get("/api/v2/products", list_products)
    r.add_get("/api/v2/persons", record_lister("person"))
    r.add_get("/api/v2/organizations", record_lister("organization"))
    r.add_post("/api/v2/activities", create_activity)
    r.add_get("/api/v2/activities", list_activities)
