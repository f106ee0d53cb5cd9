"""The master-data sync's background loop: every poll, one round of due records (``RecordSync.run_round``); at once
again while a company has more than a batch due."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from pdx_mapper.record_sync import RecordSync

log = structlog.get_logger()


async def run_forever(sync: RecordSync, poll_seconds: float, stopping: asyncio.Event) -> None:
    """Rounds until ``stopping`` is set. A stop lets the round in flight finish (its leased entries are synced and
    released), never cancelling a store operation or a publish midway."""
    while not stopping.is_set():
        more = False
        try:
            more = await sync.run_round()
        except Exception:
            # Its entries stay leased and are taken again once the lease lapses; the next round goes on.
            log.exception("record sync round failed")
        if not more:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), poll_seconds)


def loop_context(sync: Callable[[], RecordSync], poll_seconds: float
                 ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the loop while the app runs (after the broker starts, stopped before it stops)."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        stopping = asyncio.Event()
        task = asyncio.create_task(run_forever(sync(), poll_seconds, stopping), name="record-sync")
        yield
        stopping.set()
        await task
    return ctx
