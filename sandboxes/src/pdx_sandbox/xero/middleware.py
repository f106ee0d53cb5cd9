"""Request pipeline: record every call, then for accounting calls authenticate, pick the tenant, apply rate limits
and injected outages, and replay Idempotency-Key results."""

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from .auth import AccessToken
from .errors import XeroError, bad_request, forbidden, problem, problem_error, unauthorized
from .state import XERO_STATE, IdempotentResult, RecordedRequest, XeroState
from .tenant import Tenant

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACCOUNTING_PREFIX = "/api.xro/2.0/"
TENANT: web.RequestKey[Tenant] = web.RequestKey("xero_tenant", Tenant)
TOKEN: web.RequestKey[AccessToken] = web.RequestKey("xero_token", AccessToken)
MAX_IDEMPOTENCY_KEY = 128


@web.middleware
async def record_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: turn XeroError into its response and log the call (the /_sandbox control API is not logged)."""
    state = request.app[XERO_STATE]
    body = await request.read() if request.can_read_body else b""
    status = 500
    try:
        response = await _faulty(state, request, handler)
        status = response.status
        return response
    except XeroError as error:
        status = error.status
        return error.response()
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        if not request.path.startswith("/_sandbox"):
            state.requests.append(_record(state, request, body, status))
        if request.method not in ("GET", "HEAD"):
            state.changed()


async def _faulty(state: XeroState, request: web.Request, handler: Handler) -> web.StreamResponse:
    """An injected fault (``/_sandbox/faults``) answers in place of Xero, or delays it."""
    fault = None if request.path.startswith("/_sandbox") else state.faults.pick(request.method, request.path)
    if fault is None:
        return await handler(request)
    await state.faults.wait(fault)
    if fault.status is None:
        return await handler(request)
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    detail = None
    if fault.status == 429:
        headers["X-Rate-Limit-Problem"], detail = "minute", "Rate limit exceeded: minute"
    return problem_error(fault.status, detail, headers).response()


def _record(state: XeroState, request: web.Request, body: bytes, status: int) -> RecordedRequest:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return RecordedRequest(request.method, request.path, dict(request.query), dict(request.headers), parsed,
                           request.headers.get("xero-tenant-id"), status, state.clock.time())


def bearer_token(state: XeroState, request: web.Request) -> AccessToken:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    found = state.auth.access(token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise unauthorized()
    if found.expires_at <= state.clock.time():
        raise unauthorized(f"TokenExpired: token expired at {_us_time(found.expires_at)}")
    return found


def _us_time(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%m/%d/%Y %H:%M:%S")


@web.middleware
async def accounting_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(ACCOUNTING_PREFIX):
        return await handler(request)
    state = request.app[XERO_STATE]
    token = bearer_token(state, request)
    tenant_id = request.headers.get("xero-tenant-id", "")
    if tenant_id not in state.auth.tenant_ids(token.client_id) or tenant_id not in state.tenants:
        raise forbidden()
    request[TOKEN], request[TENANT] = token, state.tenants[tenant_id]
    throttle = state.limiter.acquire(tenant_id, state.clock.time())
    if throttle is not None:
        state.throttled[tenant_id] = state.throttled.get(tenant_id, 0) + 1
        headers = {"Retry-After": str(throttle.retry_after), "X-Rate-Limit-Problem": throttle.problem,
                   "X-Sandbox-Clock-Speed": str(state.clock.speed),
                   **state.limiter.headers(tenant_id, state.clock.time())}
        raise XeroError(429, problem(429, f"Rate limit exceeded: {throttle.problem}"), headers)
    try:
        response = await _limited_call(state, request, handler, state.tenants[tenant_id])
    finally:
        state.limiter.release(tenant_id)
    response.headers.update(state.limiter.headers(tenant_id, state.clock.time()))
    return response


async def _limited_call(state: XeroState, request: web.Request, handler: Handler, tenant: Tenant) -> web.StreamResponse:
    if state.latency_seconds:
        await asyncio.sleep(state.latency_seconds)
    if tenant.outage_count > 0:
        tenant.outage_count -= 1
        return problem_error(tenant.outage_status).response()
    try:
        return await handler(request)
    except XeroError as error:
        return error.response()


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Same Idempotency-Key and tenant within the window: the first response again, nothing done twice."""
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method not in ("PUT", "POST") or not request.path.startswith(ACCOUNTING_PREFIX):
        return await handler(request)
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise bad_request(f"Idempotency-Key must be {MAX_IDEMPOTENCY_KEY} characters or fewer.")
    state = request.app[XERO_STATE]
    slot, now = (request[TENANT].tenant_id, key), state.clock.time()
    fingerprint = hashlib.sha256(f"{request.method} {request.path_qs}\n".encode() + await request.read()).hexdigest()
    previous = state.idempotency.get(slot)
    if previous is not None and now - previous.created <= state.idempotency_window:
        return _replay(previous, fingerprint, key)
    entry = state.idempotency[slot] = IdempotentResult(fingerprint, now)
    try:
        response = await handler(request)
    except XeroError as error:
        response = error.response()
    if response.status >= 500 or not isinstance(response, web.Response):
        del state.idempotency[slot]  # a failed call may be retried with the same key
        return response
    entry.status, entry.body, entry.done = response.status, response.body or b"", True
    entry.content_type = response.content_type
    return response


def _replay(previous: IdempotentResult, fingerprint: str, key: str) -> web.Response:
    if previous.fingerprint != fingerprint:
        raise bad_request(f"Idempotency Key: {key} is used with a different request.")
    if not previous.done:
        raise problem_error(409, f"Idempotency Key: {key} is already being processed.")
    return web.Response(status=previous.status, body=previous.body, content_type=previous.content_type,
                        headers={"X-Sandbox-Idempotent-Replay": "true"})
