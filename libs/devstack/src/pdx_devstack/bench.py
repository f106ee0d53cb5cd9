"""Xero budget benchmark: the xero-writer against the Xero sandbox with Xero's real limits on a sped-up clock.

    ./dev bench                      # 1,000 deals of one organisation, then the same with a quiet second one
    ./dev bench --deals 300 --clock-speed 30
    ./dev bench --deals 0            # only the master-data sync table (see pdx_devstack.bench_sync)

Scenario 1: one organisation (A) gets a backlog of N deals at once. Reported: Xero calls per document, the drain
time in Xero minutes, the 429s Xero answered. Scenario 2: the same backlog while a second organisation (B) sends one
deal a Xero minute; reported: that deal's latency (median and worst) in Xero minutes.

Everything real but Xero itself: the embedded Kafka broker and MongoDB store, the writer as its own process.
"""

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaConsumer
from cryptography.fernet import Fernet

from pdx_common import topics
from pdx_common.connections import ConnectionStore
from pdx_common.contracts import Contact, CreateInvoice, LineItem
from pdx_common.crypto import TokenCipher
from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo
from pdx_common.service import KafkaPublisher
from pdx_common.settings import ServiceSettings
from pdx_devstack import bench_sync
from pdx_devstack.infra import Infra, free_port, start_infra
from pdx_devstack.processes import Child, spawn, stop_children, wait_for_line, wait_ready
from pdx_devstack.seed import XERO_CLIENT, connect_xero
from pdx_sandbox.xero import NZ_TENANT_ID, UK_TENANT_ID

CUSTOMERS, PRODUCTS = 50, ("CONSULT-HR", "WIDGET-01", "SUPPORT-YR")


@dataclass
class Row:
    scenario: str
    documents: int
    calls: int
    drain_minutes: float
    throttled: int
    quiet_median: float | None = None
    quiet_worst: float | None = None


def invoice(company: str, n: int, currency: str, tax: str) -> CreateInvoice:
    customer = n % CUSTOMERS
    contact = Contact(name=f"Customer {customer:02d} Ltd", contact_number=f"pd-org-{1000 + customer}",
                      email=f"accounts{customer}@example.com", source="organization", source_id=str(1000 + customer))
    lines = (LineItem(description="Consulting", quantity=Decimal(2 + n % 3), unit_amount=Decimal("150"),
                      item_code=PRODUCTS[n % 3], tax_rate=Decimal(tax)),)
    return CreateInvoice(company_id=company, deal_id=str(n), trigger_id="p1-s5", source_event_id=uuid.uuid4().hex,
                         contact=contact, line_items=lines, currency_code=currency, line_amount_types="Exclusive",
                         date=date.today(), reference=f"Deal {n}", deal_title=f"Deal {n}", deal_value=None,
                         deal_url=f"https://bench.pipedrive.com/deal/{n}")


class Bench:
    def __init__(self, data_dir: Path, speed: float) -> None:
        self.data_dir, self.speed = data_dir, speed
        self.key = Fernet.generate_key().decode()
        self.infra: Infra | None = None
        self.children: list[Child] = []
        self.xero_url = ""

    async def start(self) -> None:
        self.infra = await start_infra(self.data_dir / "infra")
        xero = spawn("xero-sandbox", ["-m", "pdx_sandbox.xero", "--port", "0", "--clock-speed", str(self.speed)],
                     self.data_dir / "logs")
        self.children.append(xero)
        self.xero_url = xero.url = wait_for_line(xero, r"listening on (http://\S+)").group(1)

    async def connect(self, db_name: str, companies: dict[str, str]) -> None:
        assert self.infra
        client = connect_mongo(self.infra.mongo_url)
        try:
            store = ConnectionStore(client[db_name], TokenCipher(self.key))
            async with aiohttp.ClientSession() as session:
                for company, tenant in companies.items():
                    await connect_xero(session, store, self.xero_url, company, tenant)
        finally:
            await client.close()

    async def start_writer(self, db_name: str) -> Child:
        assert self.infra
        port = free_port()
        env = {"HOST": "127.0.0.1", "PORT": str(port), "KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
               "MONGO_URL": self.infra.mongo_url, "MONGO_DB": db_name, "LOG_JSON": "true", "LOG_LEVEL": "WARNING",
               "KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500", "TOKEN_KEY": self.key,
               "XERO_API_URL": f"{self.xero_url}/api.xro/2.0", "XERO_TOKEN_URL": f"{self.xero_url}/connect/token",
               "XERO_CLIENT_ID": XERO_CLIENT[0], "XERO_CLIENT_SECRET": XERO_CLIENT[1],
               "XERO_CLOCK_SPEED": str(self.speed)}
        writer = spawn(f"xero-writer-{db_name}", ["-m", "pdx_writer"], self.data_dir / "logs",
                       {f"PDX_WRITER_{k}": v for k, v in env.items()})
        writer.url = f"http://127.0.0.1:{port}"
        self.children.append(writer)
        await wait_ready(writer)
        return writer

    async def xero_requests(self, tenant: str) -> list[dict]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.xero_url}/_sandbox/requests", params={"tenant": tenant}) as resp:
                body = await resp.json()
        rows = body if isinstance(body, list) else body.get("requests", body.get("data", []))
        return [r for r in rows if str(r.get("path", "")).startswith("/api.xro/")]

    def minutes(self, real_seconds: float) -> float:
        return real_seconds * self.speed / 60.0

    def stop(self) -> None:
        stop_children(self.children)
        if self.infra:
            self.infra.stop()


async def run_scenario(bench: Bench, name: str, deals: int, quiet: bool) -> Row:
    assert bench.infra
    db_name, run = f"bench_{name}", uuid.uuid4().hex[:6]
    a, b = f"A{run}", f"B{run}"
    await bench.connect(db_name, {a: NZ_TENANT_ID, b: UK_TENANT_ID})
    before_a = len(await bench.xero_requests(NZ_TENANT_ID))
    writer = await bench.start_writer(db_name)
    broker = make_broker(ServiceSettings(kafka_bootstrap=bench.infra.kafka_bootstrap))
    await broker.start()
    publisher = KafkaPublisher(broker)
    results = Results(bench.infra.kafka_bootstrap, {a, b})
    await results.start()
    try:
        started = time.monotonic()
        for n in range(deals):
            await publisher.publish(invoice(a, n, "NZD", "15"), topics.XERO_COMMANDS, topics.company_key(a))
        results.expect(a, deals)
        quiet_latencies = await send_quiet(bench, publisher, results, b, busy=a) if quiet else []
        await results.wait(a, deals)
        drained = results.done_at(a, deals) - started
    finally:
        await results.stop()
        await broker.stop()
        stop_children([writer])
        bench.children.remove(writer)
    calls = (await bench.xero_requests(NZ_TENANT_ID))[before_a:]
    return Row(name, deals, len(calls), bench.minutes(drained), sum(1 for r in calls if r.get("status") == 429),
               statistics.median(quiet_latencies) if quiet_latencies else None,
               max(quiet_latencies) if quiet_latencies else None)


async def send_quiet(bench: Bench, publisher: KafkaPublisher, results: "Results", company: str,
                     busy: str) -> list[float]:
    """One deal a Xero minute for organisation B while A's backlog drains; each one's latency in Xero minutes."""
    latencies, n = [], 0
    minute = 60.0 / bench.speed
    while n < 3 or not results.done(busy):
        sent = time.monotonic()
        await publisher.publish(invoice(company, 10_000 + n, "GBP", "20"), topics.XERO_COMMANDS,
                                topics.company_key(company))
        await results.wait(company, n + 1)
        latencies.append(bench.minutes(results.done_at(company, n + 1) - sent))
        n += 1
        await asyncio.sleep(max(0.0, minute - (time.monotonic() - sent)))
    return latencies


class Results:
    """DocumentCreated (and failures, which would fail the benchmark) per company, as the writer publishes them."""

    def __init__(self, bootstrap: str, companies: set[str]) -> None:
        self._consumer = AIOKafkaConsumer(topics.DOCUMENT_RESULTS, bootstrap_servers=bootstrap,
                                          group_id=f"bench-{uuid.uuid4().hex}", auto_offset_reset="earliest",
                                          session_timeout_ms=2000, heartbeat_interval_ms=500)
        self._companies = companies
        self._times: dict[str, list[float]] = {c: [] for c in companies}
        self._task: asyncio.Task | None = None
        self._total: dict[str, int] = {}

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for record in self._consumer:
            message = json.loads(record.value)
            if message["company_id"] in self._companies:
                if message["type"] != "DocumentCreated":
                    raise RuntimeError(f"the writer did not create a draft: {message}")
                self._times[message["company_id"]].append(time.monotonic())

    def expect(self, company: str, count: int) -> None:
        self._total[company] = count

    def done(self, company: str) -> bool:
        return len(self._times[company]) >= self._total.get(company, 1 << 30)

    async def wait(self, company: str, count: int, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self._times[company]) < count:
            if self._task and self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{company}: {len(self._times[company])} of {count} drafts after {timeout}s")
            await asyncio.sleep(0.02)

    def done_at(self, company: str, count: int) -> float:
        return sorted(self._times[company])[count - 1]

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


def table(rows: list[Row], speed: float) -> str:
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [f"Xero sandbox with Xero's limits (5 at once, 60/min, 5,000/day per organisation) at {speed:g}x speed",
             "",
             "| scenario | documents | Xero calls | calls per document | drain (Xero minutes) | 429s "
             "| quiet org latency median (Xero min) | worst |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.documents} | {r.calls} | {r.calls / r.documents:.3f} | "
                     f"{r.drain_minutes:.2f} | {r.throttled} | {fmt(r.quiet_median)} | {fmt(r.quiet_worst)} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-bench-"))
    bench = Bench(data_dir, args.clock_speed)
    try:
        await bench.start()
        if args.deals:
            rows = [await run_scenario(bench, "backlog", args.deals, quiet=False),
                    await run_scenario(bench, "backlog+quiet", args.deals, quiet=True)]
            print(table(rows, args.clock_speed), flush=True)
    finally:
        bench.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    if args.sync_edits:
        print("", flush=True)
        print(await bench_sync.run(args.sync_records, args.sync_edits, args.sync_delay, args.sync_trickle), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench", description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--deals", type=int, default=1000)
    parser.add_argument("--clock-speed", type=float, default=60.0, help="Xero seconds per real second")
    parser.add_argument("--sync-records", type=int, default=10, help="master-data sync: organisations and products")
    parser.add_argument("--sync-edits", type=int, default=100, help="master-data sync: edits at once (0: skip)")
    parser.add_argument("--sync-trickle", type=int, default=20, help="master-data sync: edits one at a time")
    parser.add_argument("--sync-delay", type=float, default=2.0, help="seconds the mapper gathers a record's edits")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
