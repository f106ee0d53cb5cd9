"""Sandbox control for persons, organisations and products as a user edits them in Pipedrive (webhooks with
``change_source: "app"``), and the API tokens the app spent.

- ``POST /_sandbox/{persons|organizations|products}`` creates one (API v2 POST body), 201 with the record.
- ``POST /_sandbox/{persons|organizations|products}/{id}`` changes one (API v2 PATCH body: only the fields sent change).
- ``DELETE /_sandbox/{persons|organizations|products}/{id}`` deletes one (``is_deleted``; the API then answers 404).
- ``GET /_sandbox/{persons|organizations|products}``: every record, deleted ones too.
- ``GET /_sandbox/tokens``: ``data`` ``{"7001": 44}`` (tokens per company), ``additional_data.by_route``;
  ``DELETE /_sandbox/tokens`` resets it.
"""

import copy
from typing import Any

from aiohttp import web

from pdx_sandbox.pipedrive.http import json_body, ok, path_id, state_of
from pdx_sandbox.pipedrive.records import KINDS


def _user_create(entity: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        """``POST /_sandbox/organizations {"name": "Kowhai Ltd", "address": {...}}`` (or /persons, /products): a
        record a user adds in Pipedrive, with the API v2 body; webhook ``create`` with change_source "app"."""
        state, body = state_of(request), await json_body(request)
        return ok(copy.deepcopy(state.create_record(entity, body, source="app")), status=201)

    return handler


def _user_edit(entity: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        """``POST /_sandbox/organizations/101 {"address": {"street_number": "14", "route": "Queen Street", ...}}``
        (or /persons/201 ``{"emails": [...], "phones": [...], "postal_address": {...}}``, /products/301
        ``{"prices": [{"currency": "NZD", "price": 200}]}``): a user's edit with the API v2 PATCH body; only the fields
        sent change; webhook ``change`` with change_source "app" and ``previous`` the changed fields."""
        state, body = state_of(request), await json_body(request)
        return ok(copy.deepcopy(state.update_record(entity, path_id(request), body, source="app")))

    return handler


def _user_delete(entity: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        """``DELETE /_sandbox/products/301``: a user deletes it; webhook ``delete`` (data null), change_source "app"."""
        record_id = path_id(request)
        state_of(request).delete_record(entity, record_id, source="app")
        return ok({"id": record_id})

    return handler


def _records(entity: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        """``GET /_sandbox/products``: every record, deleted ones too (``is_deleted``), without auth."""
        records = getattr(state_of(request), KINDS[entity])
        return ok([copy.deepcopy(r) for _, r in sorted(records.items())])

    return handler


async def tokens(request: web.Request) -> web.Response:
    """``GET /_sandbox/tokens`` -> ``{"success": true, "data": {"7001": 26}, "additional_data": {"by_route":
    {"GET /api/v2/deals/{id}": 1, "PATCH /api/v2/deals/{id}": 25}}}``: API tokens spent per company (each call's
    ``x-token-cost``) since the start or the last reset."""
    per_company, by_route = state_of(request).token_summary()
    return ok(per_company, additional_data={"by_route": by_route})


async def reset_tokens(request: web.Request) -> web.Response:
    """``DELETE /_sandbox/tokens``: start counting again; answers what was spent until now, as GET does."""
    per_company, by_route = state_of(request).reset_tokens()
    return ok(per_company, additional_data={"by_route": by_route})


def add_routes(app: web.Application) -> None:
    r = app.router
    for entity, path in KINDS.items():
        r.add_get(f"/_sandbox/{path}", _records(entity))
        r.add_post(f"/_sandbox/{path}", _user_create(entity))
        r.add_post(f"/_sandbox/{path}/{{id}}", _user_edit(entity))
        r.add_delete(f"/_sandbox/{path}/{{id}}", _user_delete(entity))
    r.add_get("/_sandbox/tokens", tokens)
    r.add_delete("/_sandbox/tokens", reset_tokens)
