"""What the gateway does with an authenticated, validated webhook, and replays."""

import asyncio
import time

import structlog

from pdx_common import topics
from pdx_common.contracts import DealChanged, new_id, utcnow
from pdx_gateway.domain.webhook import PipedriveWebhook, to_deal_changed
from pdx_gateway.errors import NotFound, NothingToReplay, Unavailable
from pdx_gateway.ports import Publisher, SeenEvents, StageEvents

log = structlog.get_logger()
BUSY_POLL = 0.05


async def accept_deal_webhook(hook: PipedriveWebhook, publisher: Publisher, seen: SeenEvents,
                              stage_events: StageEvents, *, busy_wait: float = 10.0) -> str:
    """Publish the deal event once per Pipedrive event id. Returns "accepted", "duplicate" or "ignored".

    "duplicate" only once the event is durably published: until then a concurrent retry waits for the first
    delivery's outcome, and a claim whose owner died is taken over."""
    if hook.meta.entity != "deal":
        return "ignored"
    event = to_deal_changed(hook)
    owner = new_id()
    if await _claim(seen, event, owner, busy_wait) == "published":
        log.info("webhook retry already published", event_id=event.event_id, attempt=event.attempt)
        return "duplicate"
    try:
        if event.action == "create" or {"stage_id", "status"} & set(event.previous or {}):  # moved, won, reopened
            await stage_events.remember_stage_event(event)
        await publisher.publish(event, topics.DEAL_EVENTS, topics.deal_key(event.company_id, event.deal_id))
    except BaseException:
        # Released, so the 5xx this becomes makes Pipedrive's next attempt publish it (if the release fails too, the
        # lease runs out and the next attempt takes the claim over).
        await asyncio.shield(seen.release(event.company_id, event.event_id, owner))
        raise
    await seen.published(event.company_id, event.event_id, owner)
    log.info("deal event published", event_id=event.event_id, action=event.action)
    return "accepted"


async def _claim(seen: SeenEvents, event: DealChanged, owner: str, busy_wait: float) -> str:
    deadline = time.monotonic() + busy_wait
    while True:
        claim = await seen.claim(event.company_id, event.event_id, event.deal_id, owner)
        if claim != "busy":
            return claim
        if time.monotonic() >= deadline:
            raise Unavailable("another delivery of this event is being published; try again shortly",
                              retry_after=5)
        await asyncio.sleep(BUSY_POLL)  # another delivery of the same event is publishing it right now


async def replay_deal(company_id: str, deal_id: str, publisher: Publisher, stage_events: StageEvents) -> DealChanged:
    """Re-run what failed for the deal, with the deal as it is in Pipedrive now.

    Each trigger whose last outcome failed is re-run by id (the mapper reads the deal afresh), whatever order
    Pipedrive's events arrived in. A failure that came before any trigger was known re-runs the deal's newest stage
    event (by Pipedrive's own timestamps)."""
    failed = await stage_events.failed_triggers(company_id, deal_id)
    if not failed:
        raise NothingToReplay(f"deal {deal_id} has no failed sync, so there is nothing to replay",
                              fix="A replay re-runs a failed attempt. To make a draft, move the deal into its "
                                  "trigger stage in Pipedrive.")
    last = await stage_events.last_stage_event(company_id, deal_id)
    triggers = tuple(t for t in failed if t is not None)
    if last is None and not triggers:
        raise NotFound(f"no stage move of deal {deal_id} is known, so there is nothing to replay",
                       fix="Move the deal into its trigger stage in Pipedrive instead.")
    replay = _replay_event(company_id, deal_id, last, triggers)
    await publisher.publish(replay, topics.DEAL_EVENTS, topics.deal_key(company_id, deal_id))
    log.info("deal replayed", replay_of=replay.replay_of, triggers=triggers, event_id=replay.event_id)
    return replay


def _replay_event(company_id: str, deal_id: str, last: DealChanged | None, triggers: tuple[str, ...]) -> DealChanged:
    replay_id = new_id()
    if triggers:
        # Only the trigger ids matter: the mapper reads the deal as it is now, not as an old event described it.
        return DealChanged(id=replay_id, company_id=company_id, deal_id=deal_id, event_id=f"replay-{replay_id}",
                           action="change", replay_of=last.id if last else replay_id, replay_triggers=triggers)
    assert last is not None
    return last.model_copy(update={"id": replay_id, "occurred_at": utcnow(), "replay_of": last.id})
