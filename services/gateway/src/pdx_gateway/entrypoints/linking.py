"""What the OAuth routes share: the connector (or a clear 503), the browser binding of an OAuth state, and the
signed links for a company's admin."""

import hmac
import time
from collections.abc import Mapping

from aiohttp import web

from pdx_common import signed_links as links
from pdx_gateway.connector import Connector
from pdx_gateway.errors import LinkRefused, Unavailable
from pdx_gateway.keys import CONNECTOR, SETTINGS
from pdx_gateway.settings import GatewaySettings

CONNECT, CHOOSE = "connect", "choose"


def connector_for(request: web.Request, system: str) -> Connector:
    settings = request.config_dict[SETTINGS]
    connector = request.config_dict.get(CONNECTOR)
    if connector is None or not settings.oauth_configured(system):
        raise Unavailable(f"{system} OAuth is not configured on this gateway",
                          fix=f"Set the PDX_GATEWAY_{system.upper()}_* settings, PUBLIC_URL and TOKEN_KEY.")
    return connector


def redirect_bound(c: Connector, flow: str, location: str, state: str) -> web.Response:
    """A 302 to the authorize page that also gives this browser the state in a cookie. The callback must come back
    with it, so a victim lured to finish an attacker's authorisation (OAuth login CSRF) is refused."""
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    response.set_cookie(_cookie(flow), state, max_age=c.settings.oauth_state_ttl_seconds, path=f"/oauth/{flow}/",
                        httponly=True, samesite="Lax", secure=(c.settings.public_url or "").startswith("https:"))
    return response


def unbind(response: web.Response, flow: str) -> web.Response:
    response.del_cookie(_cookie(flow), path=f"/oauth/{flow}/")
    return response


def same_browser(request: web.Request, flow: str, state: str) -> bool:
    return bool(state) and hmac.compare_digest(request.cookies.get(_cookie(flow), "").encode(), state.encode())


def _cookie(flow: str) -> str:
    return f"pdx_oauth_{flow}"


def _signing(settings: GatewaySettings) -> tuple[str, str]:
    if settings.link_signing_key is None or not settings.public_url:
        raise Unavailable("signed links need PDX_GATEWAY_LINK_SIGNING_KEY and PDX_GATEWAY_PUBLIC_URL")
    return settings.public_url, settings.link_signing_key.get_secret_value()


def connect_link(settings: GatewaySettings, company_id: str) -> tuple[str, int]:
    """``{public_url}/oauth/xero/connect?company_id=7001&expires=...&sig=...`` and when it expires."""
    base, key = _signing(settings)
    expires = int(time.time()) + settings.link_ttl_seconds
    query = links.signed_query(key, CONNECT, {"company_id": company_id}, expires)
    return f"{base}/oauth/xero/connect?{query}", expires


def choose_link(settings: GatewaySettings, company_id: str, tenant_id: str) -> str:
    """Shown right after Xero's sign-in, so it lives minutes, not days."""
    base, key = _signing(settings)
    expires = int(time.time()) + settings.app_connect_ttl_seconds
    query = links.signed_query(key, CHOOSE, {"company_id": company_id, "tenant_id": tenant_id}, expires)
    return f"{base}/oauth/xero/choose?{query}"


def verified(settings: GatewaySettings, purpose: str, query: Mapping[str, str], names: tuple[str, ...]) -> dict:
    _, key = _signing(settings)
    try:
        return links.verify(key, purpose, query, names, time.time())
    except links.InvalidLink as exc:
        raise LinkRefused(str(exc)) from None
