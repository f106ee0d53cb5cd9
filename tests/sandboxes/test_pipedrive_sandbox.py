"""The Pipedrive sandbox behaves like Pipedrive for what the product uses: real loopback servers, real HTTP."""

import asyncio
import base64
import json
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pdx_sandbox.pipedrive import (
    DEAL_NO_CONTACT_ID,
    DEAL_NO_PRODUCTS_ID,
    DEAL_PERSON_ONLY_ID,
    DEAL_USD_ID,
    DEMO_DEAL_ID,
    DUE_DAYS_FIELD_KEY,
    PO_NUMBER_FIELD_KEY,
    STAGE_NEGOTIATIONS,
    STAGE_WON,
    PipedriveState,
    create_app,
)

API_TOKEN = {"x-api-token": "sandbox-pd-api-token"}
CLIENT = aiohttp.encode_basic_auth("sandbox-pd-client", "sandbox-pd-secret")
FAST_RETRIES = (0.05, 0.05, 0.05)


@dataclass
class Receiver:
    """A webhook endpoint on port 0 that records what it gets and answers ``status``."""

    status: int = 200
    first_delay: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        if self.first_delay and not self.calls:
            self.first_delay, delay = 0.0, self.first_delay
            await asyncio.sleep(delay)
        self.calls.append({"auth": request.headers.get("Authorization"), "body": await request.json()})
        self.changed.set()
        return web.json_response({"ok": self.status < 300}, status=self.status)

    async def wait_for(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.calls) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.calls


@dataclass
class Sandbox:
    state: PipedriveState
    url: str
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, *, headers: dict | None = None, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, headers=headers or API_TOKEN, **kwargs) as resp:
            return resp.status, await resp.json()

    async def register_webhook(self, receiver: Receiver, **extra: Any) -> dict:
        body = {"subscription_url": receiver.url, "event_action": "*", "event_object": "deal", "name": "Xero drafts",
                "version": "2.0", "http_auth_user": "hook-user", "http_auth_password": "hook-pass", **extra}
        status, answer = await self.call("POST", "/api/v1/webhooks", json=body)
        assert status == 201, answer
        return answer["data"]


async def _serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/pipedrive", hooks.handle)
    server = await _serve(app)
    hooks.url = str(server.make_url("/hooks/pipedrive"))
    yield hooks
    await server.close()


async def _sandbox(state: PipedriveState) -> tuple[TestServer, Sandbox, aiohttp.ClientSession]:
    server = await _serve(create_app(state))
    url = str(server.make_url("")).rstrip("/")
    state.base_url = url
    http = aiohttp.ClientSession()
    return server, Sandbox(state, url, http), http


@pytest.fixture
async def make_sandbox() -> AsyncIterator[Any]:
    opened: list[tuple[TestServer, aiohttp.ClientSession]] = []

    async def make(**options: Any) -> Sandbox:
        server, sandbox, http = await _sandbox(PipedriveState(**{"retry_delays": FAST_RETRIES, **options}))
        opened.append((server, http))
        return sandbox

    yield make
    for server, http in opened:
        await http.close()
        await server.close()


@pytest.fixture
async def sandbox(make_sandbox: Any) -> Sandbox:
    return await make_sandbox()


async def _until(condition: Any, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


# --- OAuth ------------------------------------------------------------------------------------------------------------
async def _authorize(sandbox: Sandbox, redirect_uri: str = "http://app.example/callback") -> str:
    params = {"client_id": "sandbox-pd-client", "redirect_uri": redirect_uri, "state": "st-42"}
    async with sandbox.http.get(f"{sandbox.url}/oauth/authorize", params=params, allow_redirects=False) as resp:
        assert resp.status == 302
        location = urlsplit(resp.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    assert query["state"] == ["st-42"]
    return query["code"][0]


async def _token(sandbox: Sandbox, form: dict[str, str], auth: str = CLIENT) -> tuple[int, dict]:
    async with sandbox.http.post(f"{sandbox.url}/oauth/token", data=form, headers={"Authorization": auth}) as resp:
        return resp.status, await resp.json()


async def test_oauth_code_then_refresh(sandbox: Sandbox) -> None:
    code = await _authorize(sandbox)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://app.example/callback"}
    status, tokens = await _token(sandbox, form)
    assert status == 200
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["api_domain"] == sandbox.url and "deals:full" in tokens["scope"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    status, me = await sandbox.call("GET", "/api/v1/users/me", headers=bearer)
    assert status == 200 and me["data"]["company_id"] == 7001 and me["data"]["company_domain"] == "demo"

    status, again = await _token(sandbox, form)
    assert (status, again["error"]) == (400, "invalid_grant")  # codes are single use

    sandbox.state.clock.advance(3601)
    status, expired = await sandbox.call("GET", "/api/v2/deals/1", headers=bearer)
    assert (status, expired["success"], expired["errorCode"]) == (401, False, 401)

    status, refreshed = await _token(sandbox, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert status == 200 and refreshed["access_token"] != tokens["access_token"]
    status, deal = await sandbox.call("GET", "/api/v2/deals/1",
                                      headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert status == 200 and deal["data"]["id"] == 1


async def test_oauth_rejects_bad_client_old_codes_and_unknown_refresh_tokens(sandbox: Sandbox) -> None:
    code = await _authorize(sandbox)
    status, answer = await _token(sandbox, {"grant_type": "authorization_code", "code": code},
                                  auth=aiohttp.encode_basic_auth("sandbox-pd-client", "wrong"))
    assert (status, answer["error"]) == (401, "invalid_client")

    code = await _authorize(sandbox)
    sandbox.state.clock.advance(301)
    status, answer = await _token(sandbox, {"grant_type": "authorization_code", "code": code})
    assert (status, answer["error"]) == (400, "invalid_grant")

    status, answer = await _token(sandbox, {"grant_type": "refresh_token", "refresh_token": "nope"})
    assert (status, answer["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("headers", [{}, {"x-api-token": "wrong"}, {"Authorization": "Bearer not-a-token"}])
async def test_api_routes_need_a_valid_credential(sandbox: Sandbox, headers: dict) -> None:
    status, answer = await sandbox.call("GET", f"/api/v2/deals/{DEMO_DEAL_ID}", headers=headers or {"x": "y"})
    assert status == 401
    assert answer["success"] is False and answer["errorCode"] == 401 and answer["error"]


async def test_api_token_in_query_works(sandbox: Sandbox) -> None:
    status, _ = await sandbox.call("GET", "/api/v2/pipelines", headers={"x": "y"},
                                   params={"api_token": "sandbox-pd-api-token"})
    assert status == 200


# --- reads ------------------------------------------------------------------------------------------------------------
async def test_deal_read_in_v2_shape_with_custom_fields(sandbox: Sandbox) -> None:
    async with sandbox.http.get(f"{sandbox.url}/api/v2/deals/{DEMO_DEAL_ID}", headers=API_TOKEN) as resp:
        assert resp.headers["x-token-cost"] == "1"
        body = await resp.json()
    deal = body["data"]
    assert body["success"] is True
    assert {k: deal[k] for k in ("id", "currency", "stage_id", "pipeline_id", "person_id", "org_id", "status")} == {
        "id": DEMO_DEAL_ID, "currency": "NZD", "stage_id": STAGE_NEGOTIATIONS, "pipeline_id": 1, "person_id": 201,
        "org_id": 101, "status": "open"}
    assert deal["value"] == 3300.5 and deal["stage_change_time"].endswith("Z")
    assert deal["custom_fields"] == {PO_NUMBER_FIELD_KEY: "PO-4471", DUE_DAYS_FIELD_KEY: 20}

    _, fields = await sandbox.call("GET", "/api/v2/dealFields")
    custom = {f["field_code"]: f for f in fields["data"] if f["is_custom_field"]}
    assert custom[PO_NUMBER_FIELD_KEY]["field_name"] == "PO number"
    assert custom[DUE_DAYS_FIELD_KEY]["field_type"] == "double"
    assert len(PO_NUMBER_FIELD_KEY) == 40 and int(PO_NUMBER_FIELD_KEY, 16) >= 0


async def test_deal_products_discounts_and_contacts(sandbox: Sandbox) -> None:
    async with sandbox.http.get(f"{sandbox.url}/api/v2/deals/{DEMO_DEAL_ID}/products", headers=API_TOKEN) as resp:
        assert resp.headers["x-token-cost"] == "10"
        lines = (await resp.json())["data"]
    assert [(li["product_id"], li["quantity"], li["item_price"], li["discount"], li["discount_type"], li["tax"],
             li["tax_method"], li["is_enabled"], li["sum"]) for li in lines] == [
        (301, 10, 180, 10, "percentage", 15, "exclusive", True, 1863.0),
        (302, 50, 25, 0, "percentage", 15, "exclusive", True, 1437.5)]
    product = (await sandbox.call("GET", "/api/v2/products/301"))[1]["data"]
    assert product["code"] == "CONSULT-HR"
    assert {"currency": "NZD", "price": 180}.items() <= product["prices"][0].items()

    discounts = (await sandbox.call("GET", f"/api/v2/deals/{DEAL_USD_ID}/discounts"))[1]["data"]
    assert [(d["amount"], d["type"], d["deal_id"]) for d in discounts] == [(5, "percentage", DEAL_USD_ID)]

    person = (await sandbox.call("GET", "/api/v2/persons/201"))[1]["data"]
    assert person["emails"][0] == {"value": "aroha@kiwiwidgets.example", "primary": True, "label": "work"}
    assert person["org_id"] == 101 and person["phones"][0]["primary"] is True
    org = (await sandbox.call("GET", "/api/v2/organizations/101"))[1]["data"]
    assert org["name"] == "Kiwi Widgets Ltd" and org["address"]["locality"] == "Auckland"

    no_contact = (await sandbox.call("GET", f"/api/v2/deals/{DEAL_NO_CONTACT_ID}"))[1]["data"]
    assert no_contact["person_id"] is None and no_contact["org_id"] is None
    person_only = (await sandbox.call("GET", f"/api/v2/deals/{DEAL_PERSON_ONLY_ID}"))[1]["data"]
    assert person_only["person_id"] is not None and person_only["org_id"] is None
    assert (await sandbox.call("GET", f"/api/v2/deals/{DEAL_NO_PRODUCTS_ID}/products"))[1]["data"] == []
    status, missing = await sandbox.call("GET", "/api/v2/deals/999")
    assert (status, missing["success"], missing["errorCode"]) == (404, False, 404)


async def test_search_stages_pipelines_currencies_and_deal_filters(sandbox: Sandbox) -> None:
    params = {"term": "john.smith@acme.example", "fields": "email", "exact_match": "true"}
    found = (await sandbox.call("GET", "/api/v2/persons/search", params=params))[1]["data"]["items"]
    assert [i["item"]["id"] for i in found] == [202] and found[0]["item"]["organization"]["id"] == 102
    params = {"term": "WIDGET-01", "fields": "code", "exact_match": "true"}
    found = (await sandbox.call("GET", "/api/v2/products/search", params=params))[1]["data"]["items"]
    assert [(i["item"]["id"], i["item"]["code"]) for i in found] == [(302, "WIDGET-01")]

    stages = (await sandbox.call("GET", "/api/v2/stages", params={"pipeline_id": 2}))[1]["data"]
    assert [(s["id"], s["name"]) for s in stages] == [(6, "Renewal due"), (7, "Quote requested"), (8, "Renewed")]
    assert (await sandbox.call("GET", "/api/v2/stages/5"))[1]["data"]["name"] == "Won"
    pipelines = (await sandbox.call("GET", "/api/v2/pipelines"))[1]["data"]
    assert [p["name"] for p in pipelines] == ["Sales", "Renewals"]
    codes = {c["code"] for c in (await sandbox.call("GET", "/api/v1/currencies"))[1]["data"]}
    assert {"NZD", "USD", "EUR", "GBP"} <= codes

    in_stage = (await sandbox.call("GET", "/api/v2/deals", params={"stage_id": STAGE_NEGOTIATIONS}))[1]["data"]
    assert {d["id"] for d in in_stage} == {DEMO_DEAL_ID, DEAL_NO_CONTACT_ID, DEAL_PERSON_ONLY_ID}
    since = sandbox.state.now()
    await sandbox.call("PATCH", f"/api/v2/deals/{DEAL_USD_ID}", json={"title": "Acme - bigger order"})
    recent = (await sandbox.call("GET", "/api/v2/deals", params={"updated_since": since}))[1]["data"]
    assert [d["id"] for d in recent] == [DEAL_USD_ID]


# --- webhooks ---------------------------------------------------------------------------------------------------------
async def test_stage_move_fires_a_v2_webhook(sandbox: Sandbox, receiver: Receiver) -> None:
    webhook = await sandbox.register_webhook(receiver)
    before = sandbox.state.deals[DEMO_DEAL_ID]["stage_change_time"]
    async with sandbox.http.post(f"{sandbox.url}/_sandbox/deals/{DEMO_DEAL_ID}/move", json={"stage": "Won"}) as resp:
        moved = await resp.json()
    assert moved["data"]["stage_id"] == STAGE_WON and moved["additional_data"]["old_stage"] == "Negotiations Started"

    [call] = await receiver.wait_for(1)
    assert call["auth"] == "Basic " + base64.b64encode(b"hook-user:hook-pass").decode()
    meta, data, previous = call["body"]["meta"], call["body"]["data"], call["body"]["previous"]
    assert {k: meta[k] for k in ("action", "entity", "entity_id", "company_id", "user_id", "version", "webhook_id",
                                 "type", "change_source", "attempt", "is_bulk_edit", "host")} == {
        "action": "change", "entity": "deal", "entity_id": str(DEMO_DEAL_ID), "company_id": "7001",
        "user_id": "12001", "version": "2.0", "webhook_id": str(webhook["id"]), "type": "general",
        "change_source": "app", "attempt": 1, "is_bulk_edit": False, "host": "demo.pipedrive.com"}
    assert meta["timestamp"].endswith("Z") and len(meta["id"]) == 36
    assert data["id"] == DEMO_DEAL_ID and data["stage_id"] == STAGE_WON and data["currency"] == "NZD"
    assert data["custom_fields"][PO_NUMBER_FIELD_KEY] == {"type": "varchar", "value": "PO-4471"}
    assert previous == {"stage_id": STAGE_NEGOTIATIONS, "stage_change_time": before}
    await _until(lambda: sandbox.state.deliveries)
    assert sandbox.state.deliveries[0]["status"] == 200


async def test_api_writes_fire_webhooks_with_change_source_api(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.register_webhook(receiver)
    status, created = await sandbox.call("POST", "/api/v2/deals", json={"title": "New", "currency": "USD"})
    assert status == 200
    deal_id = created["data"]["id"]
    status, line = await sandbox.call("POST", f"/api/v2/deals/{deal_id}/products",
                                      json={"product_id": 302, "quantity": 2, "item_price": 15, "tax": 0})
    assert status == 201 and line["data"]["sum"] == 30
    await sandbox.call("PATCH", f"/api/v2/deals/{deal_id}", json={"custom_fields": {PO_NUMBER_FIELD_KEY: "PO-9"}})

    calls = await receiver.wait_for(3)
    bodies = sorted((c["body"] for c in calls), key=lambda b: b["meta"]["timestamp"])
    assert {b["meta"]["change_source"] for b in bodies} == {"api"}
    by_action = {(b["meta"]["action"], json.dumps(b["previous"], sort_keys=True)) for b in bodies}
    assert by_action == {("create", "null"), ("change", '{"value": 0}'),
                         ("change", json.dumps({"custom_fields": {PO_NUMBER_FIELD_KEY: None}}))}


async def test_failed_delivery_is_retried_with_the_same_event_id(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.status = 500
    await sandbox.register_webhook(receiver)
    await sandbox.call("POST", f"/_sandbox/deals/{DEMO_DEAL_ID}/move", json={"stage_id": STAGE_WON})
    calls = await receiver.wait_for(4)
    # The delivery task has ended: no fifth attempt can come.
    await _until(lambda: not sandbox.state.dispatcher._tasks)  # noqa: SLF001
    await _until(lambda: len(sandbox.state.deliveries) == 4)
    assert len(calls) == 4
    assert len({c["body"]["meta"]["id"] for c in calls}) == 1
    assert [c["body"]["meta"]["attempt"] for c in calls] == [1, 2, 3, 4]
    assert [(d["attempt"], d["status"]) for d in sandbox.state.deliveries] == [(1, 500), (2, 500), (3, 500), (4, 500)]


async def test_slow_receiver_times_out_and_is_retried(make_sandbox: Any, receiver: Receiver) -> None:
    sandbox = await make_sandbox(delivery_timeout=2.0)  # the retry must beat it even on a busy machine
    await sandbox.register_webhook(receiver)
    receiver.first_delay = 6.0
    await sandbox.call("POST", f"/_sandbox/deals/{DEMO_DEAL_ID}/move", json={"stage": "Won"})
    await _until(lambda: len(sandbox.state.deliveries) >= 2)
    first, second = sandbox.state.deliveries[:2]
    assert (first["attempt"], first["status"], first["error"]) == (1, None, "TimeoutError")
    assert (second["attempt"], second["status"]) == (2, 200)


async def test_app_cleanup_cancels_pending_retries(receiver: Receiver) -> None:
    receiver.status = 503
    server, sandbox, http = await _sandbox(PipedriveState(retry_delays=(60, 60, 60)))
    try:
        await sandbox.register_webhook(receiver)
        await sandbox.call("POST", f"/_sandbox/deals/{DEMO_DEAL_ID}/move", json={"stage": "Won"})
        await _until(lambda: sandbox.state.deliveries)
        dispatcher = sandbox.state.dispatcher
        assert dispatcher is not None and dispatcher._tasks
    finally:
        await http.close()
        await server.close()
    assert not dispatcher._tasks and sandbox.state.dispatcher is None
    assert [d["status"] for d in sandbox.state.deliveries] == [503]


async def test_redeliver_and_duplicate_deliveries(make_sandbox: Any, receiver: Receiver) -> None:
    sandbox = await make_sandbox(duplicate_deliveries=2)
    await sandbox.register_webhook(receiver, event_action="change")
    await sandbox.call("POST", f"/_sandbox/deals/{DEMO_DEAL_ID}/move", json={"stage": "Won"})
    calls = await receiver.wait_for(2)
    event_id = calls[0]["body"]["meta"]["id"]
    assert [(c["body"]["meta"]["id"], c["body"]["meta"]["attempt"]) for c in calls] == [(event_id, 1), (event_id, 2)]

    status, redone = await sandbox.call("POST", "/_sandbox/webhooks/redeliver", json={"event_id": event_id, "times": 1})
    assert status == 200 and [d["attempt"] for d in redone["data"]] == [3]
    records = await sandbox.state.redeliver(event_id, times=2)
    assert [r["attempt"] for r in records] == [4, 4]  # Pipedrive never counts past 4
    assert len(receiver.calls) == 5 and {c["body"]["meta"]["id"] for c in receiver.calls} == {event_id}


async def test_webhook_list_and_delete(sandbox: Sandbox, receiver: Receiver) -> None:
    webhook = await sandbox.register_webhook(receiver)
    listed = (await sandbox.call("GET", "/api/v1/webhooks"))[1]["data"]
    assert [(w["id"], w["event_object"], w["version"]) for w in listed] == [(webhook["id"], "deal", "2.0")]
    status, bad = await sandbox.call("POST", "/api/v1/webhooks", json={"event_object": "deal"})
    assert status == 400 and "subscription_url" in bad["errors"]
    assert (await sandbox.call("DELETE", f"/api/v1/webhooks/{webhook['id']}"))[0] == 200
    assert (await sandbox.call("GET", "/api/v1/webhooks"))[1]["data"] == []


# --- writes, costs, limits --------------------------------------------------------------------------------------------
async def test_activity_and_note_create(sandbox: Sandbox) -> None:
    activity = {"subject": "Xero draft invoice INV-0042", "type": "task", "deal_id": DEMO_DEAL_ID, "done": True,
                "note": "Created by the Xero integration"}
    async with sandbox.http.post(f"{sandbox.url}/api/v2/activities", json=activity, headers=API_TOKEN) as resp:
        assert resp.status == 200 and resp.headers["x-token-cost"] == "5"
        created = (await resp.json())["data"]
    assert created["deal_id"] == DEMO_DEAL_ID and created["done"] is True and created["org_id"] == 101
    listed = (await sandbox.call("GET", "/api/v2/activities", params={"deal_id": DEMO_DEAL_ID}))[1]["data"]
    assert [a["subject"] for a in listed] == ["Xero draft invoice INV-0042"]

    note = {"content": "<p>Invoice drafted</p>", "deal_id": DEMO_DEAL_ID, "pinned_to_deal_flag": 1}
    async with sandbox.http.post(f"{sandbox.url}/api/v1/notes", json=note, headers=API_TOKEN) as resp:
        assert resp.status == 200 and resp.headers["x-token-cost"] == "10"
        created = (await resp.json())["data"]
    assert created["deal"] == {"title": "Kiwi Widgets - HR rollout"} and created["pinned_to_deal_flag"] is True
    notes = (await sandbox.call("GET", "/api/v1/notes", params={"deal_id": DEMO_DEAL_ID}))[1]["data"]
    assert [n["content"] for n in notes] == ["<p>Invoice drafted</p>"]
    assert sandbox.state.tokens_spent == 5 + 10 + 10 + 20
    logged = [(r["method"], r["path"], r["status"]) for r in sandbox.state.requests]
    assert ("POST", "/api/v1/notes", 200) in logged
    assert sandbox.state.requests[0]["json"]["subject"] == "Xero draft invoice INV-0042"


async def test_burst_limit_answers_429_with_headers(make_sandbox: Any) -> None:
    sandbox = await make_sandbox(burst_limit=3)
    remaining = []
    for _ in range(3):
        async with sandbox.http.get(f"{sandbox.url}/api/v2/deals/1", headers=API_TOKEN) as resp:
            assert resp.status == 200 and resp.headers["x-ratelimit-limit"] == "3"
            remaining.append(resp.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    async with sandbox.http.get(f"{sandbox.url}/api/v2/deals/1", headers=API_TOKEN) as resp:
        assert resp.status == 429
        assert resp.headers["x-ratelimit-remaining"] == "0" and int(resp.headers["Retry-After"]) >= 1
        assert int(resp.headers["x-ratelimit-reset"]) >= 1 and (await resp.json())["errorCode"] == 429
    sandbox.state.clock.advance(2.0)
    assert (await sandbox.call("GET", "/api/v2/deals/1"))[0] == 200


# --- CLI --------------------------------------------------------------------------------------------------------------
def test_cli_serve_and_move() -> None:
    command = [sys.executable, "-m", "pdx_sandbox.pipedrive"]
    with subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", "0", "--retry-delays", "0.1,0.1,0.1"],
                          stdout=subprocess.PIPE, text=True) as server:
        try:
            line = server.stdout.readline().strip()
            assert line.startswith("pipedrive sandbox listening on http://127.0.0.1:")
            url = line.rsplit(" ", 1)[1]
            moved = subprocess.run([*command, "move", "--url", url, "--deal", str(DEMO_DEAL_ID), "--stage", "Won"],
                                   capture_output=True, text=True, timeout=60, check=True)
            assert moved.stdout.strip() == "deal 1 'Kiwi Widgets - HR rollout': Negotiations Started -> Won"
            request = urllib.request.Request(f"{url}/api/v2/deals/{DEMO_DEAL_ID}", headers=API_TOKEN)
            with urllib.request.urlopen(request, timeout=60) as resp:
                assert json.load(resp)["data"]["stage_id"] == STAGE_WON
        finally:
            server.terminate()
            assert server.wait(timeout=60) == 0
