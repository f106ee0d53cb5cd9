"""A deal's actions for the people who work it (replay, create a draft on demand), mounted at ``/deal``."""

from aiohttp import web


def create_deal_actions() -> web.Application:
    return web.Application()
