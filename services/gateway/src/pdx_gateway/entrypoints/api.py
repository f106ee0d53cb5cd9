"""The operators' API under ``/api`` (bearer token): company settings, replay, sync status.

``GET  /api/companies/{company_id}/settings``               -> the settings with their ``version``
``PUT  /api/companies/{company_id}/settings``               full settings; ``version`` must be the stored one
``PATCH /api/companies/{company_id}/settings``              ``{"version": 3, "money": {"sales_account_code": "260"}}``
``POST /api/companies/{company_id}/deals/{deal_id}/replay`` re-run the deal's failed triggers, as the deal is now
``POST /api/companies/{company_id}/replay-failed``          replay every deal whose last outcome was a failure, now;
                                                            ``?paced=true``: as a paced job (202 ``{"job": ...}``)
``POST /api/companies/{company_id}/backfill``               ``{"dry_run": true}``: check first (state dry_run ->
                                                            ready); ``false``: check, then run at once. 202 ``{"job"}``
``GET  /api/companies/{company_id}/jobs/{job_id}``          a backfill's or bulk replay's counts and progress
``POST /api/companies/{company_id}/jobs/{job_id}/start``    run a checked backfill (ready -> running)
``POST /api/companies/{company_id}/jobs/{job_id}/cancel``   stop a job; what it published still completes
``GET  /api/companies/{company_id}/deals/{deal_id}/status`` each trigger's last outcome for the deal
``GET  /api/companies/{company_id}/webhooks``               the company's Pipedrive webhooks, as the gateway knows them
``POST /api/companies/{company_id}/webhooks``               register the missing ones (deal, person, organization,
                                                            product; also when Pipedrive lost one), delete replaced
                                                            ones: ``{"registered": true, "webhooks": {...}, ...}``

and the routes of ``connections_api`` and ``links_api``.
"""

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pdx_common.auth import bearer_middleware
from pdx_common.http import ConnectionMissing
from pdx_gateway import jobs, record_webhooks, settings_changes
from pdx_gateway.adapters.jobs import MongoJobs
from pdx_gateway.entrypoints import connections_api, dead_letters_api, erase_api, links_api
from pdx_gateway.entrypoints.linking import connector_for
from pdx_gateway.errors import (
    BadRequest,
    Conflict,
    NotFound,
    NothingToReplay,
    TokenRequired,
    error_middleware,
    path_ids,
)
from pdx_gateway.handlers import replay_deal
from pdx_gateway.keys import DB, PUBLISHER, SETTINGS, SETTINGS_STORE, STAGE_EVENTS

routes = web.RouteTableDef()


bearer_auth = bearer_middleware(
    lambda request: request.config_dict[SETTINGS].api_token.get_secret_value(),
    lambda: TokenRequired("a valid API bearer token is required"))


def create_api() -> web.Application:
    api = web.Application(middlewares=[error_middleware, bearer_auth, path_ids])
    api.add_routes(routes)
    api.add_routes(connections_api.routes)
    api.add_routes(erase_api.routes)
    api.add_routes(dead_letters_api.routes)
    api.add_routes(links_api.routes)
    return api


async def _json_object(request: web.Request) -> dict[str, Any]:
    # Size, nesting and "an object" (pdx_common.json_body); its BodyRefused is a 400 or 413 in the error table.
    from pdx_common.json_body import read_json_object

    return await read_json_object(request, max_bytes=request.config_dict[SETTINGS].max_body_bytes)


def _expected_version(body: dict[str, Any]) -> int:
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadRequest("send the settings' current version (read it with GET) so no change is lost")
    return version


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7396): objects merge, null removes (back to the default), anything else replaces."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


async def _store(request: web.Request, document: dict[str, Any], expected: int) -> web.Response:
    """The app's save path (``settings_changes.save``), answered in the API's documented words."""
    company_id = request.match_info["company_id"]
    try:
        stored = await settings_changes.save(request.config_dict[SETTINGS_STORE], company_id, document, expected,
                                             settings_changes.OPERATOR_API)
    except settings_changes.SettingsInvalid as invalid:
        raise BadRequest("the settings are not valid; nothing was changed",
                         errors=[p.as_api() for p in invalid.problems]) from None
    except settings_changes.StaleSettings as stale:
        raise Conflict(f"the settings changed meanwhile (now version {stale.current}); read them again",
                       current_version=stale.current) from None
    return web.json_response(stored.model_dump(mode="json"))


@routes.get("/companies/{company_id}/settings")
async def get_settings(request: web.Request) -> web.Response:
    settings = await request.config_dict[SETTINGS_STORE].get(request.match_info["company_id"])
    return web.json_response(settings.model_dump(mode="json"))


@routes.put("/companies/{company_id}/settings")
async def put_settings(request: web.Request) -> web.Response:
    body = await _json_object(request)
    return await _store(request, body, _expected_version(body))


@routes.patch("/companies/{company_id}/settings")
async def patch_settings(request: web.Request) -> web.Response:
    body = await _json_object(request)
    expected = _expected_version(body)
    current = await request.config_dict[SETTINGS_STORE].get(request.match_info["company_id"])
    return await _store(request, _merge(current.model_dump(mode="json"), body), expected)


@routes.post("/companies/{company_id}/deals/{deal_id}/replay")
async def replay(request: web.Request) -> web.Response:
    """Re-runs the deal's failed triggers with the deal as it is now; 409 ``nothing_to_replay`` when none failed."""
    company_id, deal_id = request.match_info["company_id"], request.match_info["deal_id"]
    event = await replay_deal(company_id, deal_id, request.config_dict[PUBLISHER], request.config_dict[STAGE_EVENTS])
    return web.json_response({"replayed": deal_id, "event_id": event.id, "replay_of": event.replay_of,
                              "triggers": list(event.replay_triggers)}, status=202)


@routes.post("/companies/{company_id}/replay-failed")
async def replay_failed(request: web.Request) -> web.Response:
    """Every failed deal now; with ``?paced=true`` a job that keeps at most a window of them in flight."""
    company_id = request.match_info["company_id"]
    if request.query.get("paced", "").lower() in ("1", "true", "yes"):
        try:
            job = await jobs.create_replay_failed(MongoJobs(request.config_dict[DB]), company_id)
        except jobs.JobBusy as busy:
            raise Conflict("a bulk replay of this company is already running", job=jobs.view(busy.job)) from None
        return web.json_response({"job": jobs.view(job)}, status=202)
    stage_events = request.config_dict[STAGE_EVENTS]
    replayed, unknown = [], []
    for deal_id in await stage_events.failed_deals(company_id):
        try:
            await replay_deal(company_id, deal_id, request.config_dict[PUBLISHER], stage_events)
        except (NotFound, NothingToReplay):
            unknown.append(deal_id)  # settled meanwhile, or failed before any stage move we know of
            continue
        replayed.append(deal_id)
    return web.json_response({"replayed": replayed, "without_known_event": unknown}, status=202)


@routes.get("/companies/{company_id}/deals/{deal_id}/status")
async def deal_status(request: web.Request) -> web.Response:
    rows = await request.config_dict[STAGE_EVENTS].status(request.match_info["company_id"],
                                                          request.match_info["deal_id"])
    return web.json_response(rows, dumps=lambda o: json.dumps(o, default=str))


@routes.get("/companies/{company_id}/webhooks")
async def webhooks(request: web.Request) -> web.Response:
    company_id, c = request.match_info["company_id"], connector_for(request, "pipedrive")
    if not await c.credentials.installed(company_id):
        raise NotFound(f"company {company_id} is not installed")
    ids = await c.credentials.webhook_ids(company_id)
    return web.json_response({"company_id": company_id, "webhooks": ids,
                              "missing": [e for e in record_webhooks.ENTITIES if e not in ids],
                              "to_delete": await c.credentials.retired(company_id)})


@routes.post("/companies/{company_id}/webhooks")
async def add_webhooks(request: web.Request) -> web.Response:
    """Idempotent: with all four webhooks known and still in Pipedrive, nothing changes (``registered: false``)."""
    company_id = request.match_info["company_id"]
    try:
        outcome = await record_webhooks.ensure_webhooks(connector_for(request, "pipedrive"), company_id,
                                                        check_pipedrive=True)
    except ConnectionMissing as exc:
        raise Conflict(f"Pipedrive is {exc.reason} for this company, so its webhooks cannot be registered",
                       fix="The company's admin installs the app again in Pipedrive.") from None
    return web.json_response({"company_id": company_id, **outcome.as_json()})


@routes.post("/companies/{company_id}/backfill")
async def backfill(request: web.Request) -> web.Response:
    """``{"dry_run": true}`` checks which deals would make drafts and stops there (start it with ``/start``);
    ``{"dry_run": false}`` checks, then runs. Only one backfill of a company checks or runs at a time (409)."""
    body = await _json_object(request) if request.can_read_body else {}
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be true or false", field="dry_run")
    try:
        job = await jobs.create_backfill(MongoJobs(request.config_dict[DB]), request.match_info["company_id"],
                                         start=not dry_run)
    except jobs.JobBusy as busy:
        raise Conflict("a backfill of this company is already being checked or run",
                       job=jobs.view(busy.job)) from None
    return web.json_response({"job": jobs.view(job)}, status=202)


async def _job(request: web.Request) -> dict[str, Any]:
    job = await MongoJobs(request.config_dict[DB]).get(request.match_info["company_id"], request.match_info["job_id"])
    if job is None:
        raise NotFound("no such job for this company")
    return job


@routes.get("/companies/{company_id}/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    return web.json_response({"job": jobs.view(await _job(request))})


@routes.post("/companies/{company_id}/jobs/{job_id}/start")
async def start_job(request: web.Request) -> web.Response:
    """A checked backfill runs; one still being checked runs as soon as its check ends."""
    job = await _job(request)
    store = MongoJobs(request.config_dict[DB])
    company_id = request.match_info["company_id"]
    if job["state"] == "dry_run":
        await store.start_when_checked(company_id, job["_id"])
        started = await store.get(company_id, job["_id"])
    else:
        started = await store.start(company_id, job["_id"], datetime.now(UTC))
    if started is None:
        raise Conflict(f"the job is {job['state']}, so it cannot be started", job=jobs.view(job))
    return web.json_response({"job": jobs.view(started)}, status=202)


@routes.post("/companies/{company_id}/jobs/{job_id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    job = await _job(request)
    cancelled = await MongoJobs(request.config_dict[DB]).cancel(request.match_info["company_id"], job["_id"],
                                                                datetime.now(UTC))
    if cancelled is None:
        raise Conflict(f"the job is {job['state']} already", job=jobs.view(job))
    return web.json_response({"job": jobs.view(cancelled)})
