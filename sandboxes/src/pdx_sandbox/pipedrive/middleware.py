"""Auth, burst rate limit, token cost and the request log, around every ``/api`` and ``/oauth`` route."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pdx_sandbox.pipedrive.http import error, state_of
from pdx_sandbox.pipedrive.state import PipedriveState
from pdx_sandbox.pipedrive.store import Invalid, NotFound

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# x-token-cost per route, from the v1/v2 specs' x-token-cost
COSTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v2/deals"): 10, ("POST", "/api/v2/deals"): 5,
    ("GET", "/api/v2/deals/{id}"): 1, ("PATCH", "/api/v2/deals/{id}"): 5,
    ("GET", "/api/v2/deals/{id}/products"): 10, ("POST", "/api/v2/deals/{id}/products"): 5,
    ("GET", "/api/v2/deals/{id}/discounts"): 10,
    ("GET", "/api/v2/persons/{id}"): 1, ("GET", "/api/v2/persons/search"): 20,
    ("GET", "/api/v2/organizations/{id}"): 1,
    ("GET", "/api/v2/products/{id}"): 1, ("GET", "/api/v2/products/search"): 20,
    ("GET", "/api/v2/stages"): 5, ("GET", "/api/v2/stages/{id}"): 1,
    ("GET", "/api/v2/pipelines"): 5, ("GET", "/api/v2/pipelines/{id}"): 1,
    ("GET", "/api/v2/dealFields"): 10, ("GET", "/api/v1/dealFields"): 20,
    ("POST", "/api/v2/activities"): 5, ("GET", "/api/v2/activities"): 10,
    ("POST", "/api/v1/notes"): 10, ("GET", "/api/v1/notes"): 20, ("GET", "/api/v1/currencies"): 20,
    ("POST", "/api/v1/webhooks"): 10, ("GET", "/api/v1/webhooks"): 10, ("DELETE", "/api/v1/webhooks/{id}"): 6,
    ("GET", "/api/v1/users/me"): 2, ("GET", "/api/v1/users/{id}"): 2, ("GET", "/api/v1/users"): 20,
    ("POST", "/api/v1/dealFields"): 10, ("GET", "/api/v1/personFields"): 20, ("GET", "/api/v1/organizationFields"): 20,
    ("GET", "/api/v2/personFields"): 10, ("GET", "/api/v2/organizationFields"): 10, ("GET", "/api/v2/products"): 10,
    ("GET", "/api/v2/persons"): 10, ("GET", "/api/v2/organizations"): 10,
    ("POST", "/api/v2/persons"): 5, ("PATCH", "/api/v2/persons/{id}"): 5, ("DELETE", "/api/v2/persons/{id}"): 3,
    ("POST", "/api/v2/organizations"): 5, ("PATCH", "/api/v2/organizations/{id}"): 5,
    ("DELETE", "/api/v2/organizations/{id}"): 3,
    ("POST", "/api/v2/products"): 5, ("PATCH", "/api/v2/products/{id}"): 5, ("DELETE", "/api/v2/products/{id}"): 3,
}
DEFAULT_COST = 5


def auth_key(request: web.Request, state: PipedriveState) -> str | None:
    """Whose request this is (the rate-limit bucket), or None when it carries no valid credential."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        return f"oauth:{token}" if state.access_token_valid(token) else None
    api_token = request.headers.get("x-api-token") or request.query.get("api_token")
    if api_token and api_token == state.api_token:
        return f"api:{api_token}"
    return None


async def log_entry(request: web.Request) -> dict[str, Any]:
    entry: dict[str, Any] = {"method": request.method, "path": request.path, "query": dict(request.query),
                             "json": None, "form": None, "status": None, "time": state_of(request).clock.time()}
    if request.content_type == "application/x-www-form-urlencoded":
        entry["form"] = dict(await request.post())
    elif request.can_read_body:
        try:
            entry["json"] = json.loads(await request.read())
        except ValueError:
            entry["json"] = None
    return entry


async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run the handler, turning lookups and validation failures into Pipedrive's error shape."""
    try:
        return await handler(request)
    except NotFound as exc:
        return error(404, str(exc))
    except Invalid as exc:
        return error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, exc.reason)


async def api_call(request: web.Request, handler: Handler, state: PipedriveState) -> web.StreamResponse:
    key = auth_key(request, state)
    if key is None:
        return error(401, "unauthorized access")
    allowed, limits = state.take_request(key)
    if not allowed:
        response = error(429, "Request over limit")
        response.headers["Retry-After"] = limits["x-ratelimit-reset"]
    else:
        response = await guarded(request, handler)
        route = _route_path(request)
        cost = COSTS.get((request.method, route), DEFAULT_COST)
        state.spend(f"{request.method} {route}", cost)
        response.headers["x-token-cost"] = str(cost)
    response.headers.update(limits)
    return response


def _route_path(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


async def faulty(request: web.Request, handler: Handler, state: PipedriveState) -> web.StreamResponse:
    """An injected fault (``/_sandbox/faults``) answers in place of the API, or delays it."""
    fault = state.faults.pick(request.method, request.path)
    if fault is None:
        return await handler(request)
    await state.faults.wait(fault)
    if fault.status is None:
        return await handler(request)
    response = error(fault.status, "Request over limit" if fault.status == 429 else "Service temporarily unavailable")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


async def routed(request: web.Request, handler: Handler, state: PipedriveState) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        return await api_call(request, handler, state)
    return await guarded(request, handler)


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = state_of(request)
    if state.base_url is None:
        state.base_url = f"{request.scheme}://{request.host}"
    try:
        if request.path.startswith(("/_sandbox", "/host", "/settings/")):  # control, host pages: no log, no faults
            return await guarded(request, handler)
        entry = await log_entry(request)
        response = await faulty(request, lambda r: routed(r, handler, state), state)
        entry["status"] = response.status
        state.requests.append(entry)
        return response
    finally:
        if request.method not in ("GET", "HEAD"):
            state.changed()
