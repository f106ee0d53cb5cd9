"""A deal's actions for the people who work it (replay, create a draft on demand), mounted at ``/deal``: pages
opened from a signed link on the deal (``pages``), and Pipedrive's JSON modals (``modals``); both plan and act
through ``service.DealActions`` with the same rules. docs/replay.md explains them for salespeople and admins.
"""

from aiohttp import web

from pdx_gateway.app_ui.render import setup_templates
from pdx_gateway.deal_actions import modals, pages
from pdx_gateway.deal_actions.render import headers, page_errors
from pdx_gateway.deal_actions.service import INDEXES, Once


def create_deal_actions() -> web.Application:
    app = web.Application(middlewares=[headers, page_errors])
    app[INDEXES] = Once()
    setup_templates(app)  # the settings app's templates (deal_*.html) and look
    app.add_routes(modals.routes)
    app.add_routes(pages.routes)
    return app
