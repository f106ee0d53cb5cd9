"""Issue 9's acceptance: the broker frozen for 60 s (SIGSTOP, then SIGCONT; Tansu keeps its topics in memory, so it
is frozen, never killed) and, separately, the store stopped for 60 s, each during a burst of 100 deals: 100 drafts,
one per deal, 0 dead letters.

Transient failures are waited out, never dead-lettered. No offset of unfinished work is committed: the mapper and the
writer are stopped (SIGTERM) in the middle of each outage, while they wait it out, and started again after it; work
they had taken but not finished would otherwise be skipped by their successors, and a deal would have no draft.
Pipedrive's real retry delays (3, 30, 150 s) deliver again the webhooks the gateway refused during the outage.
"""

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from pdx_devstack.stack import SERVICES, Stack, StackOptions
from tests.e2e.helpers import create_deal, eventually, invoices, move
from tests.kafka_helpers import dead_letters

DEALS = 100
OUTAGE_SECONDS = 60.0
CONSUMERS = ("mapper", "xero-writer")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-outages-"))
    running = Stack(StackOptions(data_dir=data_dir, pipedrive_retry_delays="3,30,150", retry_first_delay=0.2,
                                 pipedrive_burst_limit=2000, services=tuple(SERVICES)))
    asyncio.run(running.start())
    try:
        yield running
    finally:
        running.stop()
        if os.environ.get("PDX_E2E_KEEP"):
            print(f"e2e logs kept in {data_dir / 'logs'}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def test_a_frozen_broker_during_a_burst_loses_nothing_and_dead_letters_nothing(stack):
    assert stack.infra is not None
    await _burst_through(stack, "Frozen", stack.infra.freeze_broker, stack.infra.thaw_broker)


async def test_a_stopped_store_during_a_burst_loses_nothing_and_dead_letters_nothing(stack):
    assert stack.infra is not None
    await _burst_through(stack, "Storeless", stack.infra.stop_store, stack.infra.start_store)


async def _burst_through(stack: Stack, title: str, begin: Callable[[], None], end: Callable[[], None]) -> None:
    ids = [d["id"] for d in await _gather_in_groups(
        [lambda n=n: create_deal(stack, title=f"{title} {n}") for n in range(DEALS)])]
    moving = asyncio.create_task(_gather_in_groups([lambda i=i: move(stack, i, "Won") for i in ids]))
    await eventually(lambda: _drafted(stack, ids, at_least=1), timeout=120)  # the burst is under way

    outage_ends = time.monotonic() + OUTAGE_SECONDS
    await asyncio.to_thread(begin)
    try:
        await _hold_until(outage_ends - OUTAGE_SECONDS / 2)
        # Stopped while they wait the outage out; their successors must find every unfinished message uncommitted.
        await asyncio.to_thread(_stop_services, stack, CONSUMERS)
        await _hold_until(outage_ends)
    finally:
        await asyncio.to_thread(end)
    stack.register_infra()
    for service in CONSUMERS:
        await stack.start_service(service)
    await moving

    await eventually(lambda: _drafted(stack, ids, at_least=DEALS), timeout=600, every=2.0)
    per_deal = await _per_deal(stack, ids)
    assert sorted(per_deal) == sorted(ids) and set(per_deal.values()) == {1}, per_deal
    assert await _dead_letters(stack) == ([], [])


async def _hold_until(moment: float) -> None:
    """The scenario's own clock (the outage lasts this long), not a wait for a result."""
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


def _stop_services(stack: Stack, names: tuple[str, ...]) -> None:
    for name in names:
        stack.stop_service(name)


async def _gather_in_groups(calls: list[Callable], size: int = 25) -> list:
    done = []
    for start in range(0, len(calls), size):
        done += await asyncio.gather(*(call() for call in calls[start:start + size]))
    return done


async def _per_deal(stack: Stack, ids: list[int]) -> dict[int, int]:
    wanted, counts = {f"/deal/{i}?": i for i in ids}, {}
    for invoice in await invoices(stack):
        url = invoice.get("Url") or ""
        for marker, deal_id in wanted.items():
            if marker in url:
                counts[deal_id] = counts.get(deal_id, 0) + 1
    return counts


async def _drafted(stack: Stack, ids: list[int], at_least: int) -> bool:
    return len(await _per_deal(stack, ids)) >= at_least


async def _dead_letters(stack: Stack) -> tuple[list, list]:
    """Dead letters of the company, as the operators see them and on the topic itself."""
    assert stack.seeded is not None and stack.infra is not None
    company = stack.seeded.company_id
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.urls['gateway']}/api/companies/{company}/dead-letters",
                               headers={"Authorization": f"Bearer {stack.api_token}"}) as resp:
            assert resp.status == 200
            stored = (await resp.json())["dead_letters"]
    # An absence is read to the end of the topic: up to markers sent now to every partition, not for a while.
    on_topic = await dead_letters(stack.infra.kafka_bootstrap, lambda m: m.get("company_id") == company)
    return stored, on_topic
