"""Identity routes: /identity/connect/authorize, /connect/token, /connect/revocation and /connections."""

import base64
import binascii
from urllib.parse import urlencode

from aiohttp import web

from .errors import XeroError, oauth_error
from .formats import iso_utc
from .middleware import bearer_token
from .state import XERO_STATE, XeroState

routes = web.RouteTableDef()
_BASE_SCOPES = {"openid", "profile", "email", "offline_access"}
_SCOPE_PREFIXES = ("accounting.", "payroll.", "files", "assets", "projects", "paymentservices", "bankfeeds",
                   "finance.", "app.")


def _state(request: web.Request) -> XeroState:
    return request.app[XERO_STATE]


@routes.get("/identity/connect/authorize")
async def authorize(request: web.Request) -> web.Response:
    """Auto-consent. Example: /identity/connect/authorize?response_type=code&client_id=sandbox-xero-client
    &redirect_uri=http://127.0.0.1:8000/cb&scope=openid offline_access accounting.transactions&state=xyz
    &code_challenge=...&code_challenge_method=S256[&sandbox_tenants=<id>,<id>]  -> 302 to redirect_uri?code=&state=
    """
    state, query = _state(request), request.query
    client = state.auth.clients.get(query.get("client_id", ""))
    if client is None:
        raise oauth_error("unauthorized_client", "Unknown client or client not enabled")
    redirect_uri = query.get("redirect_uri", "")
    if not client.accepts_redirect(redirect_uri):
        raise oauth_error("invalid_request", "Invalid redirect_uri")
    try:
        params = _consent(state, client.client_id, redirect_uri, query)
    except XeroError as error:
        params = {**error.body, **({"state": query["state"]} if "state" in query else {})}
    return web.Response(status=302, headers={"Location": _with_query(redirect_uri, params)})


def _consent(state: XeroState, client_id: str, redirect_uri: str, query) -> dict:
    if query.get("response_type") != "code":
        raise oauth_error("unsupported_response_type")
    scope = " ".join(query.get("scope", "").split())
    bad = [s for s in scope.split() if s not in _BASE_SCOPES and not s.startswith(_SCOPE_PREFIXES)]
    if not scope or bad:
        raise oauth_error("invalid_scope", f"Unknown scope: {' '.join(bad)}" if bad else "scope is required")
    challenge, method = query.get("code_challenge"), query.get("code_challenge_method", "plain")
    if challenge is not None and method not in ("S256", "plain"):
        raise oauth_error("invalid_request", "code_challenge_method must be S256 or plain")
    tenant_ids = [t for t in query.get("sandbox_tenants", "").split(",") if t] or list(state.tenants)[:1]
    if any(t not in state.tenants for t in tenant_ids):
        raise oauth_error("invalid_request", "sandbox_tenants names an unknown organisation")
    code = state.auth.issue_code(client_id, redirect_uri, scope, tenant_ids, challenge, method)
    return {"code": code, "scope": scope, **({"state": query["state"]} if "state" in query else {})}


def _with_query(uri: str, params: dict) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"


def _client_credentials(request: web.Request, form) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise oauth_error("invalid_client") from exc
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


@routes.post("/connect/token")
async def token(request: web.Request) -> web.Response:
    """Form-encoded: grant_type=authorization_code&code=..&redirect_uri=..[&code_verifier=..] or
    grant_type=refresh_token&refresh_token=..; client by HTTP Basic or client_id/client_secret fields.
    Answers {"access_token", "refresh_token", "expires_in": 1800, "token_type": "Bearer", "scope", "id_token"}."""
    state = _state(request)
    form = await request.post()
    client_id, secret = _client_credentials(request, form)
    grant_type = form.get("grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise oauth_error("unsupported_grant_type")
    client = state.auth.authenticate_client(client_id, secret)
    if grant_type == "authorization_code":
        body = state.auth.exchange_code(client.client_id, str(form.get("code", "")),
                                        str(form.get("redirect_uri", "")), form.get("code_verifier"))
    else:
        body = state.auth.refresh(client.client_id, str(form.get("refresh_token", "")))
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@routes.post("/connect/revocation")
async def revocation(request: web.Request) -> web.Response:
    """Form-encoded token=<refresh_token>; revoking it disconnects the app from every organisation."""
    state = _state(request)
    form = await request.post()
    client = state.auth.authenticate_client(*_client_credentials(request, form))
    state.auth.revoke(client.client_id, str(form.get("token", "")))
    return web.Response(status=200)


async def get_connections(request: web.Request) -> web.Response:
    """GET /connections[?authEventId=...] -> [{id, tenantId, tenantType, tenantName, authEventId, ...}]."""
    state = _state(request)
    access = bearer_token(state, request)
    event = request.query.get("authEventId")
    out = [
        {"id": c.id, "authEventId": c.auth_event_id, "tenantId": c.tenant_id, "tenantType": "ORGANISATION",
         "tenantName": state.tenants[c.tenant_id].name, "createdDateUtc": iso_utc(c.created) + "0000",
         "updatedDateUtc": iso_utc(c.updated) + "0000"}
        for c in state.auth.client_connections(access.client_id)
        if c.tenant_id in state.tenants and (event is None or c.auth_event_id == event)
    ]
    return web.json_response(out)


async def delete_connection(request: web.Request) -> web.Response:
    state = _state(request)
    access = bearer_token(state, request)
    if not state.auth.disconnect(access.client_id, request.match_info["connection_id"]):
        raise XeroError(404, {"Type": None, "Title": "Not Found", "Status": 404,
                              "Detail": "Connection not found"})
    return web.Response(status=204)


for _path in ("/connections", "/Connections"):
    routes.get(_path)(get_connections)
    routes.delete(_path + "/{connection_id}")(delete_connection)
