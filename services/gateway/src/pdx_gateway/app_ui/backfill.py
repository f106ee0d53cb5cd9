"""Backfill: drafts for deals that were already sitting in a trigger stage (or already won) before the app was set
up. First a check (a dry run that changes nothing: how many deals, which already have their draft, which would fail
and why), then "Make N drafts", with its progress. Paced with the company's live deals (``pdx_gateway.jobs``).

``GET  /app/backfill``          the newest backfill of the session's company: its check, or its progress
``POST /app/backfill/check``    form ``csrf``: a new check (admins), then back to the page (Post/Redirect/Get)
``POST /app/backfill/start``    form ``csrf``, ``job_id``: make the checked drafts (admins)
``POST /app/backfill/cancel``   form ``csrf``, ``job_id``: stop; drafts already asked for are still made (admins)

Everyone sees the page and its progress; only admins see its buttons.
"""

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pdx_gateway import jobs
from pdx_gateway.adapters.jobs import MongoJobs
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.app_ui.sync_log import DEAL_ID, fix_link
from pdx_gateway.keys import DB

routes = web.RouteTableDef()
PAGE = "/app/backfill"
REPLAY_THE_DEAL = re.compile(r",? then replay (?:the|this) deal\.?", re.IGNORECASE)


@routes.get("/backfill")
async def page(request: web.Request) -> web.Response:
    session = app_session(request)
    job = await MongoJobs(request.config_dict[DB]).latest(session.company_id, "backfill")
    shown = jobs.view(job) if job else None
    problems = []
    for group in (shown or {}).get("problems", []):
        examples = [{**e, "url": _deal_url(session.company_domain, e["deal_id"])} for e in group["examples"]]
        fix = fix_link({"code": group["code"], "message": group["message"]}, examples[0]["url"] if examples else None)
        problems.append({**group, "fix": checked_again(group.get("fix")), "examples": examples,
                         "fix_url": fix.get("fix_url"),
                         "fix_label": fix.get("fix_label"), "fix_elsewhere": fix.get("fix_elsewhere", False)})
    return render(request, "backfill.html", {"job": shown, "problems": problems,
                                             "progress_line": jobs.progress_line(shown) if shown else None})


def checked_again(fix: str | None) -> str | None:
    """The engine's fixes end "then replay the deal"; a deal that was never tried has nothing to replay: here it is
    checked again (then made by the backfill)."""
    if not fix:
        return fix
    return REPLAY_THE_DEAL.sub(", then press Check again on this page.", fix)


def _deal_url(domain: str | None, deal_id: str) -> str | None:
    return f"https://{domain}.pipedrive.com/deal/{deal_id}" if domain and DEAL_ID.fullmatch(deal_id) else None


@routes.get("/backfill/{action:check|start|cancel}")
async def reloaded(request: web.Request) -> web.Response:
    """A reloaded or bookmarked action address does nothing: back to the page."""
    raise web.HTTPSeeOther(PAGE)


@routes.post("/backfill/check")
async def check(request: web.Request) -> web.Response:
    await posted_form(request)
    try:
        await jobs.create_backfill(MongoJobs(request.config_dict[DB]), app_session(request).company_id, start=False)
    except jobs.JobBusy:
        pass  # one is being checked or run already: the page shows it
    raise web.HTTPSeeOther(PAGE)


@routes.post("/backfill/start")
async def start(request: web.Request) -> web.Response:
    form = await posted_form(request)
    job_id = form.get("job_id")
    if isinstance(job_id, str) and job_id:
        await MongoJobs(request.config_dict[DB]).start(app_session(request).company_id, job_id, datetime.now(UTC))
    raise web.HTTPSeeOther(PAGE)


@routes.post("/backfill/cancel")
async def cancel(request: web.Request) -> web.Response:
    form = await posted_form(request)
    job_id = form.get("job_id")
    if isinstance(job_id, str) and job_id:
        await MongoJobs(request.config_dict[DB]).cancel(app_session(request).company_id, job_id, datetime.now(UTC))
    raise web.HTTPSeeOther(_back(form))


def _back(form: Any) -> str:
    """Cancel is offered on this page and on the sync log's banner: back to where it was pressed."""
    return "/app/log" if form.get("back") == "log" else PAGE
