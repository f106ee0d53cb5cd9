"""The sync log: the session's company's recent outcomes (drafts made, failures with why and how to fix, deals
waiting for Xero, skips), newest first, filterable by state, with Replay on failures for admins.

``GET  /app/log?state=failed&page=2``  the page (state: all, failed, created, waiting, skipped)
``POST /app/log/replay-all``           form ``csrf``: replays every failed deal as a paced job (admins), then back to
                                       the failures, whose banner shows the job's progress
``POST /app/log/replay``               form ``csrf``, ``deal_id``: re-runs the deal's failed triggers (admins), then
                                       redirects (Post/Redirect/Get) to ``?state=failed&replayed=<deal>``, or, when
                                       it cannot, to ``?state=failed&problem=<code>`` (a fixed sentence per code)

Each failure links to where it is fixed ("Fix it"): the setting in the app (the field's id, "f-" + its name with
dots as dashes), Connections, or the deal in Pipedrive. Deals are named by their Pipedrive titles, read in one call
per page view; when Pipedrive cannot answer, "Deal 6".

The company is always the session's; no parameter names one.
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from pdx_gateway import jobs
from pdx_gateway.adapters.jobs import MongoJobs
from pdx_gateway.adapters.sync_log import MongoSyncLog, PipedriveDealTitles, XeroShortCodes
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import AppSession, app_session, posted_form
from pdx_gateway.errors import NotFound, NothingToReplay
from pdx_gateway.handlers import replay_deal
from pdx_gateway.keys import CONNECTIONS, CONNECTOR, DB, PUBLISHER, SETTINGS_STORE, STAGE_EVENTS

routes = web.RouteTableDef()
PAGE_SIZE = 50
MAX_PAGE = 200
DEAL_ID = re.compile(r"[0-9]{1,18}")
XERO_APP = "https://go.xero.com"
# (value of ?state=, label, the stored states it shows)
FILTERS = (("all", "All", ("created", "failed", "parked", "skipped")), ("failed", "Failed", ("failed",)),
           ("created", "Created", ("created",)), ("waiting", "Waiting", ("parked",)),
           ("skipped", "Skipped", ("skipped",)))
# Every row has every key (the templates are strict about undefined names).
ROW = {"message": None, "fix": None, "fix_url": None, "fix_label": None, "fix_elsewhere": False, "kind": None,
       "number": None, "total": None, "organisation": None, "xero_url": None, "link_label": None, "title": None,
       "retry": None, "then": None}
LABELS = {"created": "Created", "failed": "Failed", "parked": "Waiting", "skipped": "Skipped"}
KINDS = {"invoice": "invoice", "quote": "quote"}
TITLE_LENGTH = 80
RECENT_JOB = timedelta(minutes=10)  # a finished backfill's or bulk replay's banner stays this long
RULES, MAPPINGS = "Customers, products & money", "Field mappings"
# Where a failure is fixed in the app: (address, section). Field ids are "f-" + the field's name, dots as dashes.
FIX_IN_APP: dict[str, tuple[str, str]] = {
    "unknown_tax_type": ("/app/rules#f-tax_types-0-rate", RULES),  # the first row under "Tax rates"
    "unknown_tax_rate": ("/app/rules#f-tax_types-0-rate", RULES),
    "unknown_account": ("/app/rules#f-money-sales_account_code", RULES),
    "unknown_item": ("/app/rules#f-products-unmatched", RULES),
    "contact_not_found": ("/app/rules#f-customer-create_missing", RULES),
    "unknown_branding_theme": ("/app/mappings#f-fields-branding_theme_id", MAPPINGS),
    "bad_date_field": ("/app/mappings#f-fields-date_field", MAPPINGS),
    "trigger_removed": ("/app/triggers", "Triggers"),
    "xero_not_connected": ("/app/connections", "Connections"),
    "pipedrive_not_connected": ("/app/connections", "Connections"),
}
# A text Xero finds too long that a template under Field mappings fills (limits.py names it "The quote's Title ...").
TOO_LONG_IN_APP = {"Reference": "/app/mappings#f-fields-reference", "Title": "/app/mappings#f-fields-quote_title",
                   "Summary": "/app/mappings#f-fields-quote_summary", "Terms": "/app/mappings#f-fields-quote_terms"}
TOO_LONG_FIELD = re.compile(r"^The (?:invoice|quote)'s (Reference|Title|Summary|Terms) ")
# Failures fixed on the deal in Pipedrive (its customer, currency, products, fields). Those fixed in Xero itself
# (currency_not_enabled, duplicate_contact_name) and those only support can fix (dead_lettered) have no link.
FIX_ON_DEAL = frozenset({
    "no_currency", "no_customer", "customer_without_name", "mixed_tax_methods", "no_products", "no_products_no_value",
    "product_without_code", "bad_discount", "bad_due_days", "not_a_number", "amount_too_large", "negative_quantity",
    "quantity_too_precise", "bad_tax_rate", "too_long", "too_many_lines", "document_too_large", "bad_number",
    "unknown_contact", "xero_rejected", "invalid_character", "xero_unreadable"})
# Why a replay did not start, by the code in ``?problem=``: fixed sentences, never the request's own words.
REPLAY_PROBLEMS = {
    "not_a_deal": ("That is not a deal of this log, so nothing was replayed.",
                   "Use the Replay button beside a failed deal."),
    "nothing_to_replay": ("That deal has no failed sync, so there is nothing to replay.",
                          "A replay re-runs a failed attempt. To make a draft, move the deal into its trigger stage "
                          "in Pipedrive."),
    "no_stage_move": ("No stage move of that deal is known, so there is nothing to replay.",
                      "Move the deal into its trigger stage in Pipedrive instead."),
}


@dataclass(frozen=True)
class XeroView:
    tenant_id: str | None  # the organisation the company writes to now
    names: dict[str, str]  # tenant id -> organisation name, for every organisation of the connection
    short_code: str | None  # the connected organisation's ShortCode, when Xero told it


@routes.get("/log")
async def log_page(request: web.Request) -> web.Response:
    """The log; ``?replayed=42`` (after a Replay) adds the notice that the replay started, with a Reload link;
    ``?problem=nothing_to_replay`` (after a refused Replay) says why nothing was replayed."""
    replayed = request.query.get("replayed", "")
    known = REPLAY_PROBLEMS.get(request.query.get("problem", ""))
    return await _page(request, replayed=replayed if DEAL_ID.fullmatch(replayed) else None,
                       problem={"message": known[0], "fix": known[1]} if known else None)


@routes.get("/log/replay")
async def replay_reloaded(request: web.Request) -> web.Response:
    """A reloaded or bookmarked replay address replays nothing: back to the failures."""
    raise web.HTTPSeeOther("/app/log?state=failed")


@routes.get("/log/replay-all")
async def replay_all_reloaded(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/app/log?state=failed")


@routes.post("/log/replay-all")
async def replay_all(request: web.Request) -> web.Response:
    """Every failed deal, a window at a time (``pdx_gateway.jobs``), so a long list of failures does not crowd out
    the deals moving now."""
    await posted_form(request)
    try:
        await jobs.create_replay_failed(MongoJobs(request.config_dict[DB]), app_session(request).company_id)
    except jobs.JobBusy:
        pass  # one is running: its banner shows
    raise web.HTTPSeeOther("/app/log?state=failed")


@routes.post("/log/replay")
async def replay(request: web.Request) -> web.Response:
    form = await posted_form(request)
    session = app_session(request)
    deal_id = form.get("deal_id")
    if not isinstance(deal_id, str) or not DEAL_ID.fullmatch(deal_id):
        raise _refused("not_a_deal")
    try:
        await replay_deal(session.company_id, deal_id, request.config_dict[PUBLISHER],
                          request.config_dict[STAGE_EVENTS])
    except NothingToReplay:
        raise _refused("nothing_to_replay") from None
    except NotFound:
        raise _refused("no_stage_move") from None
    await MongoSyncLog(request.config_dict[DB]).replayed(session.company_id, deal_id, datetime.now(UTC))
    raise web.HTTPSeeOther(f"/app/log?{urlencode({'state': 'failed', 'replayed': deal_id})}")


def _refused(code: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/app/log?{urlencode({'state': 'failed', 'problem': code})}")


async def _page(request: web.Request, *, replayed: str | None = None,
                problem: dict[str, Any] | None = None) -> web.Response:
    session = app_session(request)
    state = request.query.get("state", "all")
    states = next((f[2] for f in FILTERS if f[0] == state), None)
    if states is None:
        state, states = "all", FILTERS[0][2]
    page = _page_number(request.query.get("page"))
    log = MongoSyncLog(request.config_dict[DB])
    docs, more = await log.recent(session.company_id, states, skip=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    rows = await _rows(request, session, log, docs)
    banners, failed_deals = await _jobs(request, session.company_id)
    return render(request, "log.html", {
        "banners": banners, "failed_deals": failed_deals,
        "rows": rows, "state": state, "filters": [_filter(value, label, state) for value, label, _ in FILTERS],
        "older_url": _url(state, page + 1) if more and page < MAX_PAGE else None,
        "newer_url": _url(state, page - 1) if page > 1 else None,
        "empty": _empty(state), "problem": problem, "replayed": replayed, "reload_url": _url(state, page)})


async def _jobs(request: web.Request, company_id: str) -> tuple[list[dict[str, Any]], int | None]:
    """Banners for a running backfill or bulk replay (or one that just finished), and how many failed deals
    "Replay all failed" would replay (None while a bulk replay runs)."""
    store = MongoJobs(request.config_dict[DB])
    banners, replaying = [], False
    for kind, name in (("backfill", "Backfill"), ("replay_failed", "Replay of all failed deals")):
        job = await store.latest(company_id, kind)
        if job is None or job["state"] not in ("running", "done"):
            continue
        finished = job.get("finished_at")
        if job["state"] == "done" and (not isinstance(finished, datetime) or
                                       datetime.now(UTC) - _utc(finished) > RECENT_JOB):
            continue
        shown = jobs.view(job)
        replaying = replaying or (kind == "replay_failed" and job["state"] == "running")
        banners.append({"kind": kind, "name": name, "running": job["state"] == "running", "id": shown["id"],
                        "line": jobs.progress_line(shown)})
    failed = None if replaying else len(await request.config_dict[STAGE_EVENTS].failed_deals(company_id))
    return banners, failed


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1


def _url(state: str, page: int = 1) -> str:
    query = {**({"state": state} if state != "all" else {}), **({"page": str(page)} if page > 1 else {})}
    return f"/app/log?{urlencode(query)}" if query else "/app/log"


def _filter(value: str, label: str, current: str) -> dict[str, Any]:
    return {"value": value, "label": label, "url": _url(value), "current": value == current}


def _empty(state: str) -> str:
    return {"failed": "No failed deals. Nothing needs your attention.",
            "created": "No drafts made yet.", "waiting": "No deal is waiting.",
            "skipped": "No deal was skipped."}.get(state, "Nothing has happened yet: outcomes appear here when a deal "
                                                         "enters one of its trigger stages in Pipedrive.")


async def _rows(request: web.Request, session: AppSession, log: MongoSyncLog,
                docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    zone = await _zone(request, session.company_id)
    created = [d for d in docs if d.get("state") == "created" and d.get("xero_id")]
    drafts = await log.drafts(session.company_id, [d["xero_id"] for d in created])
    deal_ids = sorted({str(d.get("deal_id") or "") for d in docs} - {""})
    failed_ids = sorted({str(d.get("deal_id") or "") for d in docs if d.get("state") == "failed"} - {""})
    replays = await log.replays(session.company_id, failed_ids)
    xero, titles = await asyncio.gather(_xero(request, session.company_id, need_code=bool(created)),
                                        _titles(request, session.company_id, deal_ids))
    return [_row(doc, session, zone, drafts.get(doc.get("xero_id") or ""), xero, titles, replays) for doc in docs]


async def _titles(request: web.Request, company_id: str, deal_ids: list[str]) -> dict[str, str]:
    connector = request.config_dict.get(CONNECTOR)
    if connector is None or not deal_ids:
        return {}
    return await PipedriveDealTitles(connector.pipedrive_api(company_id)).titles(deal_ids)


async def _zone(request: web.Request, company_id: str) -> ZoneInfo:
    settings = await request.config_dict[SETTINGS_STORE].get(company_id)
    return ZoneInfo(settings.timezone)


async def _xero(request: web.Request, company_id: str, *, need_code: bool) -> XeroView:
    doc = await request.config_dict[CONNECTIONS].get("xero", company_id) or {}
    names = {t["tenantId"]: t.get("tenantName") or "" for t in doc.get("tenants") or [] if t.get("tenantId")}
    if doc.get("tenant_id") and doc.get("tenant_name"):
        names.setdefault(doc["tenant_id"], doc["tenant_name"])
    tenant_id = doc.get("tenant_id") if doc.get("status") == "ok" else None
    connector = request.config_dict.get(CONNECTOR)
    code = None
    if need_code and tenant_id and connector is not None:
        code = await XeroShortCodes(connector.session, connector.xero_tokens(),
                                    connector.settings.xero_api_url).connected(company_id)
    return XeroView(tenant_id, names, code)


def _row(doc: dict[str, Any], session: AppSession, zone: ZoneInfo, draft: dict[str, Any] | None,
         xero: XeroView, titles: dict[str, str], replays: dict[str, datetime]) -> dict[str, Any]:
    deal_id = str(doc.get("deal_id") or "")
    deal_url = (f"https://{session.company_domain}.pipedrive.com/deal/{deal_id}"
                if session.company_domain and DEAL_ID.fullmatch(deal_id) else None)
    row = {"state": doc.get("state"), "label": LABELS.get(doc.get("state") or "", "Unknown"), "deal_id": deal_id,
           "deal_url": deal_url, "title": _title(titles.get(deal_id)),
           "when": _when(doc.get("at"), zone), "replayable": doc.get("state") == "failed"}
    outcome = _outcome(doc, draft, xero)
    then = doc.get("then")
    if doc.get("state") == "created" and isinstance(then, dict) and then.get("text"):
        # What happened to the draft since: updated by a Replay, left untouched by one, no second draft on re-entry.
        outcome["then"] = {"text": str(then["text"]), "when": _when(then.get("at"), zone)}
    if doc.get("state") == "failed":
        outcome |= fix_link(doc, deal_url) | {"retry": _retry(doc.get("at"), replays.get(deal_id), zone)}
    return {**ROW, **row, **outcome}


def _title(title: str | None) -> str | None:
    if not title:
        return None
    return title if len(title) <= TITLE_LENGTH else title[:TITLE_LENGTH - 1].rstrip() + "…"


def fix_link(doc: dict[str, Any], deal_url: str | None) -> dict[str, Any]:
    """Where the failure is fixed: a setting or Connections in the app, or the deal in Pipedrive."""
    code, message = str(doc.get("code") or ""), str(doc.get("message") or "")
    if code == "too_long":
        too_long = TOO_LONG_FIELD.match(message)
        if too_long:
            return {"fix_url": TOO_LONG_IN_APP[too_long.group(1)], "fix_label": f"Fix it in {MAPPINGS}"}
        if message.startswith("The tracking category "):
            return {"fix_url": "/app/mappings#f-fields-tracking-0-name", "fix_label": f"Fix it in {MAPPINGS}"}
    if code in FIX_IN_APP:
        url, section = FIX_IN_APP[code]
        return {"fix_url": url, "fix_label": f"Fix it in {section}"}
    if code in FIX_ON_DEAL and deal_url:
        return {"fix_url": deal_url, "fix_label": "Fix it in Pipedrive", "fix_elsewhere": True}
    return {}


def _retry(at: Any, replayed_at: datetime | None, zone: ZoneInfo) -> dict[str, Any] | None:
    """After a Replay from this log: still running (the replay is newer than the failure), or failed again."""
    if not isinstance(at, datetime) or replayed_at is None:
        return None
    failed_at, replayed = _utc(at), _utc(replayed_at)
    if replayed > failed_at:
        return {"running": True, "text": f"Replay started at {_when(replayed, zone)}; it has not finished yet."}
    return {"running": False, "text": f"Tried again at {_when(failed_at, zone)} after the replay, and it failed "
                                      f"again."}


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _when(at: Any, zone: ZoneInfo) -> str:
    if not isinstance(at, datetime):
        return ""
    local = _utc(at).astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def _outcome(doc: dict[str, Any], draft: dict[str, Any] | None, xero: XeroView) -> dict[str, Any]:
    state = doc.get("state")
    if state == "created":
        return _created(doc, draft, xero)
    if state == "failed":
        return {"message": doc.get("message") or "The draft could not be made.", "fix": doc.get("fix")}
    if state == "parked":
        kind = KINDS.get(doc.get("kind") or "", "draft")
        return {"message": doc.get("reason") or f"The {kind} waits for Xero: the connection is missing or "
                                                "needs reconnecting.",
                "fix": "Connect Xero again under Connections; waiting drafts are then made by themselves.",
                "fix_url": "/app/connections", "fix_label": "Fix it in Connections"}
    return {"message": doc.get("reason") or "No draft was needed for this stage move.", "fix": None}


def _created(doc: dict[str, Any], draft: dict[str, Any] | None, xero: XeroView) -> dict[str, Any]:
    kind = KINDS.get(doc.get("kind") or "", "draft")
    currency = (draft or {}).get("currency") or doc.get("currency_code") or ""
    total = " ".join(p for p in (_amount(doc.get("total")), currency) if p)
    tenant_id = (draft or {}).get("tenant_id") or doc.get("tenant_id")
    organisation = xero.names.get(tenant_id or "") or None
    code = xero.short_code if tenant_id and tenant_id == xero.tenant_id else None
    url = xero_link(kind, str(doc.get("xero_id") or ""), (draft or {}).get("url") or doc.get("xero_url"), code)
    # Only a link that names the organisation may promise to open it; a plain one opens whichever was open last.
    label = f"Open in {organisation}" if code and organisation else "Open in Xero"
    return {"kind": kind, "number": doc.get("number"), "total": total, "organisation": organisation,
            "xero_url": url, "link_label": label}


def xero_link(kind: str, xero_id: str, stored_url: str | None, short_code: str | None) -> str | None:
    """The crm-card panel's link (the writer's ``xero_url``: ``/AccountsReceivable/Edit.aspx?InvoiceID=<id>`` or
    ``/app/quotes/edit/<id>`` on Xero's app address); with the organisation's ShortCode it goes through Xero's
    organisation login, which switches to that organisation first (the plain link opens whichever was open last)."""
    parts = urlsplit(stored_url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        base, path = f"{parts.scheme}://{parts.netloc}", parts.path + (f"?{parts.query}" if parts.query else "")
    elif xero_id:
        base = XERO_APP
        path = (f"/app/quotes/edit/{xero_id}" if kind == "quote"
                else f"/AccountsReceivable/Edit.aspx?InvoiceID={xero_id}")
    else:
        return None
    if not short_code:
        return f"{base}{path}"
    return f"{base}/organisationlogin/default.aspx?{urlencode({'shortcode': short_code, 'redirecturl': path})}"


def _amount(value: object) -> str:
    """Money as people write it: "3,300.50", not the stored "3300.5"."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value or "")
    return f"{amount:,.2f}" if value not in (None, "") and amount.is_finite() else ""
