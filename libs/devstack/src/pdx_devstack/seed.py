"""Seeding the local stack as an installing company would: OAuth into both sandboxes, webhook registered with
per-company Basic-auth credentials, and the demo settings ("Won" -> invoice, "Quote requested" -> quote)."""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import aiohttp
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.company_settings import CompanySettings, Trigger
from pdx_common.connections import ConnectionStore
from pdx_common.crypto import TokenCipher
from pdx_gateway.adapters.mongo import MongoWebhookCredentials

PD_CLIENT = ("sandbox-pd-client", "sandbox-pd-secret")
XERO_CLIENT = ("sandbox-xero-client", "sandbox-xero-secret")
REDIRECT = "http://127.0.0.1/callback"
DEMO_SETTINGS = CompanySettings(triggers=(Trigger(pipeline_id=1, stage_id=5, action="invoice"),
                                          Trigger(pipeline_id=2, stage_id=7, action="quote")))


@dataclass(frozen=True)
class Seeded:
    company_id: str
    tenant_id: str
    webhook_user: str


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
                       company_id: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    code = await _code(session, f"{xero_url}/identity/connect/authorize", {
        "response_type": "code", "client_id": XERO_CLIENT[0], "redirect_uri": REDIRECT, "state": state,
        "scope": "openid profile email offline_access accounting.invoices accounting.contacts accounting.settings",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    tokens = await _token(session, f"{xero_url}/connect/token", XERO_CLIENT, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    async with session.get(f"{xero_url}/connections",
                           headers={"Authorization": f"Bearer {tokens['access_token']}"}) as resp:
        connections = await resp.json()
    tenant_id = connections[0]["tenantId"]
    await store.save_tokens("xero", company_id, tokens, tenant_id=tenant_id,
                            tenant_name=connections[0].get("tenantName"))
    return tenant_id


async def seed(db: AsyncDatabase, token_key: str, pd_url: str, xero_url: str, gateway_url: str,
               settings: CompanySettings = DEMO_SETTINGS) -> Seeded:
    store = ConnectionStore(db, TokenCipher(token_key))
    async with aiohttp.ClientSession() as session:
        pd = await connect_pipedrive(session, store, pd_url)
        company_id = pd["company_id"]
        tenant_id = await connect_xero(session, store, xero_url, company_id)
        user, password = f"pd-{company_id}", secrets.token_urlsafe(32)
        await MongoWebhookCredentials(db).set(company_id, user, password)
        body = {"subscription_url": f"{gateway_url}/webhooks/pipedrive/{company_id}", "event_action": "*",
                "event_object": "deal", "name": "Xero drafts", "version": "2.0", "http_auth_user": user,
                "http_auth_password": password}
        async with session.post(f"{pd_url}/api/v1/webhooks", json=body,
                                headers={"Authorization": f"Bearer {pd['access_token']}"}) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"webhook registration answered {resp.status}: {await resp.text()}")
    doc = settings.model_dump(mode="json")
    await db.company_settings.replace_one({"_id": company_id}, doc, upsert=True)
    return Seeded(company_id, tenant_id, user)
