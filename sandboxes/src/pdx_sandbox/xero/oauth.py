"""Identity routes: /identity/connect/authorize, /connect/token, /connect/revocation and /connections."""

import base64
import binascii
import html
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
    """Example: /identity/connect/authorize?response_type=code&client_id=sandbox-xero-client
    &redirect_uri=http://127.0.0.1:8000/cb&scope=openid offline_access accounting.transactions&state=xyz
    &code_challenge=...&code_challenge_method=S256[&sandbox_tenants=<id>,<id>]  -> 302 to redirect_uri?code=&state=

    The sandbox's one user consents at once (``XeroState.consent``): ``"first"`` grants the first organisation,
    ``"all"`` every organisation, unless ``sandbox_tenants`` names them; ``"page"`` shows a consent page where the
    user ticks organisations and allows (POST /identity/connect/consent) or cancels (error=access_denied).
    """
    state, query = _state(request), request.query
    client, redirect_uri = _client_and_redirect(state, query)
    try:
        scope, challenge, method = _checked(query)
        named = _named_tenants(state, query)
    except XeroError as error:
        return _redirect(redirect_uri, {**error.body, **_state_param(query)})
    if state.consent == "page":
        return consent_page(state, client.name, query, named or list(state.tenants))
    tenant_ids = named or (list(state.tenants) if state.consent == "all" else list(state.tenants)[:1])
    code = state.auth.issue_code(client.client_id, redirect_uri, scope, tenant_ids, challenge, method)
    return _redirect(redirect_uri, {"code": code, "scope": scope, **_state_param(query)})


@routes.post("/identity/connect/consent")
async def consent(request: web.Request) -> web.Response:
    """The consent page's form: the authorize parameters again, ``tenant`` once per ticked organisation, and
    ``action`` allow or deny."""
    state, form = _state(request), await request.post()
    client, redirect_uri = _client_and_redirect(state, form)
    try:
        scope, challenge, method = _checked(form)
    except XeroError as error:
        return _redirect(redirect_uri, {**error.body, **_state_param(form)})
    if form.get("action") != "allow":
        return _redirect(redirect_uri, {"error": "access_denied", **_state_param(form)})
    tenant_ids = [str(t) for t in form.getall("tenant", []) if str(t) in state.tenants]
    if not tenant_ids:
        return consent_page(state, client.name, form, [], error="Select at least one organisation.")
    code = state.auth.issue_code(client.client_id, redirect_uri, scope, tenant_ids, challenge, method)
    return _redirect(redirect_uri, {"code": code, "scope": scope, **_state_param(form)})


def _client_and_redirect(state: XeroState, query) -> tuple:
    client = state.auth.clients.get(str(query.get("client_id", "")))
    if client is None:
        raise oauth_error("unauthorized_client", "Unknown client or client not enabled")
    redirect_uri = str(query.get("redirect_uri", ""))
    if not client.accepts_redirect(redirect_uri):
        raise oauth_error("invalid_request", "Invalid redirect_uri")
    return client, redirect_uri


def _checked(query) -> tuple[str, str | None, str]:
    if query.get("response_type") != "code":
        raise oauth_error("unsupported_response_type")
    scope = " ".join(str(query.get("scope", "")).split())
    bad = [s for s in scope.split() if s not in _BASE_SCOPES and not s.startswith(_SCOPE_PREFIXES)]
    if not scope or bad:
        raise oauth_error("invalid_scope", f"Unknown scope: {' '.join(bad)}" if bad else "scope is required")
    challenge, method = query.get("code_challenge"), str(query.get("code_challenge_method") or "plain")
    if challenge is not None and method not in ("S256", "plain"):
        raise oauth_error("invalid_request", "code_challenge_method must be S256 or plain")
    return scope, None if challenge is None else str(challenge), method


def _named_tenants(state: XeroState, query) -> list[str]:
    tenant_ids = [t for t in str(query.get("sandbox_tenants", "")).split(",") if t]
    if any(t not in state.tenants for t in tenant_ids):
        raise oauth_error("invalid_request", "sandbox_tenants names an unknown organisation")
    return tenant_ids


def _state_param(query) -> dict:
    return {"state": str(query["state"])} if "state" in query else {}


def _redirect(redirect_uri: str, params: dict) -> web.Response:
    return web.Response(status=302, headers={"Location": _with_query(redirect_uri, params)})


CONSENT_FIELDS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                  "code_challenge_method")


def consent_page(state: XeroState, app_name: str, query, ticked: list[str], error: str | None = None) -> web.Response:
    """Xero's consent screen, reduced: which organisations the app may use, Allow access or Cancel."""
    e = html.escape
    hidden = "".join(f'<input type="hidden" name="{name}" value="{e(str(query[name]))}">'
                     for name in CONSENT_FIELDS if name in query)
    boxes = "".join(
        f'<li><label><input type="checkbox" name="tenant" value="{e(t.tenant_id)}"'
        f'{" checked" if t.tenant_id in ticked else ""}> {e(t.name)}</label></li>' for t in state.tenants.values())
    scopes = "".join(f"<li>{e(s)}</li>" for s in str(query.get("scope", "")).split())
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Xero | Authorise {e(app_name)}</title><style>
body {{ font: 15px/1.5 system-ui, sans-serif; background: #f2f4f5; color: #0f1a24; margin: 0; }}
main {{ max-width: 460px; margin: 48px auto; background: #fff; padding: 24px 32px; border-radius: 6px; }}
.brand {{ color: #13b5ea; font-weight: 700; }} ul {{ padding-left: 18px; }} .orgs {{ list-style: none; padding: 0; }}
.error {{ color: #c0392b; font-weight: 600; }} button {{ font: inherit; padding: 8px 16px; margin-right: 8px; }}
.allow {{ background: #13b5ea; color: #fff; border: 0; border-radius: 4px; }}
</style></head><body><main>
<p class="brand">xero <small>(sandbox)</small></p>
<h1>{e(app_name)} wants access to your Xero organisations</h1>{problem}
<form method="post" action="/identity/connect/consent">{hidden}
<fieldset><legend>Organisations</legend><ul class="orgs">{boxes}</ul></fieldset>
<p>It will be able to:</p><ul>{scopes}</ul>
<button class="allow" type="submit" name="action" value="allow">Allow access</button>
<button type="submit" name="action" value="deny">Cancel</button>
</form></main></body></html>"""
    return web.Response(text=page, content_type="text/html", status=400 if error else 200)


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
