"""The command subscriber: takes commands off ``pdx.xero-commands`` at once and hands them to per-company queues
(see ``dispatch``). A batch that meets a transient failure (Xero 5xx or 429, a timeout, the store or broker
unreachable) waits it out for as long as it lasts, its company's queue waiting behind it; only a failure that repeats
identically ``retry_attempts`` times dead-letters its commands, durably, before their offsets are committed. A batch
of several that fails that way runs again one command at a time, so only the commands that fail alone are
dead-lettered: one bad command does not sink the 49 beside it.

The topic carries drafts to make (``CreateInvoice``, ``CreateQuote``, keyed by deal) and customers and products to
keep in sync (``SyncRecords``, keyed by company, from the mapper); both wait in the company's one queue, so they share
the organisation's Xero budget fairly. Example of the latter::

    {"type": "SyncRecords", "id": "9f0c...", "company_id": "7001", "occurred_at": "2026-11-30T07:00:00Z",
     "schema_version": 1, "contacts": [{"contact": {"name": "Acme Ltd", "contact_number": "pd-org-12",
     "source": "organization", "source_id": "12"}, "fields": ["Name", "Addresses", "TaxNumber"], "create": false}],
     "items": []}
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import Field, TypeAdapter, ValidationError

from pdx_common import topics
from pdx_common.contracts import CreateInvoice, CreateQuote, DeadLettered, DocumentFailed, SyncRecords
from pdx_common.kafka import consumer_options
from pdx_common.metrics import MESSAGES_FAILED, MESSAGES_HANDLED, observe_lag
from pdx_common.reliability import RetryPolicy, Stopping, dead_letter, describe, publish_durably, run_reliably
from pdx_writer.dispatch import COMPANY_CAPACITY, CompanyQueues, OffsetTracker, PartitionPauses, Pending
from pdx_writer.handlers import Queued as Command
from pdx_writer.settings import WriterSettings

log = structlog.get_logger()
GROUP = "pdx-xero-writer"
QUEUED = TypeAdapter(Annotated[CreateInvoice | CreateQuote | SyncRecords, Field(discriminator="type")])


async def _commit(partition: tuple[Any, TopicPartition], offset: int) -> None:
    consumer, tp = partition
    try:
        await consumer.commit({tp: offset})
    except (CommitFailedError, IllegalStateError, KafkaError) as exc:
        # The partition moved to another writer during a rebalance: it redelivers from its last commit.
        log.warning("offset not committed; the new owner redelivers from the last commit", error=str(exc))


def _pause(partition: tuple[Any, TopicPartition]) -> None:
    consumer, tp = partition
    try:
        consumer.pause(tp)
    except IllegalStateError:
        pass  # no longer ours: the next owner fetches it


def _resume(partition: tuple[Any, TopicPartition]) -> None:
    consumer, tp = partition
    try:
        consumer.resume(tp)
    except IllegalStateError:
        pass  # no longer ours; if it comes back, it comes back unpaused


def subscribe_commands(broker: KafkaBroker, settings: WriterSettings, publisher: Any,
                       execute_batch: Callable[[list[Command]], Awaitable[None]], *,
                       topic: str = topics.XERO_COMMANDS, group: str = GROUP,
                       company_capacity: int = COMPANY_CAPACITY) -> CompanyQueues:
    policy = RetryPolicy(settings.retry_attempts, settings.retry_first_delay)

    async def run_batch(commands: list[Command]) -> None:
        with structlog.contextvars.bound_contextvars(company_id=commands[0].company_id, batch=len(commands)):
            await _reliably(commands, execute_batch, policy, publisher, lambda: queues.closing)

    pauses = PartitionPauses(_pause, _resume)
    queues = CompanyQueues(run_batch, capacity=settings.max_in_flight, company_capacity=company_capacity,
                           on_room=pauses.release)
    tracker = OffsetTracker(_commit)

    async def on_command(body: dict[str, Any], message: KafkaMessage) -> None:
        if queues.closing:
            return  # shutting down: left uncommitted, so the next owner of the partition takes it
        record = message.raw_message
        observe_lag(message, group)
        partition = (message.consumer, TopicPartition(record.topic, record.partition))
        done = tracker.started(partition, record.offset)
        try:
            command = QUEUED.validate_python(body)
        except ValidationError as exc:
            await _dead_letter(publisher, policy, lambda: queues.closing, body, f"invalid message: {exc}", 1)
            await done()
            return
        if await queues.put(command.company_id, Pending(command, done)):
            pauses.hold(command.company_id, partition)  # the company is full: wait on its partition, not on put

    broker.subscriber(topic, **consumer_options(settings, group), ack_policy=AckPolicy.MANUAL)(on_command)
    return queues


async def _reliably(commands: list[Command], execute_batch, policy: RetryPolicy, publisher: Any,
                    stopping: Stopping) -> None:
    """Returns once the batch is done or durably dead-lettered; raises ``Stopped`` when shutdown interrupts a wait
    (then nothing of the batch is committed)."""
    error = await run_reliably(lambda: execute_batch(commands), policy=policy, topic=topics.XERO_COMMANDS,
                               consumer=GROUP, stopping=stopping)
    if error is None:
        MESSAGES_HANDLED.labels(topics.XERO_COMMANDS, GROUP).inc(len(commands))
        return
    if len(commands) > 1:
        # Which command is at fault is unknown: each runs alone, with its own retries, and only a failing one is
        # dead-lettered.
        log.warning("batch failed repeatedly; running its commands one at a time", error=describe(error))
        for command in commands:
            await _reliably([command], execute_batch, policy, publisher, stopping)
        return
    for command in commands:
        await _dead_letter(publisher, policy, stopping, command.model_dump(mode="json"), describe(error),
                           policy.attempts, command)


async def _dead_letter(publisher: Any, policy: RetryPolicy, stopping: Stopping, payload: dict[str, Any],
                       error: str, attempts: int, command: Command | None = None) -> None:
    company = str(payload.get("company_id") or "unknown")
    deal = str(payload.get("deal_id") or getattr(command, "deal_id", "") or "unknown")
    dead = DeadLettered(company_id=company, deal_id=deal, source_topic=topics.XERO_COMMANDS, consumer=GROUP,
                        payload=payload, error=error[:2000], attempts=attempts)
    await dead_letter(publisher, dead, policy=policy, stopping=stopping)
    MESSAGES_FAILED.labels(topics.XERO_COMMANDS, GROUP).inc()
    if command is None or isinstance(command, SyncRecords):
        return  # a sync has no deal to tell; the dead letter keeps it for re-driving
    # Plain words and a reference for the salesperson; the error itself is in the logs and the dead letter.
    await publish_durably(publisher, DocumentFailed(
        company_id=company, deal_id=deal, command_id=command.id, source_event_id=command.source_event_id,
        trigger_id=command.trigger_id, kind="invoice" if command.type == "CreateInvoice" else "quote",
        stage="xero", code="dead_lettered",
        message=f"The draft could not be made: the same problem came back {attempts} times. "
                f"Reference: {dead.id}.",
        fix="Tell your administrator this reference; once the cause is put right they can send it again."),
        topics.DOCUMENT_RESULTS, topics.deal_key(company, deal), policy=policy, stopping=stopping)
