"""A company's Pipedrive webhooks: four (deal, person, organization, product), one set of Basic credentials.

An install registers all four (``installs.install_pipedrive``). A company installed before customers and products
were kept in sync has only the deal webhook: the gateway, when it starts, registers the missing ones for every such
company (``add_missing_context``, a background task), and an operator can do it for one company now
(``POST /api/companies/7001/webhooks``, CLI ``webhooks --company 7001``), which also checks that Pipedrive still
has them.

The webhooks' password is stored only as a digest, so the new webhooks cannot be given the deal webhook's
credentials: all four are registered with new credentials, and the old deal webhook is deleted only after that. The
old credentials keep working until it is deleted, and ``ROTATION_GRACE`` longer (Pipedrive retries a delivery
minutes later), so no deal event is lost; an event both webhooks deliver is published twice under two event ids,
which the mapper's ledger makes one draft anyway. Replaced webhooks are remembered (``retired_webhook_ids``) until
they are deleted, so a crash leaves none behind: the next start deletes them.

Each company's last outcome is noted on its credentials doc (``webhooks_state``: ok, or the failure's reason and
when), so Customers & products can warn the admin that Pipedrive is not sending changes, and retry
(``ensure_webhooks(check_pipedrive=True)``, as ``POST /api/companies/{id}/webhooks``).

Example::

    outcome = await ensure_webhooks(connector, "7001", check_pipedrive=True)
    # Outcome(registered=True, webhooks={"deal": 21, "person": 22, "organization": 23, "product": 24}, deleted=1)
"""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.pipedrive import PipedriveClient
from pdx_gateway.connector import Connector
from pdx_gateway.domain.webhook import RECORD_ENTITIES
from pdx_gateway.errors import Conflict, NotFound, Unavailable

log = structlog.get_logger()

ENTITIES = ("deal", *RECORD_ENTITIES)
ROTATION_GRACE = timedelta(hours=1)  # Pipedrive retries a delivery 3, 30 and 150 s later
LEASE_SECONDS = 120.0
UNREACHABLE = (ApiError, ConnectionMissing, aiohttp.ClientError, TimeoutError)

# False: the gateway does not look for companies missing webhooks when it starts (tests that count Pipedrive calls).
ADD_MISSING_ON_START = web.AppKey("record_webhooks_on_start", bool)


@dataclass(frozen=True)
class Outcome:
    registered: bool  # new webhooks (and credentials) were registered
    webhooks: dict[str, int | str]  # entity -> Pipedrive webhook id
    deleted: int  # replaced webhooks deleted in Pipedrive

    def as_json(self) -> dict[str, Any]:
        return {"registered": self.registered, "webhooks": self.webhooks, "deleted": self.deleted}


class WebhooksBusy(Conflict):
    """Another gateway is changing this company's webhooks right now."""


def new_credentials() -> tuple[str, str]:
    return f"pdx-{secrets.token_hex(8)}", secrets.token_urlsafe(32)


async def register_all(c: Connector, api: PipedriveClient, user: str, password: str) -> dict[str, int | str]:
    """The four webhooks with these credentials, each id remembered as soon as Pipedrive gives it."""
    company_id, ids = api.company_id, {}
    url = c.public(f"/webhooks/pipedrive/{company_id}")
    for entity in ENTITIES:
        hook = await api.register_webhook(url, user, password, entity)
        await c.credentials.remember_webhook(company_id, hook["id"], entity)
        ids[entity] = hook["id"]
    log.info("pipedrive webhooks registered", webhooks=ids)
    await c.credentials.note_webhooks(company_id, None)
    return ids


def reason_of(exc: BaseException) -> str:
    """Why the webhooks could not be registered, in words for the admin."""
    if isinstance(exc, ConnectionMissing):
        return f"the app's Pipedrive connection is {exc.reason}"
    if isinstance(exc, ApiError):
        if exc.status in (401, 403):
            return f"Pipedrive refused the app's request to add them ({exc.status})"
        return f"Pipedrive did not add them (it answered {exc.status})"
    return "Pipedrive did not answer"


async def delete_webhook(api: PipedriveClient, webhook_id: int | str) -> None:
    """Gone already (404, 410) is as good as deleted."""
    try:
        await api.request("DELETE", f"/api/v1/webhooks/{webhook_id}")
    except ApiError as exc:
        if exc.status not in (404, 410):
            raise
        log.info("pipedrive webhook already gone", webhook_id=webhook_id)


async def delete_retired(c: Connector, api: PipedriveClient) -> int:
    """Replaced webhooks deleted in Pipedrive; then their credentials get their last hour."""
    retired = await c.credentials.retired(api.company_id)
    for webhook_id in retired:
        await delete_webhook(api, webhook_id)
        await c.credentials.deleted(api.company_id, webhook_id)
    await c.credentials.settle(api.company_id, ROTATION_GRACE)
    return len(retired)


async def _rotate(c: Connector, api: PipedriveClient) -> dict[str, int | str]:
    company_id = api.company_id
    old = list((await c.credentials.webhook_ids(company_id)).values())
    user, password = new_credentials()
    if not await c.credentials.rotate(company_id, user, password, old):
        raise NotFound(f"company {company_id} is not installed")
    return await register_all(c, api, user, password)


async def _all_in_pipedrive(c: Connector, api: PipedriveClient, ids: dict[str, int | str]) -> bool:
    """Whether Pipedrive still has each of our webhooks (an admin may have deleted one in Pipedrive's settings)."""
    url = c.public(f"/webhooks/pipedrive/{api.company_id}")
    listed = await api.request("GET", "/api/v1/webhooks") or []
    alive = {(str(h.get("id")), h.get("event_object")) for h in listed
             if isinstance(h, dict) and h.get("subscription_url") == url and h.get("is_active", 1)}
    return all((str(ids[entity]), entity) in alive for entity in ENTITIES)


@asynccontextmanager
async def webhooks_lease(c: Connector, company_id: str, *, wait: float = 30.0) -> AsyncIterator[None]:
    """An install's hold on the company's webhooks (stored or not yet), so the gateways' round for companies
    installed before never registers beside it; it waits for a round already at the company to finish."""
    owner, deadline = secrets.token_hex(8), time.monotonic() + wait
    while not await c.credentials.take_webhooks_lease(company_id, owner, LEASE_SECONDS, create=True):
        if time.monotonic() >= deadline:
            raise Unavailable("the company's Pipedrive webhooks are being registered right now; install the app "
                              "again in a minute")
        await asyncio.sleep(0.2)
    try:
        yield
    finally:
        await asyncio.shield(c.credentials.release_webhooks_lease(company_id, owner))


async def ensure_webhooks(c: Connector, company_id: str, *, check_pipedrive: bool,
                          owner: str | None = None) -> Outcome:
    """Register the company's webhooks anew unless all four are known (and, with ``check_pipedrive``, still in
    Pipedrive), then delete the replaced ones. Idempotent; one gateway at a time per company (``WebhooksBusy``)."""
    owner = owner or secrets.token_hex(8)
    if not await c.credentials.installed(company_id):
        raise NotFound(f"company {company_id} is not installed", fix="Install the app in Pipedrive first.")
    if not await c.credentials.take_webhooks_lease(company_id, owner, LEASE_SECONDS):
        raise WebhooksBusy("another gateway is registering this company's webhooks right now; try again in a "
                           "minute")
    try:
        try:
            await c.pipedrive_tokens().token(company_id)  # not connected: ConnectionMissing before anything changes
            api = c.pipedrive_api(company_id)
            ids = await c.credentials.webhook_ids(company_id)
            complete = set(ENTITIES) <= ids.keys()
            if complete and check_pipedrive:
                complete = await _all_in_pipedrive(c, api, ids)
            if not complete:
                ids = await _rotate(c, api)
        except UNREACHABLE as exc:  # noted for Customers & products: Pipedrive is not sending all changes
            await asyncio.shield(c.credentials.note_webhooks(company_id, reason_of(exc)))
            raise
        await c.credentials.note_webhooks(company_id, None)  # all four in place (deleting old ones may still fail)
        return Outcome(not complete, ids, await delete_retired(c, api))
    finally:
        await asyncio.shield(c.credentials.release_webhooks_lease(company_id, owner))


async def delete_all_best_effort(c: Connector, company_id: str) -> None:
    """At uninstall, before the tokens are forgotten: each of the company's webhooks deleted, a failure only logged
    (Pipedrive may have removed them, and the tokens with them, already)."""
    ids = [*(await c.credentials.webhook_ids(company_id)).values(), *await c.credentials.retired(company_id)]
    api = PipedriveClient(c.session, c.pipedrive_tokens(), company_id, base_url=c.settings.pipedrive_api_url,
                          timeout=5.0)
    for webhook_id in ids:
        try:
            await delete_webhook(api, webhook_id)
        except (*UNREACHABLE, KeyError, ValueError) as exc:
            log.warning("pipedrive webhook not deleted at uninstall", webhook_id=webhook_id, error=str(exc)[:300])
            return  # the same reason would refuse the others: no more calls


# --- on start -----------------------------------------------------------------------------------------------------

async def add_missing(c: Connector, stopping: asyncio.Event) -> dict[str, str]:
    """One round over the installed companies missing webhooks; each company's outcome (``registered``,
    ``unchanged``, ``busy`` or ``failed``). Stops between companies once ``stopping`` is set."""
    done: dict[str, str] = {}
    for company_id in await c.credentials.lacking_webhooks(ENTITIES):
        if stopping.is_set():
            break
        with structlog.contextvars.bound_contextvars(company_id=company_id):
            done[company_id] = await _add_for(c, company_id)
    if done:
        log.info("missing pipedrive webhooks looked at", companies=done)
    return done


async def _add_for(c: Connector, company_id: str) -> str:
    try:
        outcome = await ensure_webhooks(c, company_id, check_pipedrive=False)
    except (WebhooksBusy, NotFound):
        return "busy"  # another gateway does it, or the company uninstalled meanwhile
    except UNREACHABLE as exc:
        log.warning("pipedrive webhooks not registered; the next start (or the CLI's webhooks) tries again",
                    error=str(exc)[:300])
        return "failed"
    return "registered" if outcome.registered else "unchanged"


async def add_missing_context(app: web.Application) -> AsyncIterator[None]:
    """When the gateway starts, one round of ``add_missing`` in the background. Stopping the gateway lets the company
    in flight finish (never cancelling a store operation: a cancelled one that opens a connection leaves its socket
    unclosed), then the round ends."""
    from pdx_gateway.keys import CONNECTOR

    connector = app.get(CONNECTOR)
    stopping = asyncio.Event()
    task = None
    if connector is not None and app.get(ADD_MISSING_ON_START, True):
        task = asyncio.create_task(_round(connector, stopping), name="add-missing-webhooks")
    yield
    stopping.set()
    if task is not None:
        await task


async def _round(c: Connector, stopping: asyncio.Event) -> None:
    try:
        await add_missing(c, stopping)
    except Exception:
        log.exception("looking for companies missing pipedrive webhooks failed; the next start tries again")
