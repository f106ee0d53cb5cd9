"""Both sandboxes keep a company's state in a file across restarts (``--state-file``), and inject faults on demand
(``/_sandbox/faults``): real processes and real HTTP."""

import asyncio
import pickle
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from pdx_sandbox.xero import NZ_TENANT_ID, XeroState
from tests.sandboxes.test_xero_sandbox import Sandbox as XeroSandbox
from tests.sandboxes.test_xero_sandbox import connect, create_contact, invoice

PD_API_TOKEN = {"x-api-token": "sandbox-pd-api-token"}
PD_CLIENT = aiohttp.encode_basic_auth("sandbox-pd-client", "sandbox-pd-secret")
REDIRECT = "http://127.0.0.1/callback"


class Server:
    """A sandbox as its own process, started (and restarted) on the same state file."""

    def __init__(self, args: list[str]) -> None:
        self.args, self.proc, self.url = args, None, ""

    def start(self) -> "Server":
        self.proc = subprocess.Popen([sys.executable, *self.args, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                return self
        raise AssertionError(f"the sandbox exited ({self.proc.wait()}) before listening")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
            assert self.proc.stdout is not None
            self.proc.stdout.close()

    def restart(self, sig: int = signal.SIGTERM) -> "Server":
        self.stop(sig)
        return self.start()


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Callable[..., Server]]:
    started: list[Server] = []

    def make(*args: str) -> Server:
        server = Server(list(args)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop(signal.SIGKILL)


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


async def pipedrive_token(http: aiohttp.ClientSession, url: str) -> str:
    params = {"client_id": "sandbox-pd-client", "redirect_uri": REDIRECT, "state": "s"}
    async with http.get(f"{url}/oauth/authorize", params=params, allow_redirects=False) as resp:
        code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    status, body = await call(http, "POST", f"{url}/oauth/token", headers={"Authorization": PD_CLIENT},
                              data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert status == 200, body
    return body["access_token"]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
async def test_pipedrive_keeps_records_grants_and_webhooks(servers: Callable[..., Server], tmp_path: Path,
                                                           how: int) -> None:
    server = servers("-m", "pdx_sandbox.pipedrive", "serve", "--state-file", str(tmp_path / "pd.pickle"))
    async with aiohttp.ClientSession() as http:
        token = await pipedrive_token(http, server.url)
        bearer = {"Authorization": f"Bearer {token}"}
        status, deal = await call(http, "POST", f"{server.url}/_sandbox/deals",
                                  json={"title": "Kept", "stage": "Negotiations Started", "org_id": 101,
                                        "products": [{"product_id": 301, "quantity": 2, "item_price": 50}]})
        assert status == 201, deal
        status, _ = await call(http, "POST", f"{server.url}/api/v1/webhooks", headers=bearer,
                               json={"subscription_url": "http://127.0.0.1:9/hook", "event_action": "*",
                                     "event_object": "deal", "version": "2.0", "name": "hook"})
        assert status == 201
        status, _ = await call(http, "POST", f"{server.url}/api/v2/activities", headers=bearer,
                               json={"subject": "Draft invoice INV-0001 created", "deal_id": deal["data"]["id"],
                                     "type": "task", "done": True})
        assert status in (200, 201)
        if how == signal.SIGKILL:  # no shutdown save: what was written shortly after the last change must do
            await until(lambda: bool(saved(tmp_path / "pd.pickle").get("activities")))
        server.restart(how)
        status, me = await call(http, "GET", f"{server.url}/api/v1/users/me", headers=bearer)
        assert status == 200, "the OAuth grant was lost"
        status, kept = await call(http, "GET", f"{server.url}/api/v2/deals/{deal['data']['id']}", headers=bearer)
        assert status == 200 and kept["data"]["title"] == "Kept" and kept["data"]["value"] == 115  # 2 x 50, 15 % tax
        _, hooks = await call(http, "GET", f"{server.url}/_sandbox/webhooks")
        assert [h["subscription_url"] for h in hooks["data"]] == ["http://127.0.0.1:9/hook"]
        _, acts = await call(http, "GET", f"{server.url}/_sandbox/activities",
                             params={"deal_id": str(deal["data"]["id"])})
        assert [a["subject"] for a in acts["data"]] == ["Draft invoice INV-0001 created"]
        _, created = await call(http, "POST", f"{server.url}/_sandbox/deals", json={"title": "Next"})
        assert created["data"]["id"] == deal["data"]["id"] + 1, "ids restart after a restart"


def saved(path: Path) -> dict[str, Any]:
    try:
        return pickle.loads(path.read_bytes())["state"]  # noqa: S301 - the sandbox's own file
    except (OSError, EOFError, pickle.UnpicklingError):
        return {}


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_xero_keeps_organisations_documents_connections_and_idempotency(servers: Callable[..., Server],
                                                                              tmp_path: Path) -> None:
    server = servers("-m", "pdx_sandbox.xero", "--state-file", str(tmp_path / "xero.pickle"))
    async with aiohttp.ClientSession() as http:
        sandbox = XeroSandbox(XeroState(), server.url, http)
        tokens = await connect(sandbox)
        contact = await create_contact(sandbox, tokens["access_token"], "Acme Ltd")
        payload = {"Invoices": [invoice(contact["ContactID"], [{"ItemCode": "WIDGET-01", "Quantity": 1}])]}
        key = {"Idempotency-Key": f"deal-1-{uuid.uuid4()}"}
        status, first, _ = await sandbox.api("PUT", "/Invoices", tokens["access_token"], json=payload, headers=key)
        assert status == 200, first
        server.restart()
        sandbox.url = server.url
        status, again, headers = await sandbox.api("PUT", "/Invoices", tokens["access_token"], json=payload,
                                                   headers=key)
        assert status == 200 and again == first and headers.get("X-Sandbox-Idempotent-Replay") == "true"
        _, docs = await call(http, "GET", f"{server.url}/_sandbox/tenants/{NZ_TENANT_ID}/invoices")
        assert [d["InvoiceID"] for d in docs] == [first["Invoices"][0]["InvoiceID"]]
        status, body = await call(http, "POST", f"{server.url}/connect/token",
                                  headers={"Authorization": aiohttp.encode_basic_auth("sandbox-xero-client",
                                                                                      "sandbox-xero-secret")},
                                  data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
        assert status == 200, body
        status, connections = await call(http, "GET", f"{server.url}/connections",
                                         headers={"Authorization": f"Bearer {body['access_token']}"})
        assert status == 200 and [c["tenantId"] for c in connections] == [NZ_TENANT_ID]


async def test_xero_faults_answer_a_share_of_the_calls(servers: Callable[..., Server]) -> None:
    server = servers("-m", "pdx_sandbox.xero")
    async with aiohttp.ClientSession() as http:
        sandbox = XeroSandbox(XeroState(), server.url, http)
        token = (await connect(sandbox))["access_token"]
        status, rule = await call(http, "POST", f"{server.url}/_sandbox/faults",
                                  json={"status": 429, "ratio": 1.0, "paths": ["/api.xro/2.0/Contacts"],
                                        "retry_after": 7, "count": 2})
        assert status == 201, rule
        answers = [await sandbox.api("GET", "/Contacts", token) for _ in range(3)]
        assert [a[0] for a in answers] == [429, 429, 200]
        assert answers[0][2]["Retry-After"] == "7" and answers[0][2]["X-Rate-Limit-Problem"] == "minute"
        assert (await sandbox.api("GET", "/Organisation", token))[0] == 200, "another path was hit"
        _, rules = await call(http, "GET", f"{server.url}/_sandbox/faults")
        assert rules[0]["hits"] == 2
        await call(http, "POST", f"{server.url}/_sandbox/faults", json={"status": 503, "ratio": 0.5})
        statuses = [(await sandbox.api("GET", "/Organisation", token))[0] for _ in range(40)]
        assert {503, 200} == set(statuses), statuses
        await call(http, "DELETE", f"{server.url}/_sandbox/faults")
        await call(http, "POST", f"{server.url}/_sandbox/faults", json={"status": None, "delay": 0.5})
        started = time.monotonic()
        assert (await sandbox.api("GET", "/Organisation", token))[0] == 200  # late, but done
        assert time.monotonic() - started >= 0.5
        status, refused = await call(http, "POST", f"{server.url}/_sandbox/faults", json={"ratio": 2})
        assert status == 400, refused


async def test_pipedrive_faults_answer_429_and_5xx(servers: Callable[..., Server]) -> None:
    server = servers("-m", "pdx_sandbox.pipedrive", "serve")
    async with aiohttp.ClientSession() as http:
        await call(http, "POST", f"{server.url}/_sandbox/faults",
                   json={"status": 429, "paths": ["/api/v2/deals"], "retry_after": 2, "count": 1})
        await call(http, "POST", f"{server.url}/_sandbox/faults",
                   json={"status": 503, "paths": ["/api/v2/deals"], "count": 1})
        statuses, retry_after = [], None
        for _ in range(3):
            async with http.get(f"{server.url}/api/v2/deals/1", headers=PD_API_TOKEN) as resp:
                statuses.append(resp.status)
                retry_after = retry_after or resp.headers.get("Retry-After")
        assert statuses == [429, 503, 200] and retry_after == "2"
        _, rules = await call(http, "DELETE", f"{server.url}/_sandbox/faults")
        assert [r["hits"] for r in rules["data"]] == [1, 1]
