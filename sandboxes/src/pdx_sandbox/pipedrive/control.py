"""Sandbox control under ``/_sandbox`` (no auth): act as a Pipedrive user, inspect what the product did.

``POST /_sandbox/deals/1/move {"stage": "Won"}`` (or ``{"stage_id": 5}``) moves deal 1 as a user would and fires the
webhook with ``change_source: "app"``; the answer is the deal plus ``additional_data: {old_stage_id, old_stage,
new_stage}``.

Persons, organisations and products as a user edits them, and the tokens spent: ``record_control``.
"""

import copy
from typing import Any

from aiohttp import web

from pdx_sandbox.faults import BadFault, parse
from pdx_sandbox.pipedrive import fields as fields_api
from pdx_sandbox.pipedrive.http import json_body, ok, path_id, query_int, state_of
from pdx_sandbox.pipedrive.store import Invalid, NotFound


def _stage_id(state: Any, body: dict[str, Any]) -> int | None:
    if body.get("stage") is not None:
        return state.stage_by_name(str(body["stage"]))["id"]
    if body.get("stage_id") is not None:
        return int(body["stage_id"])
    return None


async def move_deal(request: web.Request) -> web.Response:
    state, deal_id, body = state_of(request), path_id(request), await json_body(request)
    deal = state.get("deals", deal_id)
    stage_id = _stage_id(state, body)
    if stage_id is None:
        raise Invalid('give "stage_id" or "stage"')
    old_stage = state.stages[deal["stage_id"]]
    changes = {"stage_id": stage_id, **({"status": body["status"]} if body.get("status") else {})}
    deal = state.update_deal(deal_id, changes, source="app")
    moved = {"old_stage_id": old_stage["id"], "old_stage": old_stage["name"],
             "new_stage": state.stages[deal["stage_id"]]["name"]}
    return ok(copy.deepcopy(deal), additional_data=moved)


async def edit_deal(request: web.Request) -> web.Response:
    """``PATCH /_sandbox/deals/1 {"custom_fields": {"<key>": "PO-1"}}``: a user edit, webhook source "app"."""
    state, deal_id, body = state_of(request), path_id(request), await json_body(request)
    state.get("deals", deal_id)
    if body.get("stage") is not None:
        body["stage_id"] = _stage_id(state, body)
    changes = {k: v for k, v in body.items() if k != "stage"}
    return ok(copy.deepcopy(state.update_deal(deal_id, changes, source="app")))


async def create_deal(request: web.Request) -> web.Response:
    """``POST /_sandbox/deals {"title": "Test", "currency": "NZD", "stage": "Negotiations Started",
    "person_id": 201, "org_id": 101, "custom_fields": {...}, "products": [{"product_id": 301, "quantity": 2,
    "item_price": 180, "tax": 15, "tax_method": "exclusive", "discount": 10, "discount_type": "percentage"}],
    "discounts": [{"description": "5%", "amount": 5, "type": "percentage"}]}``"""
    state, body = state_of(request), await json_body(request)
    fields = {k: v for k, v in body.items() if k not in ("products", "discounts", "stage")}
    if body.get("stage") is not None:
        fields["stage_id"] = _stage_id(state, body)
    deal = state.create_deal(fields, body.get("products") or [], body.get("discounts") or [], source="app")
    return ok(copy.deepcopy(deal), status=201)


async def list_deals(request: web.Request) -> web.Response:
    """``GET /_sandbox/deals?pipeline_id=1``: every deal, without auth or rate limit."""
    pipeline_id = query_int(request, "pipeline_id")
    deals = [d for _, d in sorted(state_of(request).deals.items())
             if pipeline_id is None or d["pipeline_id"] == pipeline_id]
    return ok(copy.deepcopy(deals))


async def webhooks(request: web.Request) -> web.Response:
    """``GET /_sandbox/webhooks``: the webhook subscriptions the app registered (their passwords left out)."""
    return ok([{k: v for k, v in w.items() if k != "http_auth_password"}
               for _, w in sorted(state_of(request).webhooks.items())])


async def requests_log(request: web.Request) -> web.Response:
    prefix = request.query.get("path_prefix", "")
    return ok([r for r in state_of(request).requests if r["path"].startswith(prefix)])


async def deliveries(request: web.Request) -> web.Response:
    return ok(state_of(request).deliveries)


async def events(request: web.Request) -> web.Response:
    return ok([{"id": k, **v} for k, v in state_of(request).events.items()])


def _by_deal(request: web.Request, records: dict[int, dict]) -> list[dict]:
    deal_id = query_int(request, "deal_id")
    return [r for _, r in sorted(records.items()) if deal_id is None or r["deal_id"] == deal_id]


async def activities(request: web.Request) -> web.Response:
    return ok(_by_deal(request, state_of(request).activities))


async def notes(request: web.Request) -> web.Response:
    return ok(_by_deal(request, state_of(request).notes))


async def redeliver(request: web.Request) -> web.Response:
    """``POST /_sandbox/webhooks/redeliver {"event_id": "<meta.id>", "times": 2}``"""
    state, body = state_of(request), await json_body(request)
    try:
        records = await state.redeliver(str(body.get("event_id")), int(body.get("times", 1)))
    except KeyError as exc:
        raise NotFound(f"event {body.get('event_id')!r} not found") from exc
    return ok(records)


async def advance_clock(request: web.Request) -> web.Response:
    """``POST /_sandbox/clock/advance {"seconds": 3600}``: expire tokens and rate windows without waiting."""
    state, body = state_of(request), await json_body(request)
    state.clock.advance(float(body.get("seconds", 0)))
    return ok({"now": state.now()})


async def revoke_tokens(request: web.Request) -> web.Response:
    state_of(request).revoke_tokens()
    return ok({"revoked": True})


async def add_fault(request: web.Request) -> web.Response:
    """``POST /_sandbox/faults {"status": 429, "ratio": 0.2, "paths": ["/api/v2/"], "retry_after": 2}``
    (see ``pdx_sandbox.faults``)."""
    try:
        fault = parse(await json_body(request))
    except BadFault as exc:
        raise Invalid(str(exc)) from exc
    state_of(request).faults.add(fault)
    return ok(fault.to_dict(), status=201)


async def list_faults(request: web.Request) -> web.Response:
    return ok(state_of(request).faults.describe())


async def clear_faults(request: web.Request) -> web.Response:
    faults = state_of(request).faults
    rules = faults.describe()
    faults.clear()
    return ok(rules)


def _user_summary(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "name": user["name"], "email": user["email"], "is_admin": user["is_admin"],
            "active_flag": user["active_flag"]}


async def list_users(request: web.Request) -> web.Response:
    """``GET /_sandbox/users``: the company's users ``[{id, name, email, is_admin, active_flag}]`` and, in
    ``additional_data``, ``company_id``, ``admin_user_id`` (the OAuth tokens' user) and ``regular_user_id``."""
    state = state_of(request)
    users = [_user_summary(u) for _, u in sorted(state.users.items())]
    regular = next((u["id"] for u in users if not u["is_admin"] and u["active_flag"]), None)
    return ok(users, additional_data={"company_id": state.company_id, "admin_user_id": state.user_id,
                                      "regular_user_id": regular})


async def add_user(request: web.Request) -> web.Response:
    """``POST /_sandbox/users {"name": "Ann", "email": "ann@demo.example", "is_admin": false, "active": true}``"""
    state, body = state_of(request), await json_body(request)
    if not body.get("name") or not body.get("email"):
        raise Invalid("name and email are required")
    user_id = max([0, *state.users]) + 1
    user = state.add_user(user_id, str(body["name"]), str(body["email"]), admin=bool(body.get("is_admin")),
                          active=bool(body.get("active", True)))
    return ok(_user_summary(user), status=201)


async def list_fields(request: web.Request) -> web.Response:
    """``GET /_sandbox/fields?entity=deal``: the custom fields ``[{id, key, name, field_type, options}]``."""
    fields = state_of(request).fields_of(request.query.get("entity", "deal"))
    return ok([{k: f[k] for k in ("id", "key", "name", "field_type", "options")} for f in fields.values()])


async def add_field(request: web.Request) -> web.Response:
    """``POST /_sandbox/fields {"entity": "deal", "name": "Invoice ref", "field_type": "varchar",
    "values": {"1": "REF-77"}}`` adds a custom field (40-hex key; enum/set need ``"options": [{"label": "A"}]``) and
    sets its value on the records named in ``values`` (deal edits fire webhooks, as a user's edit does)."""
    state, body = state_of(request), await json_body(request)
    entity = str(body.get("entity", "deal"))
    values = body.get("values") or {}
    if not isinstance(values, dict):
        raise Invalid("values must be an object of record id -> value")
    targets = {"deal": "deals", "person": "persons", "organization": "organizations"}
    try:
        values = {int(record_id): value for record_id, value in values.items()}
    except ValueError as exc:
        raise Invalid("values are keyed by record id") from exc
    for record_id in values:
        state.get(targets.get(entity, "deals"), record_id)
    created = fields_api.create(state, entity, body)
    for record_id, value in values.items():
        if entity == "deal":
            state.update_deal(record_id, {"custom_fields": {created["key"]: value}}, source="app")
        else:
            state.set_custom(entity, record_id, {created["key"]: value})
    summary = {k: created[k] for k in ("id", "key", "name", "field_type", "options")}
    return ok(summary, additional_data={"values": {str(k): v for k, v in values.items()}}, status=201)


async def delete_field(request: web.Request) -> web.Response:
    """``DELETE /_sandbox/fields/<40-hex key>``: an admin deletes a custom field; records lose its value, and a later
    write naming it is refused (400 unknown custom fields)."""
    state, key = state_of(request), request.match_info["key"]
    entity = next((e for e in ("deal", "person", "organization") if key in state.fields_of(e)), None)
    if entity is None:
        raise NotFound(f"Field {key!r} not found")
    field = state.fields_of(entity).pop(key)
    for record in getattr(state, f"{entity}s").values():
        record["custom_fields"].pop(key, None)
    return ok({k: field[k] for k in ("id", "key", "name", "field_type")}, additional_data={"entity": entity})


def _custom_edit(entity: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        """``PATCH /_sandbox/persons/201 {"custom_fields": {"<key>": "C-1"}}`` (or /organizations/101): a quiet set-up
        edit of custom fields, no webhook (``POST /_sandbox/persons/201`` is a user's edit, with one)."""
        state, body = state_of(request), await json_body(request)
        values = body.get("custom_fields")
        if not isinstance(values, dict):
            raise Invalid('give {"custom_fields": {"<key>": value}}')
        return ok(copy.deepcopy(state.set_custom(entity, path_id(request), values)))

    return handler


def _app_config(state: Any) -> dict[str, Any]:
    host = f"{state.base_url or ''}/host/app-settings?company_id={state.company_id}"
    return {"settings_url": state.app_settings_url, "jwt_secret_set": state.jwt_secret is not None,
            "panel_url": state.panel_url, "panel_jwt_secret_set": state.panel_jwt_secret is not None,
            "modals": dict(state.modals), "modal_jwt_secret_set": state.modal_jwt_secret is not None,
            "client_id": state.client_id, "host_urls": {"admin": f"{host}&user_id={state.user_id}",
                                                        "index": f"{state.base_url or ''}/host/"}}


def _http_url(url: Any, key: str) -> str | None:
    if url is not None and not str(url).startswith(("http://", "https://")):
        raise Invalid(f"{key} must be an http(s) URL")
    return None if url is None else str(url)


async def get_app(request: web.Request) -> web.Response:
    return ok(_app_config(state_of(request)))


async def set_app(request: web.Request) -> web.Response:
    """``POST /_sandbox/app {"settings_url": "http://127.0.0.1:8080/app/entry", "jwt_secret": null,
    "panel_url": "http://127.0.0.1:8083/panel", "panel_jwt_secret": "...", "modals": {"Replay":
    "http://127.0.0.1:8080/deal/modal/replay"}, "modal_jwt_secret": null}``: the app's Developer Hub entries for
    "Custom UI for app settings", the deal's JSON panel and its JSON modals (a secret null: the client secret
    signs). Every key is optional; ``modals`` replaces the whole list (``{}`` removes them)."""
    state, body = state_of(request), await json_body(request)
    for key, name in (("settings_url", "app_settings_url"), ("panel_url", "panel_url")):
        if key in body:
            setattr(state, name, _http_url(body[key], key))
    for key in ("jwt_secret", "panel_jwt_secret", "modal_jwt_secret"):
        if key in body:
            setattr(state, key, body[key] or None)
    if "modals" in body:
        modals = body["modals"] or {}
        if not isinstance(modals, dict) or len(modals) > 3:
            raise Invalid('modals must be {"<action name>": "<url>"}, at most 3 (Pipedrive\'s limit per location)')
        state.modals = {str(name)[:30]: _http_url(url, f"modals[{name!r}]") for name, url in modals.items()}
    state.changed()
    return ok(_app_config(state))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/_sandbox/deals", create_deal)
    r.add_get("/_sandbox/deals", list_deals)
    r.add_get("/_sandbox/webhooks", webhooks)
    r.add_patch("/_sandbox/deals/{id}", edit_deal)
    r.add_post("/_sandbox/deals/{id}/move", move_deal)
    r.add_get("/_sandbox/requests", requests_log)
    r.add_get("/_sandbox/deliveries", deliveries)
    r.add_get("/_sandbox/events", events)
    r.add_get("/_sandbox/activities", activities)
    r.add_get("/_sandbox/notes", notes)
    r.add_post("/_sandbox/webhooks/redeliver", redeliver)
    r.add_post("/_sandbox/clock/advance", advance_clock)
    r.add_post("/_sandbox/tokens/revoke", revoke_tokens)
    r.add_post("/_sandbox/faults", add_fault)
    r.add_get("/_sandbox/faults", list_faults)
    r.add_delete("/_sandbox/faults", clear_faults)
    r.add_get("/_sandbox/users", list_users)
    r.add_post("/_sandbox/users", add_user)
    r.add_get("/_sandbox/fields", list_fields)
    r.add_post("/_sandbox/fields", add_field)
    r.add_delete("/_sandbox/fields/{key}", delete_field)
    r.add_patch("/_sandbox/persons/{id}", _custom_edit("person"))
    r.add_patch("/_sandbox/organizations/{id}", _custom_edit("organization"))
    r.add_get("/_sandbox/app", get_app)
    r.add_post("/_sandbox/app", set_app)
