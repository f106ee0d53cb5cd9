"""Fair consumption: commands are taken off Kafka at once and queued per company (one Xero organisation each);
each company's worker drains its own queue in batches under its own rate limit. A busy or throttled organisation
waits on its own queue, never in front of another's deal. One deal's commands keep their order (one queue, FIFO).
Customers and products to keep in sync (``SyncRecords``) wait in the same queue as the company's drafts: they spend
the same organisation's budget, in turn.

Offsets are committed per partition only up to the oldest command not yet finished, so a crash redelivers what
was in flight (the ledger makes that harmless) and loses nothing. A company waiting out an outage when the service
stops leaves its queue uncommitted (``Stopped``), so shutdown is prompt and the next owner redelivers.

Backpressure never lets one company starve the others. ``put`` does not wait for a company's own room: once a
company holds ``company_capacity`` commands, the caller pauses the partition that company's commands come from
(``PartitionPauses``; commands are keyed by company, so that is one partition) and resumes it when the company's
queue falls below its cap. Trade-off: other companies on that same partition wait too; their offsets could not be
committed past the full company's anyway, and the other partitions keep flowing. ``capacity`` is a global memory
bound of last resort: only if every company together reaches it does ``put`` wait, which holds up all of them.
"""

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from pdx_common.reliability import Stopped

log = structlog.get_logger()
BATCH_LIMIT = 50  # Xero creates up to 50 documents in one request
COMPANY_CAPACITY = 500  # ten full batches: enough to keep a company's worker busy, small enough to share memory


@dataclass(eq=False)
class Pending:
    """A command taken off the topic, with what finishing it must do (commit its offset)."""

    command: Any
    done: Callable[[], Awaitable[None]]


class OffsetTracker:
    """Which offsets of each partition are still in flight; commits the highest safe offset as they finish.

    After a rebalance hands a partition back, offsets still queued here are delivered again: an offset is counted
    once per delivery and stays in flight until every delivery of it has finished; each ``finished`` acts once.
    """

    def __init__(self, commit: Callable[[Any, int], Awaitable[None]]) -> None:
        self._commit = commit
        self._inflight: dict[Any, Counter[int]] = defaultdict(Counter)
        self._highest: dict[Any, int] = {}

    def started(self, partition: Any, offset: int) -> Callable[[], Awaitable[None]]:
        self._inflight[partition][offset] += 1
        self._highest[partition] = max(offset, self._highest.get(partition, -1))
        once = [False]

        async def finished() -> None:
            inflight = self._inflight[partition]
            if once[0] or offset not in inflight:
                return
            once[0] = True
            inflight[offset] -= 1
            if inflight[offset]:
                return  # another delivery of this offset is still being handled
            was_oldest = offset == min(inflight)
            del inflight[offset]
            if was_oldest:
                # Everything below the oldest still in flight is done (or redelivered if we crash now).
                await self._commit(partition, min(inflight) if inflight else self._highest[partition] + 1)
        return finished

    def in_flight(self) -> int:
        return sum(len(offsets) for offsets in self._inflight.values())


class PartitionPauses:
    """Partitions paused on behalf of companies whose queue is full; one resumes once no full company holds it."""

    def __init__(self, pause: Callable[[Any], None], resume: Callable[[Any], None]) -> None:
        self._pause, self._resume = pause, resume
        self._held: dict[str, set[Any]] = defaultdict(set)

    def hold(self, company_id: str, partition: Any) -> None:
        self._held[company_id].add(partition)
        self._pause(partition)  # always: a rebalance that hands the partition back forgets its pause

    def release(self, company_id: str) -> None:
        for partition in self._held.pop(company_id, set()):
            if not any(partition in held for held in self._held.values()):
                self._resume(partition)


@dataclass
class CompanyQueues:
    """One FIFO queue and one worker per company; ``company_capacity`` is each company's share (``put`` says when
    it is reached; ``on_room`` is called with the company once its queue is back below it), ``capacity`` bounds what
    waits in memory over all of them."""

    run_batch: Callable[[list[Any]], Awaitable[None]]
    capacity: int = 5_000
    company_capacity: int = COMPANY_CAPACITY
    batch_limit: int = BATCH_LIMIT
    on_room: Callable[[str], None] = lambda company_id: None
    _queues: dict[str, asyncio.Queue[Pending]] = field(default_factory=dict)
    _workers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _room: asyncio.Semaphore | None = None
    closing: bool = False

    async def put(self, company_id: str, pending: Pending) -> bool:
        """Queue a command without waiting for its company's room; True when the company is now full."""
        if self._room is None:
            self._room = asyncio.Semaphore(self.capacity)
        await self._room.acquire()  # backpressure: consumption pauses only when memory would grow unbounded
        if self.closing:  # waited for room into shutdown: leave it uncommitted
            self._room.release()
            return False
        if company_id not in self._queues:
            self._queues[company_id] = asyncio.Queue()
            self._workers[company_id] = asyncio.create_task(self._work(company_id), name=f"writer-{company_id}")
        self._queues[company_id].put_nowait(pending)
        return self._queues[company_id].qsize() >= self.company_capacity

    def waiting(self, company_id: str) -> int:
        queue = self._queues.get(company_id)
        return queue.qsize() if queue else 0

    async def _work(self, company_id: str) -> None:
        queue = self._queues[company_id]
        while True:
            batch = [await queue.get()]
            batch += _take(queue, self.batch_limit - 1, {_ledger_key(batch[0])})
            if queue.qsize() < self.company_capacity:
                self.on_room(company_id)
            try:
                await self.run_batch([p.command for p in batch])
                await _all_done(batch)
            except Stopped:
                # Shutting down while this company waits out an outage: nothing more of its queue is committed.
                log.info("stopping during an outage; the company's queued commands stay uncommitted",
                         company_id=company_id, queued=len(batch) + queue.qsize())
                self._abandon(queue)
                return
            except Exception:  # noqa: BLE001 - run_batch dead-letters what it cannot do; this is a last guard
                log.exception("batch failed unexpectedly; its commands stay uncommitted and will be redelivered")
            finally:
                self._finished(queue, len(batch))

    def _finished(self, queue: asyncio.Queue[Pending], count: int) -> None:
        assert self._room is not None
        for _ in range(count):
            queue.task_done()
            self._room.release()

    def _abandon(self, queue: asyncio.Queue[Pending]) -> None:
        dropped = 0
        while not queue.empty():
            queue.get_nowait()
            dropped += 1
        self._finished(queue, dropped)

    async def drain(self, timeout: float) -> None:
        """Take no more work, then wait (bounded) until every queue is empty and idle: for graceful shutdown."""
        self.closing = True
        async def empty() -> None:
            while any(q.qsize() or q._unfinished_tasks for q in self._queues.values()):  # noqa: SLF001
                await asyncio.sleep(0.05)
        try:
            await asyncio.wait_for(empty(), timeout)
        except TimeoutError:
            log.warning("shutdown with commands still queued; they are uncommitted and will be redelivered")

    async def stop(self) -> None:
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)


async def _all_done(batch: list[Pending]) -> None:
    """Every command's ``done``, even if one fails: one failed commit must not leave the others in flight."""
    for pending in batch:
        try:
            await pending.done()
        except Exception:  # noqa: BLE001 - logged; its offset stays uncommitted and is redelivered
            log.exception("finishing a command failed; its offset stays uncommitted", command_id=_id(pending))


def _id(pending: Pending) -> str:
    return str(getattr(pending.command, "id", "unknown"))


def _ledger_key(pending: Pending) -> str:
    return pending.command.ledger_key


def _take(queue: asyncio.Queue[Pending], limit: int, keys: set[str]) -> list[Pending]:
    """Up to ``limit`` more waiting commands, stopping before a second command for a ledger key already in the
    batch (it must see the first one's outcome) so one deal's commands stay in order."""
    taken: list[Pending] = []
    while len(taken) < limit and not queue.empty():
        head = queue._queue[0]  # noqa: SLF001 - peek, so an out-of-order command stays at the front
        if _ledger_key(head) in keys:
            break
        taken.append(queue.get_nowait())
        keys.add(_ledger_key(head))
    return taken
