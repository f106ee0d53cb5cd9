"""What the gateway does with an authenticated, validated webhook."""

import structlog

from pdx_common import topics
from pdx_common.contracts import DealChanged, new_id, utcnow
from pdx_gateway.domain.webhook import PipedriveWebhook, to_deal_changed
from pdx_gateway.errors import NotFound
from pdx_gateway.ports import Publisher, SeenEvents, StageEvents

log = structlog.get_logger()


async def accept_deal_webhook(hook: PipedriveWebhook, publisher: Publisher, seen: SeenEvents,
                              stage_events: StageEvents) -> str:
    """Publish the deal event once per Pipedrive event id. Returns "accepted", "duplicate" or "ignored"."""
    if hook.meta.entity != "deal":
        return "ignored"
    event = to_deal_changed(hook)
    if not await seen.claim(event.company_id, event.event_id, event.deal_id):
        log.info("webhook retry already published", event_id=event.event_id, attempt=event.attempt)
        return "duplicate"
    try:
        await publisher.publish(event, topics.DEAL_EVENTS, topics.deal_key(event.company_id, event.deal_id))
    except BaseException:
        # Released, so the 5xx this becomes makes Pipedrive's next attempt publish it.
        await seen.release(event.company_id, event.event_id)
        raise
    if event.action == "create" or "stage_id" in (event.previous or {}):
        await stage_events.remember_stage_event(event)
    log.info("deal event published", event_id=event.event_id, action=event.action)
    return "accepted"


async def replay_deal(company_id: str, deal_id: str, publisher: Publisher, stage_events: StageEvents) -> DealChanged:
    """Re-publish the deal's last stage event as a new event, so a fixed deal goes through again."""
    last = await stage_events.last_stage_event(company_id, deal_id)
    if last is None:
        raise NotFound(f"no stage move of deal {deal_id} is known, so there is nothing to replay",
                       fix="Move the deal into its trigger stage in Pipedrive instead.")
    replay = last.model_copy(update={"id": new_id(), "occurred_at": utcnow(), "replay_of": last.id})
    await publisher.publish(replay, topics.DEAL_EVENTS, topics.deal_key(company_id, deal_id))
    log.info("deal replayed", replay_of=last.id, event_id=replay.event_id)
    return replay
