"""``./dev fuzz [--count N]``: generated hostile input against every inbound HTTP surface, counted.

Starts the embedded broker and store (one partition) and the real gateway, crm-card and metering apps built from
their settings, sends ``--count`` inputs (10,000 by default) spread over the surfaces (``fuzz_inputs``: good and
wrong credentials, hostile bodies, ids and queries), then prints per surface: sent, 2xx, 4xx, 5xx, published (deal
events on the broker), stored (inputs after which the store held other documents) and refused+changed (4xx inputs
that stored anything: must be 0). Every process it started is stopped by PID at the end; service logs go to
``.local/logs/fuzz.log``.
"""

import argparse
import asyncio
import json
import logging
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import structlog
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common import topics
from pdx_devstack.fuzz_inputs import (
    ROOT,
    SURFACES,
    Probe,
    Target,
    basic_auth,
    drive,
    dumps,
    quiet_hypothesis,
)
from pdx_devstack.infra import start_infra


# --- the stack it runs against ------------------------------------------------------------------------------------
@dataclass
class Stack:
    target: Target
    session: aiohttp.ClientSession
    servers: dict[str, TestServer]
    dbs: dict[str, AsyncDatabase]
    kafka_bootstrap: str
    partitions: int

    async def send(self, probe: Probe, tally: "Tally") -> None:
        db = self.dbs[probe.service]
        before = await documents(db)
        url = str(self.servers[probe.service].make_url(probe.path))
        async with self.session.request(probe.method, url, headers=probe.headers, data=probe.body,
                                        params=probe.query) as resp:
            answer = await resp.read()
            status = resp.status
        changed = await documents(db) != before
        tally.count(status, answer, changed)

    async def published_by_company(self) -> dict[str, int]:
        """Deal events on the broker by company, read up to sentinels sent last, one on every partition (a deal's
        events keep their partition's order, so everything sent before a partition's sentinel is read by then)."""
        sentinels = {uuid.uuid4().hex: deal for deal in _one_deal_per_partition(self.target.webhook_company,
                                                                                self.partitions)}
        for event_id, deal in sentinels.items():
            body = {"meta": {"id": event_id, "action": "change", "entity": "deal", "entity_id": str(deal),
                             "company_id": self.target.webhook_company, "version": "2.0"},
                    "data": {"id": deal}, "previous": {"title": "old"}}
            probe = Probe("gateway", "POST", f"/webhooks/pipedrive/{self.target.webhook_company}",
                          {"Authorization": basic_auth(self.target.hook_user, self.target.hook_password)}, dumps(body))
            await self.send(probe, Tally())
        return await _count_until(self.kafka_bootstrap, set(sentinels))


def _one_deal_per_partition(company: str, partitions: int) -> list[int]:
    """Deal ids whose keys land on every partition (the producer's murmur2 partitioner)."""
    chosen: dict[int, int] = {}
    deal = 0
    while len(chosen) < partitions:
        deal += 1
        chosen.setdefault((murmur2(topics.deal_key(company, str(deal))) & 0x7FFFFFFF) % partitions, deal)
    return list(chosen.values())


async def _count_until(bootstrap: str, sentinels: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    consumer = AIOKafkaConsumer(topics.DEAL_EVENTS, bootstrap_servers=bootstrap, group_id=f"fuzz-{uuid.uuid4().hex}",
                                auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=2000,
                                heartbeat_interval_ms=500)
    await consumer.start()
    try:
        async with asyncio.timeout(120):
            while sentinels:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        message = json.loads(record.value)
                        if message.get("event_id") in sentinels:
                            sentinels.discard(message["event_id"])
                        else:
                            counts[message["company_id"]] = counts.get(message["company_id"], 0) + 1
    finally:
        await consumer.stop()
    return counts


async def documents(db: AsyncDatabase) -> dict[str, int]:
    return {name: await db[name].count_documents({}) for name in sorted(await db.list_collection_names())}


@asynccontextmanager
async def running_stack(log_path: Path) -> AsyncIterator[Stack]:
    """The embedded broker (one partition) and store, started here and stopped at the end, with the apps."""
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-fuzz-"))
    infra = await start_infra(data_dir, partitions=1)
    try:
        async with running_apps(infra.kafka_bootstrap, infra.mongo_url, partitions=1, db_prefix="fuzz",
                                log_path=log_path) as stack:
            yield stack
    finally:
        infra.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@asynccontextmanager
async def running_apps(kafka_bootstrap: str, mongo_url: str, *, partitions: int, db_prefix: str,
                       companies: tuple[str, str, str] = ("7001", "7002", "7003"),
                       log_path: Path | None = None) -> AsyncIterator[Stack]:
    """The real gateway, crm-card and metering apps, built from their settings, on loopback; their databases are
    ``<db_prefix>_gateway`` and so on, dropped at the end."""
    from cryptography.fernet import Fernet

    from pdx_crmcard.bootstrap import create_app as create_card
    from pdx_crmcard.settings import CardSettings
    from pdx_gateway.adapters.mongo import MongoWebhookCredentials
    from pdx_gateway.bootstrap import create_app as create_gateway
    from pdx_gateway.settings import GatewaySettings
    from pdx_metering.bootstrap import create_app as create_metering
    from pdx_metering.settings import MeteringSettings

    target = Target(*companies, "hook-user", "hook-password-0123", "fuzz-api-token-0123456789abcdef",
                    "fuzz-metering-token-0123456789abcd", "fuzz-pipedrive-client-secret-0123456789",
                    "fuzz-xero-webhook-key")
    common = dict(kafka_bootstrap=kafka_bootstrap, mongo_url=mongo_url, log_json=True,
                  kafka_session_timeout_ms=2_000, kafka_heartbeat_interval_ms=500)
    names = {service: f"{db_prefix}_{service}" for service in ("gateway", "card", "metering")}
    apps = {
        "gateway": create_gateway(GatewaySettings(**common, mongo_db=names["gateway"], api_token=target.api_token)),
        "card": create_card(CardSettings(**common, mongo_db=names["card"], token_key=Fernet.generate_key().decode(),
                                         pipedrive_client_id="fuzz", pipedrive_client_secret=target.jwt_secret,
                                         xero_webhook_key=target.xero_key),
                            consume_results=False, background=False),
        "metering": create_metering(MeteringSettings(**common, mongo_db=names["metering"],
                                                     api_token=target.metering_token))}
    if log_path is not None:
        _log_to(log_path)
    servers: dict[str, TestServer] = {}
    client = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        for name, app in apps.items():
            servers[name] = TestServer(app, host="127.0.0.1")
            await servers[name].start_server()
        if log_path is not None:
            for name in list(logging.root.manager.loggerDict):
                if name.startswith(("faststream", "aiokafka")):  # the broker clients' chatter, not the services'
                    logging.getLogger(name).setLevel(logging.WARNING)
        dbs = {service: client[name] for service, name in names.items()}
        await MongoWebhookCredentials(dbs["gateway"]).set(target.webhook_company, target.hook_user,
                                                          target.hook_password)
        async with aiohttp.ClientSession() as session:
            yield Stack(target, session, servers, dbs, kafka_bootstrap, partitions)
    finally:
        for server in servers.values():
            await server.close()
        for name in names.values():
            await client.drop_database(name)
        await client.close()


def _log_to(path: Path) -> None:
    """The services' JSON log lines go to ``path``, so the table stays readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                                    structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
                        logger_factory=structlog.WriteLoggerFactory(path.open("a")),
                        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))


# --- the command --------------------------------------------------------------------------------------------------
@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    refused: int = 0
    failed: int = 0
    published: int = 0
    stored: int = 0
    refused_changed: int = 0

    accepted: int = 0  # webhook answers {"status": "accepted"}: the only ones that may publish

    def count(self, status: int, answer: bytes, changed: bool) -> None:
        self.sent += 1
        if status < 300:
            self.ok += 1
            self.stored += changed
            self.accepted += b'"accepted"' in answer
        elif status < 500:
            self.refused += 1
            self.refused_changed += changed
        else:
            self.failed += 1

    def row(self, name: str) -> str:
        return (f"{name:<17}{self.sent:>7}{self.ok:>7}{self.refused:>7}{self.failed:>7}{self.published:>11}"
                f"{self.stored:>8}{self.refused_changed:>17}")


HEADER = (f"{'surface':<17}{'sent':>7}{'2xx':>7}{'4xx':>7}{'5xx':>7}{'published':>11}{'stored':>8}"
          f"{'refused+changed':>17}")


async def main(count: int) -> int:
    quiet_hypothesis()
    log_path = ROOT / ".local" / "logs" / "fuzz.log"
    async with running_stack(log_path) as stack:
        tallies: dict[str, Tally] = {}
        per_surface = max(1, count // len(SURFACES))
        for name, make in SURFACES.items():
            tally = tallies[name] = Tally()
            started = time.monotonic()
            await drive(make(stack.target), per_surface, lambda p, t=tally: stack.send(p, t))
            print(f"{name}: {tally.sent} sent in {time.monotonic() - started:.0f} s", file=sys.stderr)
        published = await stack.published_by_company()
        tallies["gateway webhook"].published = published.pop(stack.target.webhook_company, 0)
        tallies["operators' API"].published = published.pop(stack.target.api_company, 0)
    print(HEADER)
    for name, tally in tallies.items():
        print(tally.row(name))
    total = Tally(**{k: sum(getattr(t, k) for t in tallies.values()) for k in Tally.__dataclass_fields__})
    print(total.row("total"))
    # Only an accepted webhook publishes (a duplicate or a refusal never does), and nothing else does at all.
    stray = sum(t.published for t in tallies.values()) - tallies["gateway webhook"].accepted + sum(published.values())
    print(f"accepted webhooks {tallies['gateway webhook'].accepted}, deal events published beyond them {stray}; "
          f"service logs in {log_path}")
    return 1 if total.failed or total.refused_changed or stray else 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs to send in all (default 10,000)")
    args = parser.parse_args(argv)
    return asyncio.run(main(args.count))


if __name__ == "__main__":
    sys.exit(cli())
