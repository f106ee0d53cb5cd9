"""Bounded automatic retries, then the dead-letter topic: no message is dropped and none blocks its partition forever.

A handler raises; ``run_with_retries`` tries again after a growing pause; after ``attempts`` tries the message is
published to ``pdx.dead-letter`` with the error, and the caller tells the deal (``on_dead_letter``).
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from pdx_common import topics
from pdx_common.contracts import DeadLettered
from pdx_common.metrics import HANDLER_RETRIES, MESSAGES_FAILED

log = structlog.get_logger()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.first_delay * 2 ** (attempt - 1), self.max_delay)


async def run_with_retries(
    work: Callable[[], Awaitable[None]], *, policy: RetryPolicy, publisher: Any, consumer: str, source_topic: str,
    company_id: str, deal_id: str, payload: dict[str, Any],
    on_dead_letter: Callable[[DeadLettered], Awaitable[None]] | None = None,
) -> None:
    for attempt in range(1, policy.attempts + 1):
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is retried, then dead-lettered with its reason
            error = f"{type(exc).__name__}: {exc}"[:2000]
            if attempt < policy.attempts:
                HANDLER_RETRIES.labels(source_topic, consumer).inc()
                log.warning("handler failed, will retry", attempt=attempt, error=error)
                await asyncio.sleep(policy.delay(attempt))
                continue
            log.error("handler failed every retry, dead-lettering", attempts=attempt, error=error)
            MESSAGES_FAILED.labels(source_topic, consumer).inc()
            dead = DeadLettered(company_id=company_id, deal_id=deal_id, source_topic=source_topic,
                                consumer=consumer, payload=payload, error=error, attempts=attempt)
            await publisher.publish(dead, topics.DEAD_LETTER, topics.deal_key(company_id, deal_id))
            if on_dead_letter is not None:
                await on_dead_letter(dead)
