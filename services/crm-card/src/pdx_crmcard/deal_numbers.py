"""Xero's numbers back on the deal (opt-in per company, ``deal_fields``): whenever the read model saves a document
drafted for a deal, the deal's chosen fields get its status, amount due, number and link, and a paid invoice moves
the deal to its pipeline's paid stage, in one ``PATCH /api/v2/deals/{id}`` per distinct change.

Once per change, however often Xero reports it: the deal's last written values are kept (``deal_field_writes``, one
document per deal) and new values are claimed by compare-and-set on them, so a redelivered webhook writes nothing
while values that return to earlier ones (paid, then the payment removed) are written again. Other values seen while
a write is under way make its writer read the deal's documents again when done (the newest values are the last
written). A write that fails for a while (Pipedrive busy, a network error) releases its claim and raises, so the
caller's retry writes it; one Pipedrive refuses (a 4xx: the field was deleted, the deal is gone) is recorded as
failed with the reason and logged, and the same values are not tried again.

Never a trigger: our PATCH's webhook says ``change_source: api``, a paid stage cannot be a stage that makes a draft
(the settings refuse it), and the mapper ignores our move into it.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from pdx_common.company_settings import CompanySettings
from pdx_common.http import ApiError
from pdx_crmcard.adapters.deal_field_writes import Claim, MongoDealFieldWrites
from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_crmcard.domain import deal_numbers

log = structlog.get_logger()
SettingsOf = Callable[[str], Awaitable[CompanySettings | None]]
UpdateDeal = Callable[[str, str, dict[str, Any]], Awaitable[object]]  # (company, deal, PATCH body)
AGAIN = 5  # writes in one go while other values keep arriving meanwhile (each is the deal's newest values)


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
        for _ in range(AGAIN):
            shown = deal_numbers.headline(await self._docs.for_deal(company_id, doc["tenant_id"], deal_id)) or doc
            body = deal_numbers.values(shown, settings.deal_fields)
            if not body:
                return
            claim = await self._writes.claim(company_id, deal_id, xero_id=shown["xero_id"], body=body,
                                             digest=deal_numbers.digest(body))
            if claim is None:
                return
            with structlog.contextvars.bound_contextvars(deal_id=deal_id, number=shown.get("number")):
                if not await self._write(claim):
                    return
        log.warning("the deal's documents kept changing while its fields were written; the next change writes them",
                    deal_id=deal_id)

    async def _write(self, claim: Claim) -> bool:
        """True when other values were seen meanwhile: read the deal's documents again."""
        body = claim.body
        try:
            await self._update_deal(claim.company_id, claim.deal_id, body)
        except ApiError as exc:
            if exc.transient:
                await self._writes.release(claim)
                raise
            reason = refusal(exc)
            log.error("pipedrive refused the deal fields; recorded", status=exc.status, reason=reason)
            return await self._writes.refused(claim, reason)
        except BaseException:
            await self._writes.release(claim)  # the retry writes it
            raise
        log.info("xero numbers written on the deal", fields=len(body.get("custom_fields", {})),
                 stage_id=body.get("stage_id"))
        return await self._writes.written(claim)


def refusal(exc: ApiError) -> str:
    """Pipedrive's own words for a refused write (``{"success": false, "error": "..."}``), for the settings page."""
    said = exc.body.get("error") if isinstance(exc.body, dict) else exc.body
    return f"Pipedrive refused the update of the deal ({exc.status}): {str(said or 'no reason given')[:300]}"
