"""The Pipedrive sandbox app: OAuth, API v1/v2, webhook delivery, the ``/_sandbox`` control routes and the
``/host`` pages that embed the app's settings iframe, and show a deal with the app's JSON panel and modals, as Pipedrive
does."""

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from pdx_sandbox.pipedrive import api_v1, api_v2, control, deal_page, host, oauth, record_control
from pdx_sandbox.pipedrive.http import PIPEDRIVE_STATE
from pdx_sandbox.pipedrive.middleware import sandbox_middleware
from pdx_sandbox.pipedrive.state import PipedriveState
from pdx_sandbox.pipedrive.webhooks import WebhookDispatcher


async def webhook_delivery(app: web.Application) -> AsyncIterator[None]:
    """One client session for webhook delivery; retries still waiting are cancelled on shutdown."""
    state = app[PIPEDRIVE_STATE]
    async with aiohttp.ClientSession() as session:
        dispatcher = WebhookDispatcher(state, session)
        state.dispatcher = dispatcher
        yield
        await dispatcher.close()
        if state.dispatcher is dispatcher:
            state.dispatcher = None


def create_app(state: PipedriveState | None = None) -> web.Application:
    """A Pipedrive company on one server: ``create_app()`` seeds the demo data; pass a state to share or tune it."""
    app = web.Application(middlewares=[sandbox_middleware])
    app[PIPEDRIVE_STATE] = state if state is not None else PipedriveState()
    oauth.add_routes(app)
    api_v2.add_routes(app)
    api_v1.add_routes(app)
    control.add_routes(app)
    record_control.add_routes(app)
    host.add_routes(app)
    deal_page.add_routes(app)
    app.cleanup_ctx.append(webhook_delivery)
    return app
