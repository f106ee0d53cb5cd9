"""Installing and uninstalling the Pipedrive app for a company."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from pdx_common.http import ApiError
from pdx_common.parking import dead_letter_parked
from pdx_common.pipedrive import PipedriveClient
from pdx_gateway.connector import Connector
from pdx_gateway.erase import ErasureRunning, MongoErasures, schedule_after_uninstall
from pdx_gateway.errors import Unavailable
from pdx_gateway.record_webhooks import (
    delete_all_best_effort,
    delete_webhook,
    new_credentials,
    register_all,
    webhooks_lease,
)

log = structlog.get_logger()


@dataclass(frozen=True)
class Installed:
    company_id: str
    company_domain: str | None
    settings_created: bool


async def install_pipedrive(c: Connector, code: str, erasures: MongoErasures) -> Installed:
    """Exchange the code, store the tokens encrypted, register the webhooks (deal, person, organization, product)
    with fresh per-company Basic credentials, and store default settings (no triggers) for a company that has none.
    A company back within the grace period after an uninstall keeps its history: its erasure is cancelled."""
    tokens = await c.pipedrive.exchange(code)
    me = await c.pipedrive.me(tokens)
    company_id, domain = str(me["company_id"]), me.get("company_domain")
    with structlog.contextvars.bound_contextvars(company_id=company_id):
        try:
            cancelled = await erasures.cancel(company_id)  # first: a purge must not erase what this install saves
        except ErasureRunning:
            raise Unavailable("The app's earlier data for your company is being erased right now. Install the app "
                              "again in a few minutes.") from None
        # Whose tokens these are: Pipedrive apps are installed per user, and only this user's uninstall ends the
        # company's installation (another user who signed in to a deal link may remove the app for themselves).
        await c.store.save_tokens("pipedrive", company_id, tokens, company_domain=domain, broken_reason=None,
                                  installer_user_id=str(me["id"]) if me.get("id") is not None else None)
        await replace_webhooks(c, c.pipedrive_api(company_id))
        created = await c.company_settings.create_default(company_id)
        log.info("pipedrive installed", company_domain=domain, settings_created=created, erasure_cancelled=cancelled)
    return Installed(company_id, domain, created)


async def replace_webhooks(c: Connector, api: PipedriveClient) -> None:
    """The company's four webhooks (deal, person, organization, product) with fresh credentials. The old webhooks
    (if we know them) go first, so no event arrives with credentials that no longer work; the new credentials are
    stored before the webhooks exist, so their first events already authenticate."""
    company_id = api.company_id
    async with webhooks_lease(c, company_id):
        await _replace_webhooks(c, api, company_id)


async def _replace_webhooks(c: Connector, api: PipedriveClient, company_id: str) -> None:
    old = [*(await c.credentials.webhook_ids(company_id)).values(), *await c.credentials.retired(company_id)]
    await c.credentials.retire(company_id, old)  # remembered until deleted: a failure here leaves none behind
    for webhook_id in old:
        await delete_webhook(api, webhook_id)
        await c.credentials.deleted(company_id, webhook_id)
    user, password = new_credentials()
    await c.credentials.set(company_id, user, password)
    await register_all(c, api, user, password)
    log.info("pipedrive webhooks replaced", replaced=old)


async def uninstall_pipedrive(c: Connector, company_id: str, erasures: MongoErasures) -> datetime:
    """Forget the company: its Pipedrive webhooks (deleted while its tokens still work, best-effort: Pipedrive
    removes an app's webhooks itself too), both connections (the Xero grant revoked when Xero answers), the webhook
    credentials and the settings; the rest of its personal data is erased after the grace period (returned: when)."""
    with structlog.contextvars.bound_contextvars(company_id=company_id):
        await delete_all_best_effort(c, company_id)
        await _revoke_xero_if_possible(c, company_id)
        await c.connections.delete("xero", company_id)
        await c.connections.delete("pipedrive", company_id)
        await c.credentials.forget(company_id)
        await c.company_settings.delete(company_id)
        moved = await dead_letter_parked(company_id, c.parked, c.publisher, "the company uninstalled the app while "
                                         "this draft waited for Xero to be reconnected")
        log.info("pipedrive uninstalled", parked_dead_lettered=moved)
        return await schedule_after_uninstall(erasures, company_id, timedelta(days=c.settings.erase_after_days))


async def _revoke_xero_if_possible(c: Connector, company_id: str) -> None:
    doc = await c.store.get("xero", company_id)
    if doc is None or await c.connections.grant_shared(company_id, doc.get("xero_user_id")):
        return  # another company's connection rests on the same Xero user's grant: revoking would end it too
    try:
        await c.xero.revoke(c.store.decrypt(doc, "refresh_token"))
    except (ApiError, ValueError, KeyError) as exc:
        # The uninstall goes on: the company asked for its data to go; the grant lapses unused after 60 days.
        log.warning("xero grant not revoked on uninstall", error=str(exc)[:300])
