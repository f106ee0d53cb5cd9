"""Per-company queues and safe offset commits, with fakes (the real broker runs in the integration tests)."""

import asyncio
from dataclasses import dataclass

from pdx_writer.dispatch import CompanyQueues, OffsetTracker, PartitionPauses, Pending


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


async def test_an_offset_delivered_again_after_a_rebalance_finishes_cleanly_and_commits_continue():
    commits = []

    async def commit(partition, offset):
        commits.append(offset)

    tracker = OffsetTracker(commit)
    first = tracker.started("p0", 5)
    again = tracker.started("p0", 5)  # the partition came back: its uncommitted offset is delivered a second time
    await first()
    assert commits == []  # the second delivery is still being handled
    await first()  # finishing twice is a no-op
    await again()
    await again()
    assert commits == [6] and tracker.in_flight() == 0
    await tracker.started("p0", 6)()
    assert commits == [6, 7]


async def test_one_failing_done_does_not_stop_the_rest_of_the_batch_finishing():
    finished: list[int] = []

    async def run_batch(commands):
        return None

    def done(n):
        async def finish() -> None:
            if n == 1:
                raise ValueError("commit bookkeeping broke")
            finished.append(n)
        return finish

    queues = CompanyQueues(run_batch)
    for n in range(3):
        await queues.put("c", Pending(Cmd("c", str(n), n), done(n)))
    await queues.drain(60)
    await queues.stop()
    assert finished == [0, 2]


async def test_a_full_company_pauses_its_partition_instead_of_blocking_others_and_resumes_when_it_drains():
    gate = asyncio.Event()
    ran: list[str] = []
    paused: list[str] = []

    async def run_batch(commands):
        if commands[0].company_id == "stuck":
            await gate.wait()  # waiting out a long Xero outage
        ran.extend(c.company_id for c in commands)

    pauses = PartitionPauses(paused.append, lambda p: paused.remove(p))
    queues = CompanyQueues(run_batch, capacity=1_000, company_capacity=3, batch_limit=1, on_room=pauses.release)
    full = [await asyncio.wait_for(queues.put("stuck", Pending(Cmd("stuck", str(n), n), _noop)), 60)
            for n in range(5)]
    assert full[-1] and not full[0]
    pauses.hold("stuck", "p-stuck")
    assert paused == ["p-stuck"]
    # put never waits for a full company's room: another company's command is queued and run at once
    quiet = asyncio.Event()
    assert not await asyncio.wait_for(queues.put("quiet", Pending(Cmd("quiet", "1", 1), _set(quiet))), 60)
    await asyncio.wait_for(quiet.wait(), 60)
    assert paused == ["p-stuck"]
    gate.set()
    await queues.drain(60)
    await queues.stop()
    assert paused == [] and ran.count("stuck") == 5


def test_a_partition_resumes_only_once_no_full_company_holds_it():
    events: list[tuple[str, str]] = []
    pauses = PartitionPauses(lambda p: events.append(("pause", p)), lambda p: events.append(("resume", p)))
    pauses.hold("a", "p0")
    pauses.hold("b", "p0")
    pauses.release("a")
    assert ("resume", "p0") not in events
    pauses.release("b")
    pauses.release("b")
    assert events.count(("resume", "p0")) == 1


async def test_the_global_cap_still_bounds_memory():
    gate = asyncio.Event()

    async def run_batch(commands):
        await gate.wait()

    queues = CompanyQueues(run_batch, capacity=1)
    await queues.put("a", Pending(Cmd("a", "1", 1), _noop))
    blocked = asyncio.create_task(queues.put("b", Pending(Cmd("b", "1", 1), _noop)))
    await asyncio.sleep(0)
    assert not blocked.done()
    gate.set()
    await asyncio.wait_for(blocked, 60)
    await queues.drain(60)
    await queues.stop()


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
    await asyncio.wait_for(done.wait(), 60)  # (a guard against a hang; "slow" is held until quiet is done)
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
