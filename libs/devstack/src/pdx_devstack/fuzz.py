"""``./dev fuzz [--count N]``: generated hostile input against every inbound HTTP surface, counted.

Starts the embedded broker and store (one partition, so one sentinel proves everything before it was read) and the
real gateway, crm-card and metering apps built from their settings, sends ``--count`` inputs (10,000 by default)
spread over the surfaces (good and wrong credentials, hostile bodies, ids and queries), then prints per surface:
sent, 2xx, 4xx, 5xx, published (deal events on the broker) and stored (documents the store gained), and for
refused inputs (4xx) how many published or stored anything. Every process it started is stopped by PID at the end.

The request strategies are Hypothesis strategies, shared with ``tests/integration/test_fuzz_surfaces.py``.
"""

import argparse
import asyncio
import base64
import json
import logging
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
import structlog
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common import topics
from pdx_devstack.infra import start_infra

ROOT = Path(__file__).resolve().parents[4]
HYPOTHESIS_HOME = ROOT / ".local" / "hypothesis"  # never a .hypothesis/ folder in the working tree


def quiet_hypothesis() -> None:
    """Keep Hypothesis's caches under ``.local/`` (ignored by git); runs use no example database."""
    set_hypothesis_home_dir(str(HYPOTHESIS_HOME))


def fuzz_settings(count: int, *, seed_derandomized: bool = True) -> settings:
    """Deterministic (derandomize), no example database, no deadline, generation only (a tally, not a search)."""
    return settings(max_examples=count, deadline=None, database=None, derandomize=seed_derandomized,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False)


# --- what is sent -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    """One request: ``service`` is "gateway", "card" or "metering"; ``refusable`` says a 2xx would be wrong."""

    service: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """The secrets and companies the surfaces accept, so some inputs carry good credentials."""

    webhook_company: str
    api_company: str
    card_company: str
    hook_user: str
    hook_password: str
    api_token: str
    metering_token: str
    jwt_secret: str
    xero_key: str


LEAVES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=16))
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
IDS = st.one_of(st.integers(min_value=-3, max_value=10**19), st.booleans(), st.none(), st.floats(),
                st.sampled_from(["0", "-1", "abc", "1.5", "", " 1", "1e3", "٣", "9" * 30, "1,2", "42", "1001"]))
GOOD_ID = st.integers(min_value=1, max_value=10**9)
NASTY = [b"", b"null", b"[]", b'"text"', b"{", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
         b'{"a": 1e999}', b"1" * 5000, b'{"a": ' + b"9" * 5000 + b"}", b"\xff\xfe{}", '{"a": 1}'.encode("utf-16"),
         b'{"a": "\\ud800"}', b"\x00", b'{"a":1}' * 1000]


def _nested(shape: tuple[int, str]) -> bytes:
    depth, kind = shape
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth  # unclosed: the parser would recurse before it saw the error


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # allow_nan: NaN and Infinity are sent as the bare words, as an attacker would


DEEP = st.tuples(st.integers(min_value=33, max_value=6000), st.sampled_from(["array", "object", "open"])).map(_nested)
HOSTILE_BODIES = st.one_of(JSON_VALUES.map(_dumps), DEEP, st.sampled_from(NASTY), st.binary(max_size=256))


def _webhook_body(company: str) -> st.SearchStrategy[bytes]:
    meta = st.fixed_dictionaries({
        "id": st.one_of(st.uuids().map(lambda u: u.hex), st.text(max_size=140)),
        "action": st.sampled_from(["create", "change", "change", "delete", "merge"]),
        "entity": st.sampled_from(["deal", "deal", "person"]), "entity_id": st.one_of(GOOD_ID, IDS),
        "company_id": st.sampled_from([company, company, "1", 7]), "version": st.sampled_from(["2.0", "2.0", "1.0"]),
        "attempt": st.integers(min_value=-1, max_value=12),
        "timestamp": st.sampled_from(["2026-11-27T10:00:00Z", "yesterday", 0])})
    data = st.one_of(st.none(), st.fixed_dictionaries({"id": st.one_of(GOOD_ID, IDS), "stage_id": IDS,
                                                       "value": LEAVES}), JSON_VALUES)
    previous = st.one_of(st.none(), st.just({"stage_id": 4}), JSON_VALUES)
    shaped = st.fixed_dictionaries({"meta": meta, "data": data, "previous": previous}).map(_dumps)
    deep_data = st.tuples(meta, DEEP).map(lambda md: b'{"meta": ' + _dumps(md[0]) + b', "data": {"x": ' + md[1] + b"}}")
    return st.one_of(_valid_webhook(company), shaped, deep_data, HOSTILE_BODIES)


def _valid_webhook(company: str) -> st.SearchStrategy[bytes]:
    """Pipedrive's shape with good ids, so some inputs are accepted (and must publish exactly once each)."""
    def body(event_id: str, deal_id: int, action: str, data: dict[str, Any]) -> bytes:
        return _dumps({"meta": {"id": event_id, "action": action, "entity": "deal", "entity_id": str(deal_id),
                                "company_id": company, "version": "2.0", "attempt": 1,
                                "timestamp": "2026-11-27T10:00:00Z"},
                       "data": {**data, "id": deal_id}, "previous": {"stage_id": 4}})
    return st.builds(body, st.uuids().map(lambda u: u.hex), GOOD_ID, st.sampled_from(["create", "change"]),
                     st.dictionaries(st.sampled_from(["title", "value", "stage_id", "currency"]), LEAVES, max_size=4))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def webhook_probes(t: Target) -> st.SearchStrategy[Probe]:
    auth = st.sampled_from([_basic(t.hook_user, t.hook_password)] * 4
                           + [_basic(t.hook_user, "wrong"), "Basic !!!", "Bearer x", ""])
    company = st.sampled_from([t.webhook_company] * 6 + ["0", "999999999", "abc"])
    return st.builds(lambda a, c, b: Probe("gateway", "POST", f"/webhooks/pipedrive/{quote(c)}",
                                           {"Authorization": a, "Content-Type": "application/json"}, b),
                     auth, company, _webhook_body(t.webhook_company))


def _path_id(value: Any) -> str:
    return quote(str(value), safe="")


def api_probes(t: Target) -> st.SearchStrategy[Probe]:
    token = st.sampled_from([f"Bearer {t.api_token}"] * 4 + ["Bearer wrong", "", "Basic x"])
    base = f"/api/companies/{t.api_company}"
    settings_body = st.one_of(st.fixed_dictionaries({"version": st.one_of(st.integers(-1, 3), LEAVES),
                                                     "money": JSON_VALUES, "triggers": JSON_VALUES}).map(_dumps),
                              HOSTILE_BODIES)
    tenant_body = st.one_of(st.fixed_dictionaries({"tenant_id": LEAVES}).map(_dumps), HOSTILE_BODIES)
    route = st.one_of(
        st.tuples(st.sampled_from(["PUT", "PATCH"]), st.just(f"{base}/settings"), settings_body),
        st.tuples(st.just("PUT"), st.just(f"{base}/xero/tenant"), tenant_body),
        st.tuples(st.just("POST"), st.one_of(GOOD_ID, IDS).map(lambda d: f"{base}/deals/{_path_id(d)}/replay"),
                  st.none()),
        st.tuples(st.just("GET"), st.one_of(GOOD_ID, IDS).map(lambda d: f"{base}/deals/{_path_id(d)}/status"),
                  st.none()),
        st.tuples(st.just("GET"), st.just(f"{base}/settings"), st.none()))
    return st.builds(lambda a, r: Probe("gateway", r[0], r[1], {"Authorization": a,
                                                                "Content-Type": "application/json"}, r[2]),
                     token, route)


def _panel_token(t: Target, kind: str) -> str | None:
    claims = {"companyId": int(t.card_company), "userId": 1, "exp": int(time.time()) + 3600}
    if kind == "none":
        return None
    if kind == "forged":
        return jwt.encode(claims, "a-secret-that-is-not-the-apps-secret-0123", algorithm="HS256")
    if kind == "expired":
        return jwt.encode({**claims, "exp": 1}, t.jwt_secret, algorithm="HS256")
    if kind == "other":
        return jwt.encode({**claims, "companyId": 1}, t.jwt_secret, algorithm="HS256")
    return jwt.encode(claims, t.jwt_secret, algorithm="HS256")


def panel_probes(t: Target) -> st.SearchStrategy[Probe]:
    selected = st.one_of(GOOD_ID.map(str), IDS.map(str), st.lists(IDS.map(str), max_size=150).map(",".join))
    query = st.fixed_dictionaries({"resource": st.sampled_from(["deal", "person", "organization", "product", ""]),
                                   "selectedIds": selected, "companyId": st.sampled_from([t.card_company, "1", ""]),
                                   "userId": IDS.map(str)})
    token = st.sampled_from(["good"] * 4 + ["none", "forged", "expired", "other"])

    def probe(kind: str, q: dict[str, str], post: bool, in_header: bool, body: bytes) -> Probe:
        jwt_token = _panel_token(t, kind)
        headers = {"Content-Type": "application/json"} if post else {}
        if jwt_token and in_header:
            headers["Authorization"] = f"Bearer {jwt_token}"
        elif jwt_token:
            q = {**q, "token": jwt_token}
        return Probe("card", "POST" if post else "GET", "/panel/update" if post else "/panel", headers,
                     body if post else None, q)
    return st.builds(probe, token, query, st.booleans(), st.booleans(), HOSTILE_BODIES)


def xero_probes(t: Target) -> st.SearchStrategy[Probe]:
    from pdx_sandbox.xero.webhooks import sign  # Xero's own signature, as the sandbox makes it

    event = st.fixed_dictionaries({"resourceId": st.one_of(st.uuids().map(str), LEAVES),
                                   "eventCategory": st.sampled_from(["INVOICE", "CONTACT", "QUOTE", ""]),
                                   "eventType": st.sampled_from(["UPDATE", "CREATE"]),
                                   "tenantId": st.one_of(st.uuids().map(str), LEAVES),
                                   "resourceUrl": st.one_of(st.none(), st.text(max_size=40))})
    shaped = st.fixed_dictionaries({"events": st.lists(event, max_size=3), "firstEventSequence": LEAVES,
                                    "lastEventSequence": LEAVES, "entropy": st.text(max_size=20)}).map(_dumps)
    body = st.one_of(shaped, HOSTILE_BODIES)
    signature = st.sampled_from(["good"] * 4 + ["wrong", "none", "garbage"])

    def probe(kind: str, raw: bytes) -> Probe:
        headers = {"good": {"x-xero-signature": sign(raw, t.xero_key)},
                   "wrong": {"x-xero-signature": sign(raw, "not-the-key")},
                   "garbage": {"x-xero-signature": "%%%"}}.get(kind, {})
        return Probe("card", "POST", "/webhooks/xero", headers, raw)
    return st.builds(probe, signature, body)


def metering_probes(t: Target) -> st.SearchStrategy[Probe]:
    token = st.sampled_from([f"Bearer {t.metering_token}"] * 4 + ["Bearer wrong", ""])
    company = st.one_of(st.just(t.webhook_company), IDS.map(_path_id), st.text(max_size=80).map(_path_id))
    month = st.one_of(st.none(), st.sampled_from(["2026-11", "2026-13", "26-1", "2026-01-01", ""]),
                      st.text(max_size=300))
    return st.builds(lambda a, c, f, to: Probe("metering", "GET", f"/api/companies/{c}/usage", {"Authorization": a},
                                               None, {k: v for k, v in (("from", f), ("to", to)) if v is not None}),
                     token, company, month, month)


SURFACES: dict[str, Callable[[Target], st.SearchStrategy[Probe]]] = {
    "gateway webhook": webhook_probes, "operators' API": api_probes, "crm-card panel": panel_probes,
    "Xero webhook": xero_probes, "metering API": metering_probes}


def drive(strategy: st.SearchStrategy[Probe], count: int, send: Callable[[Probe], Awaitable[None]],
          loop: asyncio.AbstractEventLoop) -> None:
    """Run in a worker thread: Hypothesis generates ``count`` probes, each sent on ``loop``."""
    @fuzz_settings(count)
    @given(strategy)
    def one(probe: Probe) -> None:
        asyncio.run_coroutine_threadsafe(send(probe), loop).result()
    one()


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
                          {"Authorization": _basic(self.target.hook_user, self.target.hook_password)}, _dumps(body))
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
            await asyncio.to_thread(drive, make(stack.target), per_surface, lambda p, t=tally: stack.send(p, t),
                                    asyncio.get_running_loop())
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
