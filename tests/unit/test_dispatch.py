"""Per-company queues and safe offset commits, with fakes (the real broker runs in the integration tests)."""

import asyncio
from dataclasses import dataclass

from pdx_writer.dispatch import CompanyQueues, OffsetTracker, Pending


@dataclass(frozen=True)
class Cmd:
    company_id: str
    deal_id: str
    n: int

    @property
    def ledger_key(self) -> str:
        return f"{self.company_id}:{self.deal_id}:t"


async def test_offsets_are_committed_only_past_finished_commands():
    commits = []

    async def commit(partition, offset):
        commits.append((partition, offset))

    tracker = OffsetTracker(commit)
    done = [tracker.started("p0", offset) for offset in (10, 11, 12)]
    await done[2]()  # 12 finished first: 10 is still in flight, nothing may be committed
    await done[1]()
    assert commits == []
    await done[0]()
    assert commits == [("p0", 13)]
    assert tracker.in_flight() == 0


async def test_a_slow_company_does_not_hold_up_another():
    finished: list[str] = []
    slow_gate = asyncio.Event()

    async def run_batch(commands):
        if commands[0].company_id == "slow":
            await slow_gate.wait()
        finished.extend(f"{c.company_id}{c.n}" for c in commands)

    queues = CompanyQueues(run_batch)
    done = asyncio.Event()
    for n in range(100):
        await queues.put("slow", Pending(Cmd("slow", str(n), n), _noop))
    await queues.put("quiet", Pending(Cmd("quiet", "1", 1), _set(done)))
    await asyncio.wait_for(done.wait(), 1)
    assert finished == ["quiet1"]
    slow_gate.set()
    await queues.drain(2)
    assert len(finished) == 101
    await queues.stop()


async def test_waiting_commands_go_in_batches_of_at_most_fifty_and_one_deal_stays_in_order():
    batches: list[list[int]] = []

    async def run_batch(commands):
        batches.append([c.n for c in commands])

    queues = CompanyQueues(run_batch)
    # Fill the queue before the worker first runs: deal "x" appears twice, its second command must wait a batch.
    for n in range(120):
        await queues.put("c", Pending(Cmd("c", "x" if n in (3, 70) else str(n), n), _noop))
    await queues.drain(2)
    await queues.stop()
    assert all(len(b) <= 50 for b in batches) and sum(map(len, batches)) == 120
    order = [n for b in batches for n in b]
    assert order.index(3) < order.index(70)
    assert [n for b in batches for n in b if n in (3, 70)] == [3, 70]
    assert not any(3 in b and 70 in b for b in batches)


async def _noop() -> None:
    return None


def _set(event: asyncio.Event):
    async def done() -> None:
        event.set()
    return done
