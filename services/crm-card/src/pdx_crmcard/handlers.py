"""Result events become one activity on the deal each."""

from collections.abc import Callable
from typing import Protocol

import structlog

from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentParked, DocumentSkipped, DocumentUpdated
from pdx_crmcard.adapters.activity_log import MongoActivityLog
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from pdx_crmcard.domain import activities

log = structlog.get_logger()
Result = DocumentCreated | DocumentUpdated | DocumentFailed | DocumentSkipped | DocumentParked
ReplayLink = Callable[[str, str], str | None]  # (company, deal) -> a signed Replay page URL, or None


class ActivityWriter(Protocol):
    async def __call__(self, company_id: str, deal_id: str, subject: str, note: str) -> object: ...


def _no_link(company_id: str, deal_id: str) -> None:
    return None


async def record_result(event: Result, *, activity_log: MongoActivityLog, deal_status: MongoDealStatus,
                        write: ActivityWriter, replay_hint: str, replay_link: ReplayLink = _no_link) -> None:
    if not await deal_status.record(event):
        log.info("outcome for a trigger whose draft exists; the draft stands, nothing to tell", type=event.type)
        return
    if not await activity_log.claim(event.id, event.company_id, event.deal_id):
        log.info("activity already written for this result")
        return
    text = _text(event, replay_hint, replay_link)
    try:
        activity_id = await write(event.company_id, event.deal_id, text.subject, text.note)
    except BaseException:
        await activity_log.release(event.id)  # let the retry write it
        raise
    await activity_log.written(event.id, activity_id)
    log.info("activity written on the deal", subject=text.subject)


def _text(event: Result, replay_hint: str, replay_link: ReplayLink) -> activities.ActivityText:
    if isinstance(event, DocumentCreated):
        return activities.created(event)
    if isinstance(event, DocumentUpdated):
        return activities.updated(event)
    if isinstance(event, DocumentFailed):
        return activities.failed(event, replay_hint, replay_link(event.company_id, event.deal_id))
    if isinstance(event, DocumentParked):
        return activities.parked(event)
    return activities.skipped(event)
