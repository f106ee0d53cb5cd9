"""API v1 routes under ``/api/v1``: notes, currencies, webhooks, users, deal/person/organization fields (v1 shapes,
v1 times)."""

import copy
from typing import Any

from aiohttp import web

from pdx_sandbox.pipedrive import fields as fields_api
from pdx_sandbox.pipedrive import users
from pdx_sandbox.pipedrive.http import json_body, ok, path_id, query_int, state_of
from pdx_sandbox.pipedrive.state import PipedriveState
from pdx_sandbox.pipedrive.store import Invalid, v1_time

CURRENCIES = [("NZD", "New Zealand Dollar", "NZ$"), ("AUD", "Australian Dollar", "A$"), ("USD", "US Dollar", "$"),
              ("EUR", "Euro", "€"), ("GBP", "British Pound", "£"), ("JPY", "Japanese Yen", "¥"),
              ("CAD", "Canadian Dollar", "CA$")]
EVENT_ACTIONS = ("create", "change", "delete", "*", "added", "updated", "deleted", "merged")
EVENT_OBJECTS = ("deal", "person", "organization", "product", "activity", "note", "pipeline", "stage", "user",
                 "lead", "*")


def v1_errors(errors: dict[str, list[str]]) -> web.Response:
    return web.json_response({"status": "error", "success": False, "errors": errors}, status=400)


def note_v1(state: PipedriveState, note: dict[str, Any]) -> dict[str, Any]:
    deal = state.deals.get(note["deal_id"]) if note["deal_id"] else None
    person = state.persons.get(note["person_id"]) if note["person_id"] else None
    org = state.organizations.get(note["org_id"]) if note["org_id"] else None
    user = state.user
    return {**copy.deepcopy(note), "deal": {"title": deal["title"]} if deal else None,
            "person": {"name": person["name"]} if person else None,
            "organization": {"name": org["name"]} if org else None, "project": None,
            "user": {"email": user["email"], "icon_url": None, "is_you": True, "name": user["name"]}}


def query_int_value(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise Invalid("deal_id must be an integer") from exc


async def create_note(request: web.Request) -> web.Response:
    """``POST /api/v1/notes {"content": "<p>Xero draft invoice INV-0042</p>", "deal_id": 1,
    "pinned_to_deal_flag": 1}``"""
    state, body = state_of(request), await json_body(request)
    if not body.get("content"):
        raise Invalid("content is required")
    deal = state.get("deals", query_int_value(body["deal_id"])) if body.get("deal_id") else None
    if deal is None and not any(body.get(k) for k in ("person_id", "org_id", "lead_id", "project_id")):
        raise Invalid("one of deal_id, person_id, org_id, lead_id or project_id is required")
    now = state.clock.time()
    note_id = max([0, *state.notes]) + 1
    note = {"id": note_id, "active_flag": True, "add_time": v1_time(now), "update_time": v1_time(now),
            "content": body["content"], "lead_id": body.get("lead_id"), "deal_id": deal["id"] if deal else None,
            "person_id": body.get("person_id") or (deal or {}).get("person_id"),
            "org_id": body.get("org_id") or (deal or {}).get("org_id"), "project_id": body.get("project_id"),
            "last_update_user_id": state.user_id, "user_id": body.get("user_id") or state.user_id}
    for flag in ("lead", "deal", "organization", "person", "project"):
        note[f"pinned_to_{flag}_flag"] = bool(body.get(f"pinned_to_{flag}_flag"))
    state.notes[note_id] = note
    return ok(note_v1(state, note))


async def list_notes(request: web.Request) -> web.Response:
    state = state_of(request)
    filters = {k: query_int(request, k) for k in ("deal_id", "person_id", "org_id", "user_id")}
    notes = [note_v1(state, n) for _, n in sorted(state.notes.items())
             if all(v is None or n[k] == v for k, v in filters.items())]
    start, limit = query_int(request, "start") or 0, query_int(request, "limit") or 100
    more = start + limit < len(notes)
    pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return ok(notes[start:start + limit], additional_data={"pagination": pagination})


async def currencies(request: web.Request) -> web.Response:
    term = request.query.get("term", "").lower()
    data = [{"id": i, "code": code, "name": name, "decimal_points": 0 if code == "JPY" else 2, "symbol": symbol,
             "active_flag": True, "is_custom_flag": False}
            for i, (code, name, symbol) in enumerate(CURRENCIES, 1) if term in code.lower() or term in name.lower()]
    return ok(data)


def webhook_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    errors = {k: ["is required"] for k in ("subscription_url", "event_action", "event_object", "name")
              if not body.get(k)}
    if body.get("subscription_url") and not str(body["subscription_url"]).startswith(("http://", "https://")):
        errors["subscription_url"] = ["invalid or non-reachable URL"]
    if body.get("event_action") and body["event_action"] not in EVENT_ACTIONS:
        errors["event_action"] = [f"must be one of {', '.join(EVENT_ACTIONS)}"]
    if body.get("event_object") and body["event_object"] not in EVENT_OBJECTS:
        errors["event_object"] = [f"must be one of {', '.join(EVENT_OBJECTS)}"]
    if str(body.get("version", "2.0")) not in ("1.0", "2.0"):
        errors["version"] = ["must be 1.0 or 2.0"]
    return errors


async def create_webhook(request: web.Request) -> web.Response:
    """``POST /api/v1/webhooks {"subscription_url": "https://app/webhooks/pipedrive", "event_action": "*",
    "event_object": "deal", "name": "Xero drafts", "version": "2.0", "http_auth_user": "u",
    "http_auth_password": "p"}``; only version 2.0 payloads are sent."""
    state, body = state_of(request), await json_body(request)
    errors = webhook_errors(body)
    if errors:
        return v1_errors(errors)
    webhook_id = max([0, *state.webhooks]) + 1
    webhook = {"id": webhook_id, "company_id": state.company_id, "owner_id": state.user_id,
               "user_id": body.get("user_id") or state.user_id, "event_action": body["event_action"],
               "event_object": body["event_object"], "subscription_url": body["subscription_url"],
               "version": str(body.get("version", "2.0")), "is_active": 1, "add_time": state.now(),
               "remove_time": None, "type": "general", "http_auth_user": body.get("http_auth_user"),
               "http_auth_password": body.get("http_auth_password"), "remove_reason": None,
               "last_delivery_time": None, "last_http_status": None, "admin_id": state.user_id, "name": body["name"]}
    state.webhooks[webhook_id] = webhook
    return web.json_response({"status": "ok", "success": True, "data": copy.deepcopy(webhook)}, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    hooks = [copy.deepcopy(w) for _, w in sorted(state_of(request).webhooks.items())]
    return web.json_response({"status": "ok", "success": True, "data": hooks})


async def delete_webhook(request: web.Request) -> web.Response:
    if state_of(request).webhooks.pop(path_id(request), None) is None:
        return web.json_response({"status": "error", "success": False, "errors": {"id": ["not found"]}}, status=404)
    return web.json_response({"status": "ok", "success": True})


def _me_id(request: web.Request, state: PipedriveState) -> int:
    """Whose request this is: the OAuth token's user (the one who consented), the admin for the API token."""
    header = request.headers.get("Authorization", "")
    return state.token_user(header[7:].strip()) if header.lower().startswith("bearer ") else state.user_id


async def users_me(request: web.Request) -> web.Response:
    """``GET /api/v1/users/me``: the token's own user, with its company's id, name and domain."""
    state = state_of(request)
    return ok(users.me(state, _me_id(request, state)))


async def get_user(request: web.Request) -> web.Response:
    """``GET /api/v1/users/{id}``: any user of the company, ``is_you`` true for the tokens' own user."""
    state = state_of(request)
    return ok(users.base_user(state, users.find(state, path_id(request)), _me_id(request, state)))


async def list_users(request: web.Request) -> web.Response:
    state = state_of(request)
    me_id = _me_id(request, state)
    return ok([users.base_user(state, u, me_id) for _, u in sorted(state.users.items())])


def _v1_fields(request: web.Request, entity: str) -> web.Response:
    state = state_of(request)
    fields = [fields_api.field_v1(state, entity, f, order) for order, f in
              enumerate(fields_api.all_fields(state, entity), 1)]
    start, limit = query_int(request, "start") or 0, query_int(request, "limit") or 100
    more = start + limit < len(fields)
    pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return ok(fields[start:start + limit], additional_data={"pagination": pagination})


async def deal_fields_v1(request: web.Request) -> web.Response:
    return _v1_fields(request, "deal")


async def person_fields_v1(request: web.Request) -> web.Response:
    return _v1_fields(request, "person")


async def organization_fields_v1(request: web.Request) -> web.Response:
    return _v1_fields(request, "organization")


async def add_deal_field(request: web.Request) -> web.Response:
    """``POST /api/v1/dealFields {"name": "Invoice ref", "field_type": "varchar"}`` (enum/set: ``"options":
    [{"label": "North"}]``): a new custom field with a generated 40-hex key."""
    state, body = state_of(request), await json_body(request)
    created = fields_api.create(state, "deal", body)
    return ok(fields_api.field_v1(state, "deal", {**created, "custom": True}, len(state.deal_fields)))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/notes", create_note)
    r.add_get("/api/v1/notes", list_notes)
    r.add_get("/api/v1/currencies", currencies)
    r.add_post("/api/v1/webhooks", create_webhook)
    r.add_get("/api/v1/webhooks", list_webhooks)
    r.add_delete("/api/v1/webhooks/{id}", delete_webhook)
    r.add_get("/api/v1/users/me", users_me)
    r.add_get("/api/v1/users", list_users)
    r.add_get("/api/v1/users/{id}", get_user)
    r.add_get("/api/v1/dealFields", deal_fields_v1)
    r.add_post("/api/v1/dealFields", add_deal_field)
    r.add_get("/api/v1/personFields", person_fields_v1)
    r.add_get("/api/v1/organizationFields", organization_fields_v1)
