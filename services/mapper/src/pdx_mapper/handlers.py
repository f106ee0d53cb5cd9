"""The mapper's use case: a deal event in; a Xero command, a failure the salesperson sees, or nothing out."""

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import DealChanged, DocumentFailed
from pdx_common.http import ConnectionMissing
from pdx_mapper.domain.mapping import DealSnapshot, MappingProblem, build_command
from pdx_mapper.domain.triggers import entered_stage, fired_trigger

log = structlog.get_logger()


class SettingsRepository(Protocol):
    async def get(self, company_id: str) -> CompanySettings: ...


class DealReader(Protocol):
    async def read(self, company_id: str, deal_id: str) -> DealSnapshot: ...


class Publisher(Protocol):
    async def publish(self, message, topic: str, key: bytes) -> None: ...


async def handle_deal_changed(event: DealChanged, *, settings_repo: SettingsRepository, reader: DealReader,
                              publisher: Publisher, now: datetime) -> None:
    if entered_stage(event) is None:
        return  # most deal events are edits: no settings read, no Pipedrive call
    settings = await settings_repo.get(event.company_id)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    trigger = fired_trigger(event, settings)
    if trigger is None:
        log.info("no trigger fired", action=event.action)
        return
    trigger_id = _entry_trigger_id(trigger.id, event, settings)
    key = topics.deal_key(event.company_id, event.deal_id)
    try:
        snapshot = await reader.read(event.company_id, event.deal_id)
        command = build_command(snapshot, settings, trigger, event, today)
        command = command.model_copy(update={"trigger_id": trigger_id})
    except MappingProblem as problem:
        await publisher.publish(_failed(event, trigger_id, trigger.action, "mapping", problem.code, problem.message,
                                        problem.fix), topics.DOCUMENT_RESULTS, key)
        log.info("deal cannot become a draft", code=problem.code)
        return
    except ConnectionMissing as missing:
        await publisher.publish(_failed(
            event, trigger_id, trigger.action, "connection", "pipedrive_not_connected",
            f"We could not read the deal from Pipedrive: Pipedrive is {missing.reason}.",
            "Reinstall or reconnect the app in Pipedrive (Settings > Apps), then replay the deal."),
            topics.DOCUMENT_RESULTS, key)
        return
    await publisher.publish(command, topics.XERO_COMMANDS, topics.company_key(event.company_id))
    log.info("command published", command_id=command.id, kind=command.type, trigger_id=trigger_id)


def _entry_trigger_id(trigger_id: str, event: DealChanged, settings: CompanySettings) -> str:
    """With ``new_draft`` on re-entry each entry into the stage is its own trigger; by default all entries are one."""
    if settings.on_reentry == "new_draft":
        entered_at = (event.data or {}).get("stage_change_time") or event.event_timestamp or event.event_id
        return f"{trigger_id}@{entered_at}"
    return trigger_id


def _failed(event: DealChanged, trigger_id: str, action: str, stage: str, code: str, message: str,
            fix: str) -> DocumentFailed:
    return DocumentFailed(company_id=event.company_id, deal_id=event.deal_id, source_event_id=event.origin_id,
                          trigger_id=trigger_id, kind=action if action in ("invoice", "quote") else None,
                          stage=stage, code=code, message=message, fix=fix)
