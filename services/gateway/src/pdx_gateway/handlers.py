"""What the gateway does with an authenticated, validated webhook."""

import structlog
from pdx_common import topics

from pdx_gateway.domain.webhook import PipedriveWebhook, to_deal_changed
from pdx_gateway.ports import Publisher, SeenEvents

log = structlog.get_logger()


async def accept_deal_webhook(hook: PipedriveWebhook, publisher: Publisher, seen: SeenEvents) -> str:
    """Publish the deal event once per Pipedrive event id. Returns "accepted", "duplicate" or "ignored"."""
    if hook.meta.entity != "deal":
        return "ignored"
    event = to_deal_changed(hook)
    if await seen.seen(event.company_id, event.event_id):
        log.info("webhook retry already published", event_id=event.event_id, attempt=event.attempt)
        return "duplicate"
    # Remembered only after the publish succeeded: a failed publish answers 5xx and Pipedrive's retry republishes.
    await publisher.publish(event, topics.DEAL_EVENTS, topics.deal_key(event.company_id, event.deal_id))
    await seen.remember(event.company_id, event.event_id, event.deal_id)
    log.info("deal event published", event_id=event.event_id, action=event.action)
    return "accepted"
