"""Usage: the drafts the session's company had made this month and in earlier months, as the metering service
counted them (``GET /app/usage``). When metering is not configured or does not answer, the page says usage is
unavailable right now instead of failing.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import structlog
from aiohttp import web

from pdx_gateway.adapters.metering_usage import MeteringUsage, MonthUsage, UsageUnavailable
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session
from pdx_gateway.keys import CONNECTOR, SETTINGS

log = structlog.get_logger()
routes = web.RouteTableDef()


@routes.get("/usage")
async def usage_page(request: web.Request) -> web.Response:
    session = app_session(request)
    try:
        async with _http(request) as http:
            settings = request.config_dict[SETTINGS]
            token = settings.metering_token.get_secret_value() if settings.metering_token else None
            months = await MeteringUsage(http, settings.metering_url, token).months(session.company_id)
    except UsageUnavailable as exc:
        log.warning("usage unavailable", company_id=session.company_id, reason=str(exc))
        return render(request, "usage.html", {"unavailable": True})
    return render(request, "usage.html", {"unavailable": False, **split_months(months, datetime.now(UTC))})


@asynccontextmanager
async def _http(request: web.Request) -> AsyncIterator[aiohttp.ClientSession]:
    """The connector's session when the gateway has one, else one for this request."""
    connector = request.config_dict.get(CONNECTOR)
    if connector is not None:
        yield connector.session
        return
    async with aiohttp.ClientSession() as session:
        yield session


def split_months(months: list[MonthUsage], now: datetime) -> dict:
    """This UTC month (zero when nothing was metered yet) and the earlier months, newest first."""
    current = f"{now.year:04d}-{now.month:02d}"
    this = next((m for m in months if m.month == current), MonthUsage(current, 0, 0, 0))
    earlier = [_view(m) for m in sorted(months, key=lambda m: m.month, reverse=True) if m.month < current]
    return {"this_month": {**_view(this), "sentence": _sentence(this)}, "earlier": earlier}


def _view(month: MonthUsage) -> dict:
    return {"label": datetime.strptime(month.month, "%Y-%m").strftime("%B %Y"), "drafts": month.drafts,
            "invoices": month.invoices, "quotes": month.quotes}


def _sentence(month: MonthUsage) -> str:
    if month.drafts == 0:
        return "No drafts made yet this month."
    return (f"{_count(month.drafts, 'draft')} made: {_count(month.invoices, 'invoice')} and "
            f"{_count(month.quotes, 'quote')}.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
