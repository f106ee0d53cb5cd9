"""Seeding the local stack as an installing company would: OAuth into both sandboxes, webhook registered with
per-company Basic-auth credentials, and the demo settings ("Won" -> invoice, "Quote requested" -> quote)."""

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import aiohttp

from pdx_common.company_settings import CompanySettings, Trigger
from pdx_common.connections import ConnectionStore

PD_CLIENT = ("sandbox-pd-client", "sandbox-pd-secret")
XERO_CLIENT = ("sandbox-xero-client", "sandbox-xero-secret")
XERO_WEBHOOK_KEY = "sandbox-xero-webhook-key"  # the Xero sandbox's default signing key
REDIRECT = "http://127.0.0.1/callback"
DEMO_SETTINGS = CompanySettings(triggers=(Trigger(pipeline_id=1, stage_id=5, action="invoice"),
                                          Trigger(pipeline_id=2, stage_id=7, action="quote")))


@dataclass(frozen=True)
class Seeded:
    company_id: str
    tenant_id: str


async def _code(session: aiohttp.ClientSession, url: str, params: dict[str, str]) -> str:
    async with session.get(url, params=params, allow_redirects=False) as resp:
        if resp.status != 302:
            raise RuntimeError(f"authorize answered {resp.status}: {await resp.text()}")
        query = parse_qs(urlparse(resp.headers["Location"]).query)
    if query.get("state") != [params["state"]]:
        raise RuntimeError("authorize returned another state")
    return query["code"][0]


async def _token(session: aiohttp.ClientSession, url: str, client: tuple[str, str], form: dict) -> dict:
    async with session.post(url, data=form, headers={"Authorization": aiohttp.encode_basic_auth(*client)}) as resp:
        body = await resp.json(content_type=None)
        if resp.status != 200:
            raise RuntimeError(f"token endpoint answered {resp.status}: {body}")
        return body


async def connect_pipedrive(session: aiohttp.ClientSession, store: ConnectionStore, pd_url: str) -> dict:
    state = secrets.token_urlsafe(16)
    code = await _code(session, f"{pd_url}/oauth/authorize",
                       {"client_id": PD_CLIENT[0], "redirect_uri": REDIRECT, "state": state})
    tokens = await _token(session, f"{pd_url}/oauth/token", PD_CLIENT,
                          {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    async with session.get(f"{pd_url}/api/v1/users/me",
                           headers={"Authorization": f"Bearer {tokens['access_token']}"}) as resp:
        me = (await resp.json())["data"]
    company_id = str(me["company_id"])
    await store.save_tokens("pipedrive", company_id, tokens, company_domain=me.get("company_domain"))
    return {"company_id": company_id, "access_token": tokens["access_token"]}


async def connect_xero(session: aiohttp.ClientSession, store: ConnectionStore, xero_url: str,
                       company_id: str, tenant_id: str | None = None) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    code = await _code(session, f"{xero_url}/identity/connect/authorize", {
        "response_type": "code", "client_id": XERO_CLIENT[0], "redirect_uri": REDIRECT, "state": state,
        "scope": "openid profile email offline_access accounting.invoices accounting.contacts accounting.settings",
        "code_challenge": challenge, "code_challenge_method": "S256",
        **({"sandbox_tenants": tenant_id} if tenant_id else {})})
    tokens = await _token(session, f"{xero_url}/connect/token", XERO_CLIENT, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    async with session.get(f"{xero_url}/connections",
                           headers={"Authorization": f"Bearer {tokens['access_token']}"}) as resp:
        connections = await resp.json()
    chosen = next(c for c in connections if tenant_id in (None, c["tenantId"]))
    tenant_id = chosen["tenantId"]
    await store.save_tokens("xero", company_id, tokens, tenant_id=tenant_id, tenant_name=chosen.get("tenantName"))
    return tenant_id


async def install_through_gateway(gateway_url: str, api_token: str,
                                  settings: CompanySettings = DEMO_SETTINGS) -> Seeded:
    """Install as a company's admin would, in a browser: the Pipedrive install (OAuth, which registers the
    webhook), then the app's settings it leads to, Connect Xero there (OAuth with PKCE), then the trigger settings
    through the operators' API."""
    jar = aiohttp.CookieJar(unsafe=True)  # the gateway is on 127.0.0.1, and its cookies must come back
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        page = await _follow(browser, f"{gateway_url}/oauth/pipedrive/install", "Installed")
        company_id = re.search(r'<span id="company-id">([^<]+)</span>', page).group(1)
        settings_page = await _follow(browser, f"{gateway_url}/app/connections", "Connect Xero")
        csrf = re.search(r'name="csrf" value="([^"]+)"', settings_page).group(1)
        async with browser.post(f"{gateway_url}/app/xero/connect", data={"csrf": csrf}) as resp:
            start = html.unescape(re.search(r'id="xero-start" href="([^"]+)"', await resp.text()).group(1))
        await _follow(browser, f"{gateway_url}{start}", "Xero connected")
    api = {"Authorization": f"Bearer {api_token}"}
    async with aiohttp.ClientSession(headers=api) as session:
        base = f"{gateway_url}/api/companies/{company_id}"
        async with session.get(f"{base}/settings") as resp:
            version = (await resp.json())["version"]
        body = {**settings.model_dump(mode="json"), "version": version}
        async with session.put(f"{base}/settings", json=body) as resp:
            if resp.status != 200:
                raise RuntimeError(f"the settings API answered {resp.status}: {await resp.text()}")
        async with session.get(f"{base}/connections") as resp:
            connections = await resp.json()
    xero = next(c for c in connections["connections"] if c["system"] == "xero")
    return Seeded(company_id, xero["tenant_id"])


async def installed_company(gateway_url: str, api_token: str, company_id: str) -> Seeded | None:
    """The company as an earlier run left it, when both its connections still work (asked through the operators'
    API, which reads the store); None when it must be installed (again)."""
    api = {"Authorization": f"Bearer {api_token}"}
    async with aiohttp.ClientSession(headers=api) as session:
        async with session.get(f"{gateway_url}/api/companies/{company_id}/connections") as resp:
            if resp.status != 200:
                return None
            connections = {c["system"]: c for c in (await resp.json())["connections"]}
    pipedrive, xero = connections.get("pipedrive", {}), connections.get("xero", {})
    if pipedrive.get("status") != "ok" or xero.get("status") != "ok" or not xero.get("tenant_id"):
        return None
    return Seeded(company_id, xero["tenant_id"])


async def _follow(browser: aiohttp.ClientSession, url: str, expect: str) -> str:
    async with browser.get(url, allow_redirects=True) as resp:
        text = await resp.text()
        if resp.status != 200 or expect not in text:
            raise RuntimeError(f"{url} ended at {resp.url} with {resp.status}: {text[:300]}")
        return text
