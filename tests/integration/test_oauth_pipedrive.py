"""Installing and uninstalling the Pipedrive app through the gateway, against the Pipedrive and Xero sandboxes on
loopback, the real store and the real broker. The test's HTTP session plays the admin's browser."""

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from yarl import URL

from pdx_common import topics
from pdx_common.connections import ConnectionStore
from pdx_common.crypto import TokenCipher
from pdx_devstack.infra import free_port
from pdx_gateway.bootstrap import create_app
from pdx_gateway.settings import GatewaySettings
from pdx_sandbox.pipedrive import DEMO_DEAL_ID, STAGE_WON, PipedriveState
from pdx_sandbox.pipedrive import create_app as pipedrive_app
from pdx_sandbox.xero import XeroState
from pdx_sandbox.xero import create_app as xero_app
from tests.kafka_helpers import read_until

API_TOKEN = "test-api-token-0123456789abcdef"
LINK_KEY = "test-link-signing-key-0123456789abcdef"
PD_CLIENT = ("sandbox-pd-client", "sandbox-pd-secret")


@dataclass
class OAuthStack:
    """The gateway with OAuth configured, both sandboxes, the test's database, and a browser without redirects."""

    gateway_url: str
    pd: PipedriveState
    pd_url: str
    xero: XeroState
    xero_url: str
    db: object
    settings: GatewaySettings
    browser: aiohttp.ClientSession
    company_id: str

    async def get(self, url: str) -> tuple[int, str, str | None]:
        async with self.browser.get(url, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers.get("Location")

    async def api(self, method: str, path: str, body=None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with self.browser.request(method, f"{self.gateway_url}/api{path}", json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def install(self) -> str:
        """The whole install as a browser does it; returns the page the gateway answers with."""
        status, _, authorize = await self.get(f"{self.gateway_url}/oauth/pipedrive/install")
        assert status == 302, status
        status, _, callback = await self.get(authorize)
        assert status == 302 and callback.startswith(f"{self.gateway_url}/oauth/pipedrive/callback?")
        self.last_callback = callback
        status, page, _ = await self.get(callback)
        assert status == 200, page
        return page

    def keep_state_cookie(self, flow: str, callback: str) -> None:
        """As if the browser had kept the state's cookie, so a replay meets the store's single use, not the cookie."""
        state = parse_qs(urlsplit(callback).query)["state"][0]
        self.browser.cookie_jar.update_cookies({f"pdx_oauth_{flow}": state}, URL(f"{self.gateway_url}/oauth/{flow}/"))

    def store(self) -> ConnectionStore:
        return ConnectionStore(self.db, TokenCipher(self.settings.token_key.get_secret_value()))


def oauth_settings(infra, db_name: str, port: int, pd_url: str, xero_url: str, **extra) -> GatewaySettings:
    extra = {"xero_api_url": f"{xero_url}/api.xro/2.0", **extra}  # never the real Xero
    return GatewaySettings(
        kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url, mongo_db=db_name, log_json=True,
        api_token=API_TOKEN, public_url=f"http://127.0.0.1:{port}", token_key=Fernet.generate_key().decode(),
        link_signing_key=LINK_KEY, pipedrive_client_id=PD_CLIENT[0], pipedrive_client_secret=PD_CLIENT[1],
        pipedrive_authorize_url=f"{pd_url}/oauth/authorize", pipedrive_token_url=f"{pd_url}/oauth/token",
        xero_client_id="sandbox-xero-client", xero_client_secret="sandbox-xero-secret",
        xero_authorize_url=f"{xero_url}/identity/connect/authorize", xero_token_url=f"{xero_url}/connect/token",
        xero_connections_url=f"{xero_url}/connections", xero_revoke_url=f"{xero_url}/connect/revocation", **extra)


async def started(app, port: int = 0) -> tuple[TestServer, str]:
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return server, str(server.make_url("")).rstrip("/")


@asynccontextmanager
async def running_stack(infra, mongo_db) -> AsyncIterator[OAuthStack]:
    """Also used by the Xero connection tests."""
    company_id = random.randint(10**6, 10**9)
    pd = PipedriveState(company_id=company_id, retry_delays=(0.05, 0.05, 0.05))
    xero = XeroState()
    pd_server, pd_url = await started(pipedrive_app(pd))
    pd.base_url = pd_url  # the token's api_domain, as Pipedrive answers it
    xero_server, xero_url = await started(xero_app(xero))
    port = free_port()
    settings = oauth_settings(infra, mongo_db.name, port, pd_url, xero_url)
    gateway, gateway_url = await started(create_app(settings), port)
    try:
        # unsafe: keep cookies of an IP host (127.0.0.1), as a browser does.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            yield OAuthStack(gateway_url, pd, pd_url, xero, xero_url, mongo_db, settings, browser, str(company_id))
    finally:
        await gateway.close()
        await xero_server.close()
        await pd_server.close()


@pytest.fixture
async def oauth_stack(infra, mongo_db) -> AsyncIterator[OAuthStack]:
    async with running_stack(infra, mongo_db) as stack:
        yield stack


async def stored(db) -> dict[str, int]:
    return {name: await db[name].count_documents({})
            for name in ("connections", "companies", "company_settings")}


def raw(doc) -> str:
    return json.dumps(doc, default=str)


async def test_install_stores_encrypted_tokens_and_registers_a_webhook_the_gateway_accepts(oauth_stack):
    s = oauth_stack
    page = await s.install()

    assert "installed" in page and f"{s.gateway_url}/app/connections" in page  # the installer has a session
    doc = await s.db.connections.find_one({"_id": f"pipedrive:{s.company_id}"})
    assert doc["status"] == "ok" and doc["company_domain"] == "demo" and doc["api_domain"] == s.pd_url
    issued = [*s.pd.access_tokens, *s.pd.refresh_tokens]
    assert issued and not [t for t in issued if t in raw(doc)]
    assert s.store().decrypt(doc, "access_token") in s.pd.access_tokens
    assert s.store().decrypt(doc, "refresh_token") in s.pd.refresh_tokens

    hooks = {h["event_object"]: h for h in s.pd.webhooks.values()}
    assert sorted(hooks) == ["deal", "organization", "person", "product"] and len(s.pd.webhooks) == 4
    hook = hooks["deal"]
    for one in hooks.values():  # one set of credentials for the four
        assert one["subscription_url"] == f"{s.gateway_url}/webhooks/pipedrive/{s.company_id}"
        assert (one["event_action"], one["version"]) == ("*", "2.0")
        assert (one["http_auth_user"], one["http_auth_password"]) == (hook["http_auth_user"],
                                                                      hook["http_auth_password"])
    assert len(hook["http_auth_password"]) >= 43  # 32 random bytes, urlsafe base64
    company = await s.db.companies.find_one({"_id": s.company_id})
    assert company["webhook_id"] == hook["id"] and hook["http_auth_password"] not in raw(company)
    assert company["webhook_ids"] == {entity: h["id"] for entity, h in hooks.items()}
    settings = await s.db.company_settings.find_one({"_id": s.company_id})
    assert settings["triggers"] == []

    async with s.browser.post(f"{s.pd_url}/_sandbox/deals/{DEMO_DEAL_ID}/move", json={"stage_id": STAGE_WON}) as r:
        assert r.status == 200
    async with asyncio.timeout(60):
        while not s.pd.deliveries:
            await asyncio.sleep(0.02)
    assert s.pd.deliveries[0]["status"] == 200, s.pd.deliveries


async def test_reinstall_replaces_the_webhook_and_its_credentials(oauth_stack):
    s = oauth_stack
    await s.install()
    olds = [dict(h) for h in s.pd.webhooks.values()]
    old = next(h for h in olds if h["event_object"] == "deal")
    await s.install()

    assert len(s.pd.webhooks) == 4 and len({h["http_auth_user"] for h in s.pd.webhooks.values()}) == 1
    new = next(h for h in s.pd.webhooks.values() if h["event_object"] == "deal")
    assert new["http_auth_password"] != old["http_auth_password"] and new["http_auth_user"] != old["http_auth_user"]
    deleted = [r for r in s.pd.requests if r["method"] == "DELETE"]
    assert sorted(r["path"] for r in deleted) == sorted(f"/api/v1/webhooks/{h['id']}" for h in olds)
    body = {"meta": {"id": "e1", "action": "change", "entity": "deal", "entity_id": "1", "company_id": s.company_id,
                     "version": "2.0"}, "data": {"id": 1}, "previous": {"title": "x"}}
    url = f"{s.gateway_url}/webhooks/pipedrive/{s.company_id}"
    for hook, expected in ((old, 401), (new, 200)):
        auth = aiohttp.encode_basic_auth(hook["http_auth_user"], hook["http_auth_password"])
        async with s.browser.post(url, json=body, headers={"Authorization": auth}) as resp:
            assert resp.status == expected
    assert await s.db.company_settings.count_documents({}) == 1


@pytest.mark.parametrize("state", ["forged-state", ""])
async def test_a_forged_or_missing_state_is_refused_and_nothing_is_stored(oauth_stack, state):
    s = oauth_stack
    status, _, _ = await s.get(f"{s.gateway_url}/oauth/pipedrive/install")
    status, body, _ = await s.get(f"{s.gateway_url}/oauth/pipedrive/callback?code=sbx-code-x&state={state}")

    assert status == 400 and json.loads(body)["error"]["code"] == "bad_request"
    assert await stored(s.db) == {"connections": 0, "companies": 0, "company_settings": 0}
    assert not [r for r in s.pd.requests if r["path"] == "/oauth/token"]


async def test_a_replayed_callback_is_refused_and_changes_nothing(oauth_stack):
    s = oauth_stack
    await s.install()
    before = await s.db.connections.find_one({"_id": f"pipedrive:{s.company_id}"})
    token_calls = len([r for r in s.pd.requests if r["path"] == "/oauth/token"])
    s.keep_state_cookie("pipedrive", s.last_callback)

    status, _, _ = await s.get(s.last_callback)

    assert status == 400
    assert await s.db.connections.find_one({"_id": f"pipedrive:{s.company_id}"}) == before
    assert len([r for r in s.pd.requests if r["path"] == "/oauth/token"]) == token_calls
    assert len(s.pd.webhooks) == 4


async def test_a_callback_finished_in_another_browser_is_refused_and_spends_nothing(oauth_stack):
    """An attacker's authorisation, finished in a victim's browser (OAuth login CSRF), is refused."""
    s = oauth_stack
    _, _, authorize = await s.get(f"{s.gateway_url}/oauth/pipedrive/install")
    _, _, callback = await s.get(authorize)

    async with aiohttp.ClientSession() as victim, victim.get(callback, allow_redirects=False) as resp:
        assert resp.status == 400
    assert await stored(s.db) == {"connections": 0, "companies": 0, "company_settings": 0}

    status, _, _ = await s.get(callback)  # the state was not spent: its own browser still finishes
    assert status == 200
    assert "pdx_oauth_pipedrive" not in {c.key for c in s.browser.cookie_jar if c.value}


async def test_an_expired_state_is_refused(oauth_stack):
    s = oauth_stack
    status, _, authorize = await s.get(f"{s.gateway_url}/oauth/pipedrive/install")
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    await s.db.oauth_states.update_one({"_id": state},
                                       {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}})
    _, _, callback = await s.get(authorize)

    status, _, _ = await s.get(callback)

    assert status == 400
    assert await stored(s.db) == {"connections": 0, "companies": 0, "company_settings": 0}


async def uninstall(s: OAuthStack, client: tuple[str, str], user_id: int = 12001) -> int:
    body = {"client_id": PD_CLIENT[0], "company_id": int(s.company_id), "user_id": user_id,
            "timestamp": "2026-11-27T10:00:00Z"}
    headers = {"Authorization": aiohttp.encode_basic_auth(*client)}
    async with s.browser.delete(f"{s.gateway_url}/oauth/pipedrive/callback", json=body, headers=headers) as resp:
        return resp.status


async def connect_xero_directly(s: OAuthStack) -> None:
    """Xero connected through the gateway's own connect link (the Xero tests cover that flow in detail)."""
    _, body = await s.api("POST", f"/companies/{s.company_id}/xero/connect-link")
    _, _, authorize = await s.get(body["url"])
    _, _, callback = await s.get(authorize)
    status, page, _ = await s.get(callback)
    assert status == 200, page


async def test_uninstall_with_the_client_credentials_forgets_the_company(oauth_stack):
    s = oauth_stack
    await s.install()
    await connect_xero_directly(s)
    assert s.xero.auth.client_connections("sandbox-xero-client")

    assert len(s.pd.webhooks) == 4

    assert await uninstall(s, PD_CLIENT) == 200

    assert await stored(s.db) == {"connections": 0, "companies": 0, "company_settings": 0}
    assert not s.pd.webhooks  # deleted while the tokens still worked
    assert not s.xero.auth.client_connections("sandbox-xero-client")  # the Xero grant was revoked
    assert [r.path for r in s.xero.requests].count("/connect/revocation") == 1


async def test_another_user_removing_the_app_for_themselves_leaves_the_companys_installation(oauth_stack):
    """Pipedrive apps are installed per user: a salesperson who signed in to a deal's link and then removes the app
    ends only their own sign-ins; the company stays installed with its installer's tokens."""
    s = oauth_stack
    await s.install()
    before = await stored(s.db)
    assert (await s.db.connections.find_one({"_id": f"pipedrive:{s.company_id}"}))["installer_user_id"] == "12001"

    assert await uninstall(s, PD_CLIENT, user_id=12002) == 200
    assert await stored(s.db) == before

    assert await uninstall(s, PD_CLIENT, user_id=12001) == 200  # the installer's: the company's installation ends
    assert await stored(s.db) == {"connections": 0, "companies": 0, "company_settings": 0}


@pytest.mark.parametrize("client", [("sandbox-pd-client", "wrong"), ("someone", "sandbox-pd-secret")])
async def test_uninstall_with_wrong_credentials_is_refused_and_removes_nothing(oauth_stack, client):
    s = oauth_stack
    await s.install()
    before = await stored(s.db)

    assert await uninstall(s, client) == 401

    assert await stored(s.db) == before == {"connections": 1, "companies": 1, "company_settings": 1}


async def test_without_oauth_settings_the_install_routes_answer_503_and_the_rest_works(gateway):
    async with aiohttp.ClientSession() as browser:
        async with browser.get(gateway.make_url("/oauth/pipedrive/install"), allow_redirects=False) as resp:
            assert resp.status == 503 and (await resp.json())["error"]["code"] == "unavailable"
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with browser.post(gateway.make_url("/api/companies/7001/xero/connect-link"), headers=headers) as resp:
            assert resp.status == 503
        async with browser.get(gateway.make_url("/api/companies/7001/connections"), headers=headers) as resp:
            body = await resp.json()
    assert [c["status"] for c in body["connections"]] == ["not_connected", "not_connected"]


@pytest.mark.parametrize(("given", "missing"), [
    ({"xero_client_id": "x"}, "PDX_GATEWAY_XERO_CLIENT_SECRET"),
    ({"pipedrive_client_id": "p", "pipedrive_client_secret": "s"}, "PDX_GATEWAY_PUBLIC_URL"),
    ({"xero_scopes": "openid accounting.invoices"}, "offline_access"),
    ({"token_key": "not-a-fernet-key"}, "python -m pdx_common.crypto"),
])
def test_half_configured_oauth_is_refused_at_start_up_without_echoing_secrets(given, missing):
    with pytest.raises(ValueError, match=missing) as refused:
        GatewaySettings(api_token=API_TOKEN, **given)
    assert API_TOKEN not in str(refused.value) and "not-a-fernet-key" not in str(refused.value)


async def test_uninstall_dead_letters_the_drafts_still_waiting_for_xero(oauth_stack, infra):
    s = oauth_stack
    await s.install()
    payload = {"id": uuid.uuid4().hex, "company_id": s.company_id, "deal_id": "77", "waiting": True}
    await s.db.parked_commands.insert_one({"_id": payload["id"], "company_id": s.company_id, "deal_id": "77",
                                           "payload": payload, "parked_at": datetime.now(UTC)})

    assert await uninstall(s, PD_CLIENT) == 200

    assert await s.db.parked_commands.count_documents({}) == 0
    [dead] = await read_until(infra.kafka_bootstrap, topics.DEAD_LETTER, lambda got: len(got) >= 1,
                              match=lambda m: m["company_id"] == s.company_id)
    assert dead["payload"] == payload and "uninstalled" in dead["error"]
