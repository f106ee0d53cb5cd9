"""Each document result is metered at most once: only DocumentCreated counts, once per draft. A DocumentUpdated (a
Replay regenerated an existing draft in place) is the same draft again, so it is never billed."""

from typing import Protocol

import structlog

from pdx_common.contracts import (
    DocumentCreated,
    DocumentFailed,
    DocumentParked,
    DocumentSkipped,
    DocumentUpdated,
)
from pdx_metering.domain.usage import BillableDraft, billable

log = structlog.get_logger()
Result = DocumentCreated | DocumentUpdated | DocumentFailed | DocumentSkipped | DocumentParked


class MeteredDrafts(Protocol):
    async def record(self, draft: BillableDraft) -> bool: ...


async def meter_result(result: Result, *, drafts: MeteredDrafts) -> bool:
    """True when ``result`` made a draft billable now. Updated, failed, skipped and parked results are never billed
    (``DocumentUpdated`` is not a ``DocumentCreated``: both are ``DocumentWritten``)."""
    if not isinstance(result, DocumentCreated):
        return False
    draft = billable(result)
    new = await drafts.record(draft)
    log.info("draft metered" if new else "draft already metered", kind=draft.kind, month=draft.month,
             xero_id=draft.xero_id, command_id=result.command_id)
    return new
