"""The Xero sandbox application: identity, accounting and sandbox-control routes on one server."""

from aiohttp import web

from . import accounting, control, invoices, oauth
from .middleware import accounting_middleware, idempotency_middleware, record_middleware
from .state import XERO_STATE, XeroState
from .webhooks import webhook_ctx


def create_app(state: XeroState | None = None) -> web.Application:
    """Example: runner = web.AppRunner(create_app(XeroState(SandboxClock(speed=60)))); then TCPSite on port 0."""
    app = web.Application(middlewares=[record_middleware, accounting_middleware, idempotency_middleware],
                          client_max_size=8 * 1024 * 1024)  # above Xero's 3.5 MB, so api.py answers Xero's 413
    app[XERO_STATE] = state or XeroState()
    for table in (oauth.routes, accounting.routes, invoices.routes, control.routes):
        app.router.add_routes(table)
    app.cleanup_ctx.append(webhook_ctx)
    return app
