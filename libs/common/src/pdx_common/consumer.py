"""Subscribing a handler to a topic the same way in every service: validate the contract, bind the log context,
retry a bounded number of times, dead-letter the rest, commit only after handling (a crash redelivers)."""

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter, ValidationError

from pdx_common import topics
from pdx_common.contracts import DeadLettered
from pdx_common.kafka import consumer_options
from pdx_common.metrics import MESSAGES_FAILED, MESSAGES_HANDLED, observe_lag
from pdx_common.reliability import RetryPolicy, run_with_retries
from pdx_common.settings import ServiceSettings

log = structlog.get_logger()


def subscribe(broker: KafkaBroker, settings: ServiceSettings, *, topic: str, group_id: str, contract: Any,
              handle: Callable[[Any], Awaitable[None]], publisher: Any, policy: RetryPolicy,
              on_dead_letter: Callable[[Any, DeadLettered], Awaitable[None]] | None = None,
              **options: Any) -> None:
    adapter = contract if isinstance(contract, TypeAdapter) else TypeAdapter(contract)

    async def on_message(body: dict[str, Any], raw: KafkaMessage) -> None:
        observe_lag(raw, group_id)
        try:
            message = adapter.validate_python(body)
        except ValidationError as exc:
            await _dead_letter_invalid(publisher, topic, group_id, body, exc)
            MESSAGES_FAILED.labels(topic, group_id).inc()
            return
        context = {"company_id": message.company_id, "deal_id": message.deal_id, "message_id": message.id}
        with structlog.contextvars.bound_contextvars(**context):
            callback = (lambda dead: on_dead_letter(message, dead)) if on_dead_letter else None
            await run_with_retries(lambda: handle(message), policy=policy, publisher=publisher, consumer=group_id,
                                   source_topic=topic, company_id=message.company_id, deal_id=message.deal_id,
                                   payload=body, on_dead_letter=callback)
        MESSAGES_HANDLED.labels(topic, group_id).inc()

    on_message.__name__ = f"on_{topic.replace('.', '_').replace('-', '_')}"
    broker.subscriber(topic, **consumer_options(settings, group_id), ack_policy=AckPolicy.ACK, **options)(on_message)


async def _dead_letter_invalid(publisher: Any, topic: str, group_id: str, body: Any, exc: ValidationError) -> None:
    body = body if isinstance(body, dict) else {"raw": str(body)[:10_000]}
    company, deal = str(body.get("company_id") or "unknown"), str(body.get("deal_id") or "unknown")
    log.error("message does not match its contract, dead-lettering", topic=topic, errors=exc.errors()[:5])
    dead = DeadLettered(company_id=company, deal_id=deal, source_topic=topic, consumer=group_id, payload=body,
                        error=f"invalid message: {exc}"[:2000], attempts=1)
    await publisher.publish(dead, topics.DEAD_LETTER, topics.deal_key(company, deal))
