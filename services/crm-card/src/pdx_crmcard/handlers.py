"""Result events become one activity on the deal each."""

from typing import Protocol

import structlog

from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentParked, DocumentSkipped
from pdx_crmcard.adapters.activity_log import MongoActivityLog
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from pdx_crmcard.domain import activities

log = structlog.get_logger()
Result = DocumentCreated | DocumentFailed | DocumentSkipped | DocumentParked


class ActivityWriter(Protocol):
    async def __call__(self, company_id: str, deal_id: str, subject: str, note: str) -> object: ...


async def record_result(event: Result, *, activity_log: MongoActivityLog, deal_status: MongoDealStatus,
                        write: ActivityWriter, replay_hint: str) -> None:
    if not await deal_status.record(event):
        log.info("outcome for a trigger whose draft exists; the draft stands, nothing to tell", type=event.type)
        return
    if not await activity_log.claim(event.id, event.company_id, event.deal_id):
        log.info("activity already written for this result")
        return
    if isinstance(event, DocumentCreated):
        text = activities.created(event)
    elif isinstance(event, DocumentFailed):
        text = activities.failed(event, replay_hint)
    elif isinstance(event, DocumentParked):
        text = activities.parked(event)
    else:
        text = activities.skipped(event)
    try:
        activity_id = await write(event.company_id, event.deal_id, text.subject, text.note)
    except BaseException:
        await activity_log.release(event.id)  # let the retry write it
        raise
    await activity_log.written(event.id, activity_id)
    log.info("activity written on the deal", subject=text.subject)
