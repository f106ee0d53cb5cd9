"""OAuth 2 as oauth.pipedrive.com does it; the user always consents.

``GET /oauth/authorize?client_id=sandbox-pd-client&redirect_uri=http://app/cb&state=xyz``
-> 302 ``http://app/cb?code=sbx-code-...&state=xyz``. The consenting user is the one this browser is logged in as
(the sandbox's login cookie, set by opening a Pipedrive page of the sandbox as ``?user_id=``, see host.py), else the
company's admin (an install as before); the code's tokens are that user's and ``/api/v1/users/me`` answers for them.
``POST /oauth/token`` (form, HTTP Basic client_id:client_secret)
``grant_type=authorization_code&code=..&redirect_uri=..``
or ``grant_type=refresh_token&refresh_token=..`` -> ``{access_token, token_type, refresh_token, scope, expires_in,
api_domain}``. Codes live 5 minutes and work once; access tokens 60 minutes; refresh tokens 60 days from last use.
"""

import base64
import binascii
import hmac
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from pdx_sandbox.pipedrive.host import logged_in
from pdx_sandbox.pipedrive.http import state_of
from pdx_sandbox.pipedrive.state import PipedriveState


def oauth_error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


async def authorize(request: web.Request) -> web.Response:
    state = state_of(request)
    if request.query.get("client_id") != state.client_id:
        return oauth_error(400, "invalid_client", "unknown client_id")
    redirect_uri = request.query.get("redirect_uri")
    if not redirect_uri:
        return oauth_error(400, "invalid_request", "redirect_uri is required")
    params = {"code": state.issue_code(redirect_uri, logged_in(request, state))}
    if "state" in request.query:
        params["state"] = request.query["state"]
    parts = urlsplit(redirect_uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return web.Response(status=302, headers={"Location": urlunsplit(parts._replace(query=query))})


def client_credentials(request: web.Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return user, password
    return form.get("client_id", ""), form.get("client_secret", "")


def client_ok(state: PipedriveState, client_id: str, secret: str) -> bool:
    return hmac.compare_digest(client_id.encode(), state.client_id.encode()) and hmac.compare_digest(
        secret.encode(), state.client_secret.encode())


async def token(request: web.Request) -> web.Response:
    state = state_of(request)
    form = {k: str(v) for k, v in (await request.post()).items()}
    if not client_ok(state, *client_credentials(request, form)):
        return oauth_error(401, "invalid_client", "Invalid client credentials")
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return code_grant(state, form)
    if grant_type == "refresh_token":
        return refresh_grant(state, form)
    return oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


def code_grant(state: PipedriveState, form: dict[str, str]) -> web.Response:
    grant = state.codes.pop(form.get("code", ""), None)  # single use, even when it fails below
    if grant is None or grant["expires_at"] <= state.clock.time():
        return oauth_error(400, "invalid_grant", "Invalid or expired authorization code")
    if form.get("redirect_uri") and form["redirect_uri"] != grant["redirect_uri"]:
        return oauth_error(400, "invalid_grant", "redirect_uri does not match")
    return web.json_response(state.issue_tokens(user_id=grant.get("user_id")))


def refresh_grant(state: PipedriveState, form: dict[str, str]) -> web.Response:
    refresh_token = form.get("refresh_token", "")
    expires_at = state.refresh_tokens.get(refresh_token)
    if expires_at is None or expires_at <= state.clock.time():
        return oauth_error(400, "invalid_grant", "Invalid or expired refresh token")
    return web.json_response(state.issue_tokens(refresh_token))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/oauth/token", token)
