"""Subscribing a handler to a topic the same way in every service.

A FastStream middleware (``ReliableConsumption``) validates the contract, binds the log context, waits out transient
failures for as long as they last (the partition waits behind the message, so one deal stays in order), and
dead-letters only a message that cannot be decoded, breaks its contract or fails deterministically (identically
``policy.attempts`` times, or ``policy.max_failures`` times in all), publishing the dead letter durably before
anything is committed. The subscriber's ``AckPolicy.NACK_ON_ERROR`` commits the offset
only when the middleware returns; when the service stops while a message waits out an outage, the middleware answers
``NackMessage`` (FastStream seeks the partition back to it), so it is not committed and the next owner redelivers it.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from faststream import AckPolicy, BaseMiddleware
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker, KafkaRouter
from pydantic import TypeAdapter, ValidationError

from pdx_common.contracts import DeadLettered
from pdx_common.kafka import consumer_options
from pdx_common.metrics import MESSAGES_FAILED, MESSAGES_HANDLED, observe_lag
from pdx_common.reliability import RetryPolicy, Stopped, dead_letter, describe, run_reliably
from pdx_common.settings import ServiceSettings

log = structlog.get_logger()
OnDeadLetter = Callable[[Any, DeadLettered], Awaitable[None]]


def subscribe(broker: KafkaBroker, settings: ServiceSettings, *, topic: str, group_id: str, contract: Any,
              handle: Callable[[Any], Awaitable[None]], publisher: Any, policy: RetryPolicy,
              on_dead_letter: OnDeadLetter | None = None, **options: Any) -> None:
    adapter = contract if isinstance(contract, TypeAdapter) else TypeAdapter(contract)
    reliable = ReliableConsumption(topic=topic, group_id=group_id, adapter=adapter, publisher=publisher,
                                   policy=policy, on_dead_letter=on_dead_letter)
    router = KafkaRouter(middlewares=(reliable,))

    async def on_message(body: dict[str, Any]) -> None:
        await handle(adapter.validate_python(body))

    on_message.__name__ = f"on_{topic.replace('.', '_').replace('-', '_')}"
    reliable.subscriber = router.subscriber(topic, **consumer_options(settings, group_id),
                                            ack_policy=AckPolicy.NACK_ON_ERROR, **options)
    reliable.subscriber(on_message)
    broker.include_router(router)


class ReliableConsumption:
    """The middleware factory of one subscriber: FastStream builds one ``_Scope`` per message."""

    def __init__(self, *, topic: str, group_id: str, adapter: TypeAdapter, publisher: Any, policy: RetryPolicy,
                 on_dead_letter: OnDeadLetter | None) -> None:
        self.topic, self.group_id, self.adapter = topic, group_id, adapter
        self.publisher, self.policy, self.on_dead_letter = publisher, policy, on_dead_letter
        self.subscriber: Any = None

    def stopping(self) -> bool:
        return self.subscriber is not None and not self.subscriber.running

    def __call__(self, msg: Any, context: Any) -> BaseMiddleware:
        return _Scope(msg, context=context, config=self)

    async def consume(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> None:
        observe_lag(msg, self.group_id)
        try:
            body = await msg.decode()
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deep: it never will be
            await self._dead_letter_undecodable(msg, exc)
            return
        try:
            message = self.adapter.validate_python(body)
        except ValidationError as exc:
            await self._dead_letter_invalid(body, exc)
            return
        context = {"company_id": message.company_id, "deal_id": message.deal_id, "message_id": message.id}
        with structlog.contextvars.bound_contextvars(**context):
            error = await run_reliably(lambda: call_next(msg), policy=self.policy, topic=self.topic,
                                       consumer=self.group_id, stopping=self.stopping)
            if error is None:
                MESSAGES_HANDLED.labels(self.topic, self.group_id).inc()
                return
            dead = DeadLettered(company_id=message.company_id, deal_id=message.deal_id, source_topic=self.topic,
                                consumer=self.group_id, payload=body, error=describe(error),
                                attempts=self.policy.attempts)
            await self._dead_letter(dead)
            if self.on_dead_letter is not None:
                await self._tell(message, dead)

    async def _dead_letter(self, dead: DeadLettered) -> None:
        await dead_letter(self.publisher, dead, policy=self.policy, stopping=self.stopping)
        MESSAGES_FAILED.labels(self.topic, self.group_id).inc()

    async def _tell(self, message: Any, dead: DeadLettered) -> None:
        assert self.on_dead_letter is not None
        on_dead_letter = self.on_dead_letter
        error = await run_reliably(lambda: on_dead_letter(message, dead), policy=self.policy, topic=self.topic,
                                   consumer=self.group_id, stopping=self.stopping)
        if error is not None:  # the dead letter itself is safe; the operators' list shows it
            log.error("could not tell the deal about its dead letter", dead_letter_id=dead.id, error=describe(error))

    async def _dead_letter_invalid(self, body: Any, exc: ValidationError) -> None:
        body = body if isinstance(body, dict) else {"raw": str(body)[:10_000]}
        company, deal = str(body.get("company_id") or "unknown"), str(body.get("deal_id") or "unknown")
        log.error("message does not match its contract", topic=self.topic, errors=exc.errors()[:5])
        await self._dead_letter(DeadLettered(company_id=company, deal_id=deal, source_topic=self.topic,
                                             consumer=self.group_id, payload=body,
                                             error=f"invalid message: {exc}"[:2000], attempts=1))

    async def _dead_letter_undecodable(self, msg: Any, exc: BaseException) -> None:
        raw = msg.body if isinstance(msg.body, bytes) else str(msg.body).encode()
        log.error("message cannot be decoded", topic=self.topic, error=describe(exc)[:200])
        await self._dead_letter(DeadLettered(company_id="unknown", deal_id="unknown", source_topic=self.topic,
                                             consumer=self.group_id,
                                             payload={"raw": raw[:10_000].decode(errors="replace")},
                                             error=f"invalid message: cannot be decoded: {describe(exc)}"[:2000],
                                             attempts=1))


class _Scope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, config: ReliableConsumption) -> None:
        super().__init__(msg, context=context)
        self.config = config

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        try:
            return await self.config.consume(call_next, msg)
        except Stopped:
            log.info("stopping while a message waits out a failure; it stays uncommitted",
                     topic=self.config.topic, consumer=self.config.group_id)
            raise NackMessage from None
