"""The mapper's use case: a deal event in; a Xero command, a failure the salesperson sees, or nothing out."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from pdx_common import topics
from pdx_common.company_settings import CompanySettings, Trigger
from pdx_common.contracts import DealChanged, DocumentFailed
from pdx_common.http import ConnectionMissing
from pdx_mapper.domain.mapping import APP_SETTINGS, DealSnapshot, MappingProblem, build_command
from pdx_mapper.domain.triggers import entered_stage, fired_trigger

log = structlog.get_logger()


class SettingsRepository(Protocol):
    async def get(self, company_id: str) -> CompanySettings: ...


class DealReader(Protocol):
    async def read(self, company_id: str, deal_id: str) -> DealSnapshot: ...


class Publisher(Protocol):
    async def publish(self, message, topic: str, key: bytes) -> None: ...


@dataclass(frozen=True)
class Ports:
    settings_repo: SettingsRepository
    reader: DealReader
    publisher: Publisher


async def handle_deal_changed(event: DealChanged, *, settings_repo: SettingsRepository, reader: DealReader,
                              publisher: Publisher, now: datetime) -> None:
    """A deal event: the trigger it fired, if any; or a replay: exactly the triggers it names.

    Example replay (published by the gateway for a deal whose "Won" trigger failed)::

        {"type": "DealChanged", "company_id": "7001", "deal_id": "42", "action": "change",
         "event_id": "replay-5f0c...", "replay_of": "a1b2...", "replay_triggers": ["p1-s5"], ...}
    """
    ports = Ports(settings_repo, reader, publisher)
    if event.replay_triggers:
        await _replay(event, ports, now)
        return
    if entered_stage(event) is None:
        return  # most deal events are edits: no settings read, no Pipedrive call
    settings = await settings_repo.get(event.company_id)
    trigger = fired_trigger(event, settings)
    if trigger is None:
        log.info("no trigger fired", action=event.action)
        return
    await _run_trigger(event, settings, trigger, _entry_trigger_id(trigger.id, event, settings), ports, now)


async def _replay(event: DealChanged, ports: Ports, now: datetime) -> None:
    """Re-runs each named trigger with the deal as it is in Pipedrive now, whatever order its events arrived in."""
    settings = await ports.settings_repo.get(event.company_id)
    for trigger_id in event.replay_triggers:
        trigger = next((t for t in settings.triggers if t.id == trigger_id.split("@", 1)[0]), None)
        if trigger is None or trigger.makes == "none":
            switched_off = trigger is not None and trigger.action != "none"  # and so not enabled
            await ports.publisher.publish(_failed(
                event, trigger_id, "none", "mapping", "trigger_removed",
                "The trigger that made this draft is switched off in the app's settings, so the replay made nothing."
                if switched_off else
                "The stage that made this draft is no longer set to make one, so the replay made nothing.",
                f"If it should make a draft, open Triggers in {APP_SETTINGS}, tick Enabled for the trigger "
                "and save, then replay the deal."
                if switched_off else
                f"If it should make a draft, open Triggers in {APP_SETTINGS}, add a trigger for the stage "
                "and save, then replay the deal."),
                topics.DOCUMENT_RESULTS, topics.deal_key(event.company_id, event.deal_id))
            continue
        await _run_trigger(event, settings, trigger, trigger_id, ports, now)


async def _run_trigger(event: DealChanged, settings: CompanySettings, trigger: Trigger, trigger_id: str,
                       ports: Ports, now: datetime) -> None:
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    key = topics.deal_key(event.company_id, event.deal_id)
    try:
        snapshot = await ports.reader.read(event.company_id, event.deal_id)
        command = build_command(snapshot, settings, trigger, event, today)
        command = command.model_copy(update={"trigger_id": trigger_id})
    except MappingProblem as problem:
        await ports.publisher.publish(_failed(event, trigger_id, trigger.action, "mapping", problem.code,
                                              problem.message, problem.fix), topics.DOCUMENT_RESULTS, key)
        log.info("deal cannot become a draft", code=problem.code)
        return
    except ConnectionMissing as missing:
        await ports.publisher.publish(_failed(
            event, trigger_id, trigger.action, "connection", "pipedrive_not_connected",
            f"We could not read the deal from Pipedrive: Pipedrive is {missing.reason}.",
            "Reinstall or reconnect the app in Pipedrive (Settings > Apps), then replay the deal."),
            topics.DOCUMENT_RESULTS, key)
        return
    await ports.publisher.publish(command, topics.XERO_COMMANDS, topics.company_key(event.company_id))
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
