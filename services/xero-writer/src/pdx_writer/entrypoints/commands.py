"""The command subscriber: takes commands off ``pdx.xero-commands`` at once and hands them to per-company queues
(see ``dispatch``); each batch is retried a bounded number of times, then dead-lettered with the deal told."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from pdx_common import topics
from pdx_common.contracts import COMMAND, DeadLettered, DocumentFailed
from pdx_common.http import ApiError
from pdx_common.kafka import consumer_options
from pdx_common.metrics import HANDLER_RETRIES, MESSAGES_FAILED, MESSAGES_HANDLED, observe_lag
from pdx_common.reliability import RetryPolicy
from pdx_writer.dispatch import CompanyQueues, OffsetTracker, Pending
from pdx_writer.handlers import Command
from pdx_writer.settings import WriterSettings

log = structlog.get_logger()
GROUP = "pdx-xero-writer"


async def _commit(partition: tuple[Any, TopicPartition], offset: int) -> None:
    consumer, tp = partition
    try:
        await consumer.commit({tp: offset})
    except (CommitFailedError, IllegalStateError, KafkaError) as exc:
        # The partition moved to another writer during a rebalance: it redelivers from its last commit.
        log.warning("offset not committed; the new owner redelivers from the last commit", error=str(exc))


def subscribe_commands(broker: KafkaBroker, settings: WriterSettings, publisher: Any,
                       execute_batch: Callable[[list[Command]], Awaitable[None]]) -> CompanyQueues:
    policy = RetryPolicy(settings.retry_attempts, settings.retry_first_delay)

    async def run_batch(commands: list[Command]) -> None:
        with structlog.contextvars.bound_contextvars(company_id=commands[0].company_id, batch=len(commands)):
            await _with_retries(commands, execute_batch, policy, publisher)

    queues = CompanyQueues(run_batch, capacity=settings.max_in_flight)
    tracker = OffsetTracker(_commit)

    async def on_command(body: dict[str, Any], message: KafkaMessage) -> None:
        if queues.closing:
            return  # shutting down: left uncommitted, so the next owner of the partition takes it
        record = message.raw_message
        observe_lag(message, GROUP)
        done = tracker.started((message.consumer, TopicPartition(record.topic, record.partition)), record.offset)
        try:
            command = COMMAND.validate_python(body)
        except ValidationError as exc:
            await _dead_letter(publisher, body, f"invalid message: {exc}", 1)
            MESSAGES_FAILED.labels(topics.XERO_COMMANDS, GROUP).inc()
            await done()
            return
        await queues.put(command.company_id, Pending(command, done))

    broker.subscriber(topics.XERO_COMMANDS, **consumer_options(settings, GROUP), ack_policy=AckPolicy.MANUAL)(
        on_command)
    return queues


async def _with_retries(commands: list[Command], execute_batch, policy: RetryPolicy, publisher: Any) -> None:
    for attempt in range(1, policy.attempts + 1):
        try:
            await execute_batch(commands)
            MESSAGES_HANDLED.labels(topics.XERO_COMMANDS, GROUP).inc(len(commands))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - retried, then dead-lettered with its reason
            error = f"{type(exc).__name__}: {exc}"[:2000]
            permanent = isinstance(exc, ApiError) and not exc.transient
            if attempt < policy.attempts and not permanent:
                HANDLER_RETRIES.labels(topics.XERO_COMMANDS, GROUP).inc()
                log.warning("batch failed, will retry", attempt=attempt, error=error)
                await asyncio.sleep(policy.delay(attempt))
                continue
            log.error("batch failed for good, dead-lettering", attempts=attempt, error=error)
            MESSAGES_FAILED.labels(topics.XERO_COMMANDS, GROUP).inc(len(commands))
            for command in commands:
                await _dead_letter(publisher, command.model_dump(mode="json"), error, attempt, command)
            return


async def _dead_letter(publisher: Any, payload: dict[str, Any], error: str, attempts: int,
                       command: Command | None = None) -> None:
    company = str(payload.get("company_id") or "unknown")
    deal = str(payload.get("deal_id") or "unknown")
    key = topics.deal_key(company, deal)
    await publisher.publish(DeadLettered(company_id=company, deal_id=deal, source_topic=topics.XERO_COMMANDS,
                                         consumer=GROUP, payload=payload, error=error, attempts=attempts),
                            topics.DEAD_LETTER, key)
    if command is not None:
        await publisher.publish(DocumentFailed(
            company_id=company, deal_id=deal, command_id=command.id, source_event_id=command.source_event_id,
            trigger_id=command.trigger_id, kind="invoice" if command.type == "CreateInvoice" else "quote",
            stage="xero", code="dead_lettered",
            message=f"The draft could not be made after {attempts} tries ({error[:200]}).",
            fix="If Xero was unavailable, nothing needs changing: replay the deal once Xero answers again. "
                "Otherwise tell your administrator (the command is in the dead-letter topic)."),
            topics.DOCUMENT_RESULTS, key)
