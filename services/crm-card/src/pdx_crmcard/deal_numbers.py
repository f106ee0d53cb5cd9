"""Xero's numbers back on the deal (opt-in per company, ``deal_fields``): whenever the read model saves a document
drafted for a deal, the deal's chosen fields get its status, amount due, number and link, and a paid invoice moves
the deal to its pipeline's paid stage, in one ``PATCH /api/v2/deals/{id}`` per distinct change.

Exactly once however often Xero reports the change: the values are claimed first (``deal_field_writes``); a write
that fails for a while (Pipedrive busy, a network error) releases its claim and raises, so the caller's retry writes
it; one Pipedrive refuses (a 4xx: the field was deleted, the deal is gone) is recorded as failed with the reason and
logged, and not tried again. Never a trigger: our PATCH's webhook says ``change_source: api``, a paid stage cannot be
a stage that makes a draft (the settings refuse it), and the mapper ignores our move into it.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from pdx_common.company_settings import CompanySettings
from pdx_common.http import ApiError
from pdx_crmcard.adapters.deal_field_writes import MongoDealFieldWrites
from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_crmcard.domain import deal_numbers

log = structlog.get_logger()
SettingsOf = Callable[[str], Awaitable[CompanySettings | None]]
UpdateDeal = Callable[[str, str, dict[str, Any]], Awaitable[object]]  # (company, deal, PATCH body)


class DealNumbers:
    def __init__(self, settings_of: SettingsOf, docs: MongoXeroDocuments, writes: MongoDealFieldWrites,
                 update_deal: UpdateDeal) -> None:
        self._settings_of, self._docs, self._writes, self._update_deal = settings_of, docs, writes, update_deal

    async def tell(self, doc: dict[str, Any]) -> None:
        """``doc`` was just saved in the read model; write what its deal should now show, if that is new."""
        if not doc.get("deal_id"):
            return
        company_id, deal_id = doc["company_id"], doc["deal_id"]
        settings = await self._settings_of(company_id)
        if settings is None or not settings.deal_fields.enabled:
            return
        shown = deal_numbers.headline(await self._docs.for_deal(company_id, doc["tenant_id"], deal_id)) or doc
        body = deal_numbers.values(shown, settings.deal_fields)
        if not body:
            return
        key = deal_numbers.claim_key(company_id, shown["xero_id"], body)
        if not await self._writes.claim(key, company_id=company_id, deal_id=deal_id, xero_id=shown["xero_id"],
                                        body=body):
            return
        with structlog.contextvars.bound_contextvars(deal_id=deal_id, number=shown.get("number")):
            await self._write(key, company_id, deal_id, body)

    async def _write(self, key: str, company_id: str, deal_id: str, body: dict[str, Any]) -> None:
        try:
            await self._update_deal(company_id, deal_id, body)
        except ApiError as exc:
            if exc.transient:
                await self._writes.release(key)
                raise
            reason = refusal(exc)
            await self._writes.failed(key, reason)
            log.error("pipedrive refused the deal fields; recorded", status=exc.status, reason=reason)
            return
        except BaseException:
            await self._writes.release(key)  # the retry writes it
            raise
        await self._writes.written(key)
        log.info("xero numbers written on the deal", fields=len(body.get("custom_fields", {})),
                 stage_id=body.get("stage_id"))


def refusal(exc: ApiError) -> str:
    """Pipedrive's own words for a refused write (``{"success": false, "error": "..."}``), for the settings page."""
    said = exc.body.get("error") if isinstance(exc.body, dict) else exc.body
    return f"Pipedrive refused the update of the deal ({exc.status}): {str(said or 'no reason given')[:300]}"
