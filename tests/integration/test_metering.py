"""The metering service on the real broker and store: each draft bills once, in its UTC month, for its company.

Every message of a test goes on one key (so one partition, in order) and ends with a sentinel draft for a company
of its own: once the sentinel is counted, everything published before it has been handled.
"""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import BaseModel

from pdx_common import topics
from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentParked, DocumentSkipped
from pdx_common.kafka import make_broker
from pdx_common.service import KafkaPublisher
from pdx_common.settings import ServiceSettings
from pdx_metering.bootstrap import create_app
from pdx_metering.settings import MeteringSettings

TOKEN = "metering-test-token-0123456789abcdef"
NOV = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
DEC = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


@pytest.fixture
async def metering(infra, mongo_db):
    settings = MeteringSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url,
                                mongo_db=mongo_db.name, log_json=True, api_token=TOKEN,
                                kafka_session_timeout_ms=2_000, kafka_heartbeat_interval_ms=500,
                                retry_first_delay=0.05)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def publisher(infra):
    broker = make_broker(ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap))
    await broker.start()
    try:
        yield KafkaPublisher(broker)
    finally:
        await broker.stop()


class Results:
    """Publishes results for one test on one key, and knows when the service has read them all."""

    def __init__(self, publisher: KafkaPublisher, server: TestServer, run_id: str) -> None:
        self.publisher, self.server, self.run_id = publisher, server, run_id
        self.key = f"metering-test:{run_id}".encode()

    def company(self, name: str) -> str:
        return f"{self.run_id}-{name}"

    async def publish(self, *messages: BaseModel) -> None:
        for message in messages:
            await self.publisher.publish(message, topics.DOCUMENT_RESULTS, self.key)

    async def settle(self, timeout: float = 30.0) -> None:
        sentinel = self.company("sentinel")
        await self.publish(created(sentinel, uuid.uuid4().hex))
        async with asyncio.timeout(timeout):
            while not (await usage(self.server, sentinel))["months"]:
                await asyncio.sleep(0.1)


@pytest.fixture
def results(publisher, metering, run_id) -> Results:
    return Results(publisher, metering, run_id)


def created(company: str, xero_id: str, *, kind: str = "invoice", at: datetime = NOV, deal: str = "42",
            tenant: str = "tenant-1") -> DocumentCreated:
    return DocumentCreated(company_id=company, deal_id=deal, command_id=uuid.uuid4().hex, trigger_id="won-invoice",
                           kind=kind, tenant_id=tenant, xero_id=xero_id, number="INV-0001", total=Decimal("2415.00"),
                           currency_code="NZD", status="DRAFT", xero_url=f"https://go.xero.com/x/{xero_id}",
                           contact_name="Kowhai Design Ltd", occurred_at=at)


async def usage(server: TestServer, company: str, query: str = "", token: str = TOKEN) -> dict:
    status, body = await get(server, f"/api/companies/{company}/usage{query}", token)
    assert status == 200, body
    return body


async def get(server: TestServer, path: str, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as session, session.get(server.make_url(path), headers=headers) as resp:
        return resp.status, await resp.json()


def month(name: str, drafts: int, invoices: int, quotes: int) -> dict:
    return {"month": name, "drafts": drafts, "invoices": invoices, "quotes": quotes}


async def test_a_document_delivered_three_times_bills_once(results: Results) -> None:
    acme = results.company("acme")
    document = created(acme, "inv-1")
    republished = document.model_copy(update={"id": uuid.uuid4().hex})  # the writer's result again, new message id
    await results.publish(document, document, document, republished)
    await results.settle()
    assert (await usage(results.server, acme))["months"] == [month("2026-11", 1, 1, 0)]


async def test_two_documents_bill_twice(results: Results) -> None:
    acme = results.company("acme")
    await results.publish(created(acme, "inv-1"), created(acme, "quote-1", kind="quote", deal="43"))
    await results.settle()
    assert (await usage(results.server, acme))["months"] == [month("2026-11", 2, 1, 1)]


async def test_failed_skipped_and_parked_results_never_bill(results: Results) -> None:
    acme = results.company("acme")
    await results.publish(
        DocumentFailed(company_id=acme, deal_id="42", stage="xero", code="validation", message="m", fix="f"),
        DocumentSkipped(company_id=acme, deal_id="42", trigger_id="won-invoice", source_event_id="e1", reason="r"),
        DocumentParked(company_id=acme, deal_id="42", command_id="c1", trigger_id="won-invoice", kind="invoice",
                       reason="Xero is disconnected"))
    await results.settle()
    assert await usage(results.server, acme) == {"company_id": acme, "months": []}


async def test_months_are_separate_and_the_range_filters(results: Results) -> None:
    acme = results.company("acme")
    late_november_elsewhere = datetime.fromisoformat("2026-12-01T05:00:00+13:00")  # 2026-11-30T16:00Z
    await results.publish(created(acme, "a", at=NOV), created(acme, "b", at=late_november_elsewhere),
                          created(acme, "c", at=DEC, kind="quote"), created(acme, "d", at=datetime(2027, 1, 2,
                                                                                                    tzinfo=UTC)))
    await results.settle()
    everything = await usage(results.server, acme)
    assert everything["months"] == [month("2026-11", 2, 2, 0), month("2026-12", 1, 0, 1), month("2027-01", 1, 1, 0)]
    december = await usage(results.server, acme, "?from=2026-12&to=2026-12")
    assert december["months"] == [month("2026-12", 1, 0, 1)]
    assert (await usage(results.server, acme, "?from=2026-12"))["months"] == everything["months"][1:]
    assert (await usage(results.server, acme, "?to=2026-11"))["months"] == everything["months"][:1]


async def test_another_companys_drafts_are_not_mixed_in(results: Results) -> None:
    acme, kiwi = results.company("acme"), results.company("kiwi")
    # The same Xero id in another company is another draft (ids are only unique within a tenant).
    await results.publish(created(acme, "inv-1"), created(kiwi, "inv-1", tenant="tenant-2"),
                          created(kiwi, "inv-2", tenant="tenant-2"))
    await results.settle()
    assert (await usage(results.server, acme))["months"] == [month("2026-11", 1, 1, 0)]
    assert (await usage(results.server, kiwi))["months"] == [month("2026-11", 2, 2, 0)]


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN[:-1]])
async def test_the_api_needs_the_token(metering: TestServer, token: str | None) -> None:
    status, body = await get(metering, "/api/companies/acme/usage", token)
    assert status == 401 and body["error"]["code"] == "unauthorized"


async def test_bad_months_are_400(metering: TestServer) -> None:
    status, body = await get(metering, "/api/companies/acme/usage?from=2026-12&to=2026-01")
    assert status == 400 and "before it starts" in body["error"]["message"]


async def test_health_and_readiness(metering: TestServer) -> None:
    assert (await get(metering, "/healthz", None))[0] == 200
    status, body = await get(metering, "/readyz", None)
    assert status == 200, body


def run_cli(server: TestServer, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
    env = {**os.environ, "PDX_METERING_URL": str(server.make_url("/")), "PDX_API_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "pdx_metering.cli", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


async def test_the_cli_prints_the_table(results: Results) -> None:
    acme = results.company("acme")
    await results.publish(created(acme, "a"), created(acme, "b", kind="quote"), created(acme, "c", at=DEC))
    await results.settle()
    done = await asyncio.to_thread(run_cli, results.server, "usage", "--company", acme)
    assert done.returncode == 0, done.stderr
    assert [line.split() for line in done.stdout.splitlines()] == [
        ["month", "drafts", "invoices", "quotes"], ["2026-11", "2", "1", "1"], ["2026-12", "1", "1", "0"],
        ["total", "3", "2", "1"]]
    done = await asyncio.to_thread(run_cli, results.server, "usage", "--company", acme, "--from", "2026-12",
                                   "--json")
    assert json.loads(done.stdout) == {"company_id": acme, "months": [month("2026-12", 1, 1, 0)]}


async def test_the_cli_says_what_is_wrong(metering: TestServer) -> None:
    done = await asyncio.to_thread(run_cli, metering, "usage", "--company", "acme", token="wrong")
    assert done.returncode == 1 and "401" in done.stderr and "token" in done.stderr
    done = await asyncio.to_thread(run_cli, metering, "usage", "--company", "acme", "--to", "2026-13")
    assert done.returncode == 1 and "YYYY-MM" in done.stderr
