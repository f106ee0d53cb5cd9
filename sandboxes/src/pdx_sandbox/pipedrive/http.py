"""Pipedrive's response envelope and error shape, and the app key holding the state."""

import json
from typing import Any

from aiohttp import web

from pdx_sandbox.pipedrive.state import PipedriveState
from pdx_sandbox.pipedrive.store import Invalid

PIPEDRIVE_STATE: web.AppKey[PipedriveState] = web.AppKey("pipedrive_state", PipedriveState)


def state_of(request: web.Request) -> PipedriveState:
    return request.app[PIPEDRIVE_STATE]


def ok(data: Any, *, additional_data: Any = None, status: int = 200) -> web.Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if additional_data is not None:
        body["additional_data"] = additional_data
    return web.json_response(body, status=status)


def error(status: int, message: str) -> web.Response:
    body = {"success": False, "error": message, "errorCode": status,
            "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API."}
    return web.json_response(body, status=status)


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise Invalid(f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    return body


def path_id(request: web.Request, name: str = "id") -> int:
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise Invalid(f"{name} must be an integer") from exc


def query_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise Invalid(f"{name} must be an integer") from exc


def page(request: web.Request, items: list[dict]) -> web.Response:
    """v2 cursor pagination: the cursor is the offset, as a string."""
    limit = min(query_int(request, "limit") or 100, 500)
    start = query_int(request, "cursor") or 0
    chunk = items[start:start + limit]
    next_cursor = str(start + limit) if start + limit < len(items) else None
    return ok(chunk, additional_data={"next_cursor": next_cursor})
