"""``./dev chaos``: the whole local stack through failures, and whether every deal still became exactly one draft.

    ./dev chaos                                        every scenario, 500 deals each
    ./dev chaos --deals 50 --scenario kill-mapper --scenario xero-5xx
    ./dev chaos --list                                 the scenarios and what each does

One stack runs every scenario in turn (services restarted on exit, as Kubernetes would; Pipedrive's own webhook
retry schedule, 3, 30 and 150 s, which outlasts each outage). Each scenario creates its own deals in the Pipedrive
sandbox, moves them to Won while the failure happens, and waits until every deal settled: it has a draft in the Xero
sandbox (found by the deal link in the document's Url) or an activity explaining why not. Then it counts:
duplicates (drafts beyond one per deal), lost (deals with neither when time ran out), dead letters (``pdx.dead-letter``
messages of its deals). Exit status 0 when no scenario has a duplicate, a lost deal or a dead letter.
"""

import argparse
import asyncio
import json
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pdx_common import topics
from pdx_common.contracts import DeadLettered
from pdx_devstack.chaos_scenarios import SCENARIOS, Run, Scenario
from pdx_devstack.stack import Stack, StackOptions

DEAL_LINK = re.compile(r"/deal/(\d+)\?")
CREATED = re.compile(r"^Draft (invoice|quote) .* created in Xero$")
COLUMNS = ("scenario", "deals", "drafts", "duplicates", "lost", "dead letters", "explained failures",
           "seconds to settle", "restarts")


@dataclass
class Outcome:
    scenario: str
    deals: int
    drafts: int = 0
    duplicates: int = 0
    lost: int = 0
    dead_letters: int = 0
    explained: int = 0
    settle_seconds: float | None = None  # None: not every deal settled in time
    restarts: int = 0

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.lost == 0 and self.dead_letters == 0 and self.settle_seconds is not None

    def row(self) -> tuple:
        settle = "not settled" if self.settle_seconds is None else f"{self.settle_seconds:.0f}"
        return (self.scenario, self.deals, self.drafts, self.duplicates, self.lost, self.dead_letters,
                self.explained, settle, self.restarts)


@dataclass
class ChaosOptions:
    data_dir: Path
    deals: int = 500
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    pace: float = 10.0  # deals moved per second
    settle_timeout: float = 900.0
    seed: int = 0
    pipedrive_retry_delays: str = "3,30,150"  # Pipedrive's schedule: outlasts a 2-minute outage


def chaos_stack(options: ChaosOptions) -> Stack:
    return Stack(StackOptions(data_dir=options.data_dir, pipedrive_retry_delays=options.pipedrive_retry_delays,
                              pipedrive_burst_limit=400, restart_on_exit=True, restart_delay=1.0))


async def run_scenarios(stack: Stack, options: ChaosOptions, report=print) -> list[Outcome]:
    rng = random.Random(options.seed)
    outcomes = []
    for name in options.scenarios:
        outcome = await run_scenario(stack, SCENARIOS[name], options, rng)
        report(f"  {name}: {dict(zip(COLUMNS[1:], outcome.row()[1:], strict=True))}")
        outcomes.append(outcome)
    return outcomes


async def run_scenario(stack: Stack, scenario: Scenario, options: ChaosOptions, rng: random.Random) -> Outcome:
    async with aiohttp.ClientSession() as http:
        deal_ids = await create_deals(http, stack, scenario.name, options.deals)
        restarts = dict(stack.restarts)
        run = Run(stack, rng)
        disruption = asyncio.create_task(scenario.disrupt(run))
        started = time.monotonic()
        try:
            await move_all(http, stack, deal_ids, options.pace)
            run.moved.set()
            await disruption
            settled = await wait_settled(http, stack, deal_ids, started + options.settle_timeout)
        finally:
            run.moved.set()
            if not disruption.done():
                disruption.cancel()
            await run.clear_faults()
        outcome = await count(http, stack, scenario.name, deal_ids)
    outcome.settle_seconds = settled - started if settled is not None else None
    outcome.dead_letters = await dead_letters(stack, set(deal_ids))
    outcome.restarts = sum(stack.restarts.values()) - sum(restarts.values())
    return outcome


async def create_deals(http: aiohttp.ClientSession, stack: Stack, label: str, n: int) -> list[int]:
    async def one(i: int) -> int:
        body = {"title": f"chaos {label} {i}", "currency": "NZD", "stage": "Negotiations Started", "org_id": 101,
                "person_id": 201, "products": [{"product_id": 301, "quantity": 1 + i % 5, "item_price": 150,
                                                "tax": 15, "tax_method": "exclusive"}]}
        return (await _post(http, f"{stack.urls['pipedrive']}/_sandbox/deals", body))["id"]

    ids = []
    for start in range(0, n, 20):
        ids += await asyncio.gather(*(one(i) for i in range(start, min(n, start + 20))))
    return ids


async def move_all(http: aiohttp.ClientSession, stack: Stack, deal_ids: list[int], pace: float) -> None:
    started = time.monotonic()
    for i, deal_id in enumerate(deal_ids):
        await asyncio.sleep(max(0.0, started + i / pace - time.monotonic()))
        await _post(http, f"{stack.urls['pipedrive']}/_sandbox/deals/{deal_id}/move", {"stage": "Won"})


async def _post(http: aiohttp.ClientSession, url: str, body: dict) -> dict:
    async with http.post(url, json=body) as resp:
        answer = await resp.json()
        if resp.status >= 300:
            raise RuntimeError(f"{url} answered {resp.status}: {answer}")
        return answer["data"]


async def observe(http: aiohttp.ClientSession, stack: Stack, deal_ids: list[int]) -> tuple[Counter, dict[int, list]]:
    """Drafts per deal (from the Xero sandbox's documents) and activities per deal (from the Pipedrive sandbox)."""
    assert stack.seeded
    wanted, drafts = set(deal_ids), Counter()
    for kind in ("invoices", "quotes"):
        async with http.get(f"{stack.urls['xero']}/_sandbox/tenants/{stack.seeded.tenant_id}/{kind}") as resp:
            for doc in await resp.json():
                found = DEAL_LINK.search(doc.get("Url") or "")
                if found and int(found.group(1)) in wanted:
                    drafts[int(found.group(1))] += 1
    async with http.get(f"{stack.urls['pipedrive']}/_sandbox/activities") as resp:
        activities: dict[int, list] = {}
        for activity in (await resp.json())["data"]:
            if activity.get("deal_id") in wanted:
                activities.setdefault(activity["deal_id"], []).append(activity["subject"])
    return drafts, activities


def explained(subjects: list[str]) -> bool:
    return any(not CREATED.match(s) for s in subjects)


async def wait_settled(http: aiohttp.ClientSession, stack: Stack, deal_ids: list[int],
                       deadline: float) -> float | None:
    """When every deal had a draft or an explained failure, or None at the deadline."""
    while time.monotonic() < deadline:
        drafts, activities = await observe(http, stack, deal_ids)
        if all(drafts[d] or explained(activities.get(d, [])) for d in deal_ids):
            return time.monotonic()
        await asyncio.sleep(2.0)
    return None


async def count(http: aiohttp.ClientSession, stack: Stack, name: str, deal_ids: list[int]) -> Outcome:
    drafts, activities = await observe(http, stack, deal_ids)
    outcome = Outcome(name, len(deal_ids))
    for deal_id in deal_ids:
        if drafts[deal_id]:
            outcome.drafts += 1
            outcome.duplicates += drafts[deal_id] - 1
        elif explained(activities.get(deal_id, [])):
            outcome.explained += 1
        else:
            outcome.lost += 1
    return outcome


async def dead_letters(stack: Stack, deal_ids: set[int]) -> int:
    """Messages on ``pdx.dead-letter`` about these deals, read to a marker sent now on every partition (a partition
    keeps its order): none means none, not none within a while."""
    assert stack.infra is not None and stack.seeded is not None
    keys = {topics.deal_key(stack.seeded.company_id, str(d)) for d in deal_ids}
    markers = await _send_markers(stack.infra.kafka_bootstrap)
    consumer = AIOKafkaConsumer(topics.DEAD_LETTER, bootstrap_servers=stack.infra.kafka_bootstrap,
                                group_id=f"chaos-{uuid.uuid4().hex}", auto_offset_reset="earliest",
                                enable_auto_commit=False, session_timeout_ms=2000, heartbeat_interval_ms=500)
    await consumer.start()
    found = 0
    try:
        async with asyncio.timeout(300):
            while markers:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        markers.discard(json.loads(record.value).get("id"))
                        found += record.key in keys
    finally:
        await consumer.stop()
    return found


async def _send_markers(bootstrap: str) -> set[str]:
    """One dead letter of a company of its own, about no deal, on every partition (the crm-card keeps it harmlessly)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = set()
        for partition in sorted(await producer.partitions_for(topics.DEAD_LETTER)):
            marker = DeadLettered(company_id=f"chaos-marker-{uuid.uuid4().hex}", deal_id="unknown",
                                  source_topic="chaos-marker", consumer="chaos", payload={},
                                  error="a marker, read to the end of the topic", attempts=0)
            await producer.send_and_wait(topics.DEAD_LETTER, marker.model_dump_json().encode(), partition=partition)
            sent.add(marker.id)
        return sent
    finally:
        await producer.stop()


def table(outcomes: list[Outcome]) -> str:
    rows = [COLUMNS, *(tuple(str(v) for v in o.row()) for o in outcomes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="pdx-chaos-"))
    options = ChaosOptions(data_dir=data_dir, deals=args.deals, scenarios=tuple(args.scenario or SCENARIOS),
                           pace=args.pace, settle_timeout=args.settle_timeout, seed=args.seed)
    print(f"Chaos: {len(options.scenarios)} scenario(s), {options.deals} deals each, seed {options.seed}; "
          f"data and logs in {data_dir}", flush=True)
    stack = await chaos_stack(options).start()
    try:
        outcomes = await run_scenarios(stack, options, report=lambda line: print(line, flush=True))
    finally:
        stack.stop()
    print("\n" + table(outcomes))
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ for o in outcomes], indent=2))
    failed = [o.scenario for o in outcomes if not o.ok]
    if failed:
        print(f"\nNot clean: {', '.join(failed)} (logs kept in {data_dir / 'logs'})")
        return 1
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="./dev chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=500, help="deals per scenario (default 500)")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all")
    parser.add_argument("--pace", type=float, default=10.0, help="deals moved to Won per second (default 10)")
    parser.add_argument("--settle-timeout", type=float, default=900.0, help="seconds each scenario may take")
    parser.add_argument("--seed", type=int, default=0, help="random seed (kill moments)")
    parser.add_argument("--data-dir", default=None, help="default: a new temporary folder")
    parser.add_argument("--json", default=None, help="also write the outcomes to this file")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:<20} {scenario.what}")
        return
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
