"""The mapper's use case: a deal event in; a Xero command, a failure the salesperson sees, or nothing out."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from pdx_common import topics
from pdx_common.company_settings import AnyTrigger, CompanySettings, OnDemandTrigger
from pdx_common.contracts import DealChanged, DocumentFailed
from pdx_common.http import ConnectionMissing
from pdx_mapper.domain.mapping import DealSnapshot, MappingProblem, build_command
from pdx_mapper.domain.triggers import fired_triggers, may_fire
from pdx_mapper.domain.unavailable import unavailable

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
    """A deal event: the triggers it fired (a stage entered, the deal marked won), if any; or a replay, a person's
    request or a backfill: exactly the triggers it names.

    Example (published by the gateway when a salesperson confirmed "Create draft quote" on deal 42)::

        {"type": "DealChanged", "company_id": "7001", "deal_id": "42", "action": "change",
         "event_id": "request-5f0c...", "replay_of": "a1b2...", "replay_triggers": ["manual-quote"],
         "request": "on_demand", ...}
    """
    ports = Ports(settings_repo, reader, publisher)
    if event.replay_triggers:
        await _replay(event, ports, now)
        return
    if not may_fire(event):
        return  # most deal events are edits: no settings read, no Pipedrive call
    settings = await settings_repo.get(event.company_id)
    fired = fired_triggers(event, settings)
    if not fired:
        log.info("no trigger fired", action=event.action)
    for trigger, trigger_id in fired:  # a deal moved into a trigger stage and marked won at once fires both
        await _run_trigger(event, settings, trigger, trigger_id, ports, now)


async def _replay(event: DealChanged, ports: Ports, now: datetime) -> None:
    """Re-runs each named trigger with the deal as it is in Pipedrive now, whatever order its events arrived in.
    Only a person's Replay regenerates a draft that exists; a request or a backfill leaves it alone."""
    settings = await ports.settings_repo.get(event.company_id)
    regenerate = event.request == "replay"
    for trigger_id in event.replay_triggers:
        trigger = settings.trigger_by_id(trigger_id)
        if trigger is None or trigger.makes == "none":
            message, fix = unavailable(trigger_id, trigger, event.request)
            kind = trigger.action if isinstance(trigger, OnDemandTrigger) else "none"
            await ports.publisher.publish(_failed(event, trigger_id, kind, "mapping", "trigger_removed", message,
                                                  fix),
                                          topics.DOCUMENT_RESULTS, topics.deal_key(event.company_id, event.deal_id))
            continue
        await _run_trigger(event, settings, trigger, trigger_id, ports, now, regenerate=regenerate)


async def _run_trigger(event: DealChanged, settings: CompanySettings, trigger: AnyTrigger, trigger_id: str,
                       ports: Ports, now: datetime, *, regenerate: bool = False) -> None:
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    key = topics.deal_key(event.company_id, event.deal_id)
    try:
        snapshot = await ports.reader.read(event.company_id, event.deal_id)
        command = build_command(snapshot, settings, trigger, event, today)
        command = command.model_copy(update={"trigger_id": trigger_id, "regenerate": regenerate})
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


def _failed(event: DealChanged, trigger_id: str, action: str, stage: str, code: str, message: str,
            fix: str) -> DocumentFailed:
    return DocumentFailed(company_id=event.company_id, deal_id=event.deal_id, source_event_id=event.origin_id,
                          trigger_id=trigger_id, kind=action if action in ("invoice", "quote") else None,
                          stage=stage, code=code, message=message, fix=fix)
