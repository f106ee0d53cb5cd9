"""What the gateway does with an authenticated, validated webhook, and replays."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from pdx_common import topics
from pdx_common.contracts import DealChanged, new_id, utcnow
from pdx_gateway.domain.webhook import RECORD_ENTITIES, PipedriveWebhook, to_deal_changed, to_record_changed
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

    async def publish() -> None:
        if event.action == "create" or {"stage_id", "status"} & set(event.previous or {}):  # moved, won, reopened
            await stage_events.remember_stage_event(event)
        await publisher.publish(event, topics.DEAL_EVENTS, topics.deal_key(event.company_id, event.deal_id))

    if not await _publish_once(seen, event.company_id, event.event_id, event.deal_id, publish, busy_wait):
        log.info("webhook retry already published", event_id=event.event_id, attempt=event.attempt)
        return "duplicate"
    log.info("deal event published", event_id=event.event_id, action=event.action)
    return "accepted"


async def accept_record_webhook(hook: PipedriveWebhook, publisher: Publisher, seen: SeenEvents, *,
                                busy_wait: float = 10.0) -> str:
    """Publish a person's, organisation's or product's change (``RecordChanged`` on ``RECORD_EVENTS``, keyed by
    company) once per Pipedrive event id, with the deals' claims. Returns "accepted", "duplicate" or "ignored"."""
    if hook.meta.entity not in RECORD_ENTITIES:
        return "ignored"
    event = to_record_changed(hook)

    async def publish() -> None:
        await publisher.publish(event, topics.RECORD_EVENTS, topics.company_key(event.company_id))

    if not await _publish_once(seen, event.company_id, event.event_id, event.entity_id, publish, busy_wait):
        log.info("webhook retry already published", event_id=event.event_id, attempt=hook.meta.attempt)
        return "duplicate"
    log.info("record event published", event_id=event.event_id, entity=event.entity, action=event.action)
    return "accepted"


async def _publish_once(seen: SeenEvents, company_id: str, event_id: str, subject_id: str,
                        publish: Callable[[], Awaitable[None]], busy_wait: float) -> bool:
    """Run ``publish`` under the event's claim; False when a delivery before this one already published it."""
    owner = new_id()
    if await _claim(seen, company_id, event_id, subject_id, owner, busy_wait) == "published":
        return False
    try:
        await publish()
    except BaseException:
        # Released, so the 5xx this becomes makes Pipedrive's next attempt publish it (if the release fails too, the
        # lease runs out and the next attempt takes the claim over).
        await asyncio.shield(seen.release(company_id, event_id, owner))
        raise
    await seen.published(company_id, event_id, owner)
    return True


async def _claim(seen: SeenEvents, company_id: str, event_id: str, subject_id: str, owner: str,
                 busy_wait: float) -> str:
    deadline = time.monotonic() + busy_wait
    while True:
        claim = await seen.claim(company_id, event_id, subject_id, owner)
        if claim != "busy":
            return claim
        if time.monotonic() >= deadline:
            raise Unavailable("another delivery of this event is being published; try again shortly",
                              retry_after=5)
        await asyncio.sleep(BUSY_POLL)  # another delivery of the same event is publishing it right now


async def replay_deal(company_id: str, deal_id: str, publisher: Publisher, stage_events: StageEvents, *,
                      regenerate: bool = False, request_id: str | None = None,
                      user_id: str | None = None) -> DealChanged:
    """Re-run what failed for the deal, with the deal as it is in Pipedrive now; with ``regenerate`` (a person's
    Replay from the deal) also regenerate each draft the deal's triggers made, in place while it is still a draft.

    One event names every trigger (``request="replay"``, so the mapper marks the commands ``regenerate``); the
    mapper reads the deal afresh, whatever order Pipedrive's events arrived in. Waiting (parked) triggers resume by
    themselves and skipped ones made nothing: neither is replayed. A failure that came before any trigger was known
    re-runs the deal's newest stage event (by Pipedrive's own timestamps). ``request_id`` (a confirmed form's nonce)
    makes the event's id, so a retried request publishes the same event::

        await replay_deal("7001", "42", publisher, stage_events, regenerate=True, request_id="5f0c...")
        # DealChanged(event_id="replay-5f0c...", replay_triggers=("p1-s5", "p1-won"), request="replay", ...)
    """
    failed = await stage_events.failed_triggers(company_id, deal_id)
    created = await stage_events.created_triggers(company_id, deal_id) if regenerate else []
    if not failed and not created:
        raise NothingToReplay(
            f"deal {deal_id} has no failed sync{' and no draft' if regenerate else ''}, so there is nothing to "
            "replay", fix="A replay re-runs a failed attempt. To make a draft, move the deal into its trigger stage "
                          "in Pipedrive.")
    last = await stage_events.last_stage_event(company_id, deal_id)
    triggers = tuple(dict.fromkeys([*(t for t in failed if t is not None), *created]))
    if last is None and not triggers:
        raise NotFound(f"no stage move of deal {deal_id} is known, so there is nothing to replay",
                       fix="Move the deal into its trigger stage in Pipedrive instead.")
    replay = _replay_event(company_id, deal_id, last, triggers, request_id or new_id())
    if user_id is not None:  # who pressed Replay on the deal (the logs say so)
        replay = replay.model_copy(update={"pipedrive_user_id": user_id})
    await publisher.publish(replay, topics.DEAL_EVENTS, topics.deal_key(company_id, deal_id))
    log.info("deal replayed", replay_of=replay.replay_of, triggers=triggers, event_id=replay.event_id,
             regenerate=regenerate)
    return replay


async def request_drafts(company_id: str, deal_id: str, trigger_id: str, publisher: Publisher, *,
                         request_id: str, user_id: str | None) -> DealChanged:
    """A person's "Create draft invoice/quote" on the deal: the on-demand trigger (``manual-invoice``, or
    ``manual-invoice@<request id>`` when a deal may have several), whatever the deal's stage. The caller has checked
    that the company allows it; the event's id is the request's, so a retried request publishes the same event::

        await request_drafts("7001", "42", "manual-quote", publisher, request_id="5f0c...", user_id="12")
    """
    event = DealChanged(id=request_id, company_id=company_id, deal_id=deal_id, event_id=f"request-{request_id}",
                        action="change", replay_of=request_id, replay_triggers=(trigger_id,), request="on_demand",
                        pipedrive_user_id=user_id)
    await publisher.publish(event, topics.DEAL_EVENTS, topics.deal_key(company_id, deal_id))
    log.info("draft requested on demand", trigger_id=trigger_id, event_id=event.event_id)
    return event


def _replay_event(company_id: str, deal_id: str, last: DealChanged | None, triggers: tuple[str, ...],
                  replay_id: str) -> DealChanged:
    if triggers:
        # Only the trigger ids matter: the mapper reads the deal as it is now, not as an old event described it.
        return DealChanged(id=replay_id, company_id=company_id, deal_id=deal_id, event_id=f"replay-{replay_id}",
                           action="change", replay_of=last.id if last else replay_id, replay_triggers=triggers,
                           request="replay")
    assert last is not None
    return last.model_copy(update={"id": replay_id, "occurred_at": utcnow(), "replay_of": last.id})
