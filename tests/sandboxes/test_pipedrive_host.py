"""The Pipedrive sandbox plays Pipedrive's web app around the app's settings iframe: a signed JWT in the iframe's
query, and the @pipedrive/app-extensions-sdk handshake answered (checked in headless Chromium with the vendored SDK)."""

import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pdx_sandbox.pipedrive import (
    INACTIVE_USER_ID,
    REGION_FIELD_KEY,
    REGULAR_USER_ID,
    USER_ID,
    PipedriveState,
    create_app,
)

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "services/gateway/src/pdx_gateway/app_ui/static/vendor/app-extensions-sdk.js"
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"  # 40 hex, as Pipedrive's client secrets (PyJWT wants >= 32 B)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Host:
    def __init__(self, state: PipedriveState, url: str, http: aiohttp.ClientSession) -> None:
        self.state, self.url, self.http = state, url, http

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path) as resp:
            return resp.status, await resp.text()

    async def control(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, **kwargs) as resp:
            return resp.status, await resp.json()

    async def iframe_query(self, path: str) -> dict[str, str]:
        status, page = await self.get(path)
        assert status == 200, page
        src = html.unescape(re.search(r'<iframe[^>]* data-src="([^"]+)"', page).group(1))
        assert src.startswith("http://app.example/app/entry?")
        return {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    state = PipedriveState(retry_delays=(0.05,), client_secret=SECRET)
    server = await _serve(create_app(state))
    async with aiohttp.ClientSession() as http:
        yield Host(state, str(server.make_url("")).rstrip("/"), http)
    await server.close()


def _claims(token: str, secret: str = SECRET) -> dict[str, Any]:
    return jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "iat"]})


async def test_the_settings_url_is_set_by_control_and_the_iframe_carries_what_pipedrive_sends(host: Host) -> None:
    status, page = await host.get(f"/host/app-settings?company_id=7001&user_id={USER_ID}")
    assert status == 409 and "--app-settings-url" in page
    status, body = await host.control("POST", "/_sandbox/app", json={"settings_url": "http://app.example/app/entry"})
    assert status == 200 and body["data"]["settings_url"] == "http://app.example/app/entry"
    assert body["data"]["host_urls"]["admin"].endswith(f"/host/app-settings?company_id=7001&user_id={USER_ID}")

    query = await host.iframe_query(f"/host/app-settings?company_id=7001&user_id={REGULAR_USER_ID}")
    assert (query["userId"], query["companyId"], query["resource"], query["view"]) == (
        str(REGULAR_USER_ID), "7001", "settings", "settings")
    assert uuid.UUID(query["id"])
    claims = _claims(query["token"])
    assert (claims["userId"], claims["companyId"]) == (REGULAR_USER_ID, 7001)
    assert claims["exp"] - claims["iat"] == 300 and abs(claims["iat"] - time.time()) < 60
    assert jwt.get_unverified_header(query["token"])["alg"] == "HS256"
    second = await host.iframe_query(f"/host/app-settings?company_id=7001&user_id={REGULAR_USER_ID}")
    assert second["id"] != query["id"]  # a new identifier per opening, as Pipedrive does


async def test_bad_token_variants_for_tests(host: Host) -> None:
    host.state.app_settings_url = "http://app.example/app/entry"
    base = f"/host/app-settings?company_id=7001&user_id={USER_ID}&token="
    expired = (await host.iframe_query(base + "expired"))["token"]
    with pytest.raises(jwt.ExpiredSignatureError):
        _claims(expired)
    forged = (await host.iframe_query(base + "forged"))["token"]
    with pytest.raises(jwt.InvalidSignatureError):
        _claims(forged)
    other = await host.iframe_query(base + "other_company")
    assert other["companyId"] == "7001" and _claims(other["token"])["companyId"] != 7001
    assert (await host.get(base + "nonsense"))[0] == 400


async def test_the_host_knows_only_its_company_and_active_users(host: Host) -> None:
    host.state.app_settings_url = "http://app.example/app/entry"
    assert (await host.get("/host/app-settings?company_id=7002&user_id=12001"))[0] == 404
    assert (await host.get("/host/app-settings?company_id=7001&user_id=4242"))[0] == 404
    assert (await host.get(f"/host/app-settings?company_id=7001&user_id={INACTIVE_USER_ID}"))[0] == 403
    deep = await host.iframe_query(f"/settings/marketplace/app/sandbox-pd-client/app-settings?user_id={USER_ID}")
    assert deep["userId"] == str(USER_ID) and deep["companyId"] == "7001"
    assert (await host.get("/settings/marketplace/app/someone-else/app-settings"))[0] == 404
    status, index = await host.get("/host/")
    assert status == 200 and "Sam Seller" in index and f"user_id={REGULAR_USER_ID}" in index

    status, body = await host.control("GET", f"/host/token?company_id=7001&user_id={REGULAR_USER_ID}")
    assert status == 200 and _claims(body["token"])["userId"] == REGULAR_USER_ID
    assert (await host.control("GET", "/host/token?company_id=7001&user_id=4242"))[0] == 404


async def test_a_jwt_secret_of_its_own_signs_instead_of_the_client_secret(host: Host) -> None:
    await host.control("POST", "/_sandbox/app", json={"settings_url": "http://app.example/app/entry",
                                                      "jwt_secret": "panel-secret-" + SECRET})
    token = (await host.iframe_query(f"/host/app-settings?user_id={USER_ID}"))["token"]
    assert _claims(token, "panel-secret-" + SECRET)["userId"] == USER_ID
    with pytest.raises(jwt.InvalidSignatureError):
        _claims(token)


# --- the SDK's handshake, in a real browser ---------------------------------------------------------------------
APP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="/sdk.js"></script></head>
<body><h1>Fake app</h1><script>
(async function () {
  const sdk = await new AppExtensionsSDK().initialize({ size: { height: 432 } });
  const answer = await sdk.execute("get_signed_token");
  document.body.dataset.token = answer.token;
  await sdk.execute("show_snackbar", { message: "Saved" });
  await sdk.execute("resize", { height: 456 });
  document.body.dataset.done = "true";
})().catch(function (e) { document.body.dataset.error = String(e); });
</script></body></html>"""
SILENT_PAGE = "<!doctype html><html><body><h1>Never initialises</h1></body></html>"


@pytest.fixture
async def fake_app() -> AsyncIterator[str]:
    assert SDK.exists(), f"the vendored SDK is not at {SDK}"
    async def sdk(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(SDK)

    def page_of(text: str) -> Any:
        async def handler(_: web.Request) -> web.Response:
            return web.Response(text=text, content_type="text/html")

        return handler

    app = web.Application()
    app.router.add_get("/sdk.js", sdk)
    app.router.add_get("/app/entry", page_of(APP_PAGE))
    app.router.add_get("/silent", page_of(SILENT_PAGE))
    server = await _serve(app)
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    binary = os.environ.get("PDX_CHROMIUM") or "/usr/bin/chromium"
    # Not a skip: ./dev test installs Chromium, so a missing one is a broken set-up, said plainly.
    assert os.access(binary, os.X_OK), f"no Chromium at {binary}: run the tests with ./dev test, which installs it"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=binary, headless=True, args=CHROMIUM_ARGS)
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


async def test_the_host_answers_the_sdk_handshake_and_hands_out_fresh_tokens(host: Host, fake_app: str,
                                                                              page: Any) -> None:
    from playwright.async_api import expect

    host.state.app_settings_url = f"{fake_app}/app/entry"
    await page.goto(f"{host.url}/host/app-settings?company_id=7001&user_id={REGULAR_USER_ID}")
    body = page.locator("body")
    await expect(body).to_have_attribute("data-app-initialised", "true", timeout=30_000)
    await expect(page.locator("#app-status")).to_have_text("App initialised")
    app = page.frame_locator("iframe")
    await expect(app.locator("body")).to_have_attribute("data-done", "true", timeout=30_000)
    token = await app.locator("body").get_attribute("data-token")
    assert _claims(token)["userId"] == REGULAR_USER_ID and _claims(token)["companyId"] == 7001
    await expect(page.locator("#app-snackbar")).to_have_text("Saved")
    assert await page.locator("iframe").evaluate("f => f.style.height") == "456px"
    commands = [m["command"] for m in await page.evaluate("window.hostLog") if m["type"] == "command"]
    assert commands == ["initialize", "get_signed_token", "show_snackbar", "resize"]


async def test_an_app_that_never_initialises_gets_pipedrives_error(host: Host, fake_app: str, page: Any) -> None:
    from playwright.async_api import expect

    host.state.app_settings_url = f"{fake_app}/silent"
    await page.goto(f"{host.url}/host/app-settings?user_id={USER_ID}&init_timeout_ms=300")
    await expect(page.locator("body")).to_have_attribute("data-app-initialised", "false", timeout=30_000)
    await expect(page.locator("#app-status")).to_contain_text("The app did not respond")
    await expect(page.frame_locator("iframe").get_by_role("heading")).to_have_text("Never initialises")


def test_cli_takes_the_company_and_the_app_settings_url() -> None:
    command = [sys.executable, "-m", "pdx_sandbox.pipedrive", "serve", "--port", "0", "--company-id", "7002",
               "--company-domain", "second", "--client-secret", SECRET, "--app-settings-url",
               "http://127.0.0.1:9/app/entry"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            line = server.stdout.readline().strip()
            assert re.fullmatch(r"pipedrive sandbox listening on http://127\.0\.0\.1:\d+", line)
            url = line.rsplit(" ", 1)[1]
            with urllib.request.urlopen(f"{url}/_sandbox/app", timeout=60) as resp:
                app = json.load(resp)["data"]
            assert app["settings_url"] == "http://127.0.0.1:9/app/entry"
            with urllib.request.urlopen(f"{url}/host/token?company_id=7002&user_id={USER_ID}", timeout=60) as resp:
                assert _claims(json.load(resp)["token"])["companyId"] == 7002
        finally:
            server.terminate()
            assert server.wait(timeout=60) == 0


def test_a_state_file_from_before_users_and_person_fields_keeps_the_seeded_ones() -> None:
    old = PipedriveState()
    old.deal_fields = {k: f for k, f in old.deal_fields.items() if k != REGION_FIELD_KEY}
    old.add_field("deal", "f" * 40, "Added by the user", "varchar")
    saved = {k: v for k, v in old.snapshot().items() if k not in ("users", "person_fields", "organization_fields",
                                                                   "app_settings_url", "jwt_secret")}
    fresh = PipedriveState()
    fresh.restore(saved)
    assert set(fresh.users) == {USER_ID, REGULAR_USER_ID, INACTIVE_USER_ID} and fresh.person_fields
    assert REGION_FIELD_KEY in fresh.deal_fields and fresh.deal_fields["f" * 40]["name"] == "Added by the user"
