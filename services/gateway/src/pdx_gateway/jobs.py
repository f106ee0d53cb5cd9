"""Backfills and bulk replays: long jobs for one company, paced with the Xero budget."""

from collections.abc import AsyncIterator

from aiohttp import web


async def runner_context(app: web.Application) -> AsyncIterator[None]:
    yield
