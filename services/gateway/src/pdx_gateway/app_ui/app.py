"""The settings app's sub-app (see the package's docstring)."""

from pathlib import Path

from aiohttp import web

from pdx_gateway.app_ui import (
    backfill,
    connect,
    customers,
    deal_fields,
    entry,
    history,
    mappings,
    preview,
    rules,
    sync_log,
    triggers,
    usage,
)
from pdx_gateway.app_ui.render import setup_templates
from pdx_gateway.app_ui.security import page_errors, security_headers, session_middleware

STATIC = Path(__file__).parent / "static"
SECTIONS = (connect, triggers, rules, customers, mappings, deal_fields, preview, sync_log, backfill, usage, history)


def create_ui() -> web.Application:
    """The sub-app mounted at ``/app`` by the gateway's composition root."""
    ui = web.Application(middlewares=[security_headers, page_errors, session_middleware])
    setup_templates(ui)
    ui.add_routes(entry.routes)
    for section in SECTIONS:
        ui.add_routes(section.routes)
    ui.router.add_static("/static/", STATIC, name="static", append_version=False)
    return ui
