"""Reading what services published, from the real broker, in tests."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pdx_common import topics
from pdx_common.contracts import DeadLettered, DealChanged


async def read_until(bootstrap: str, topic: str, done: Callable[[list[dict]], bool], *,
                     match: Callable[[dict], bool] = lambda m: True, timeout: float = 60.0) -> list[dict]:
    """Messages of ``topic`` (from the beginning) that ``match``, read until ``done(messages)`` or the timeout."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4().hex}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                session_timeout_ms=2000, heartbeat_interval_ms=500)
    await consumer.start()
    seen: list[dict] = []
    try:
        async with asyncio.timeout(timeout):
            while not done(seen):
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        message = json.loads(record.value)
                        if match(message):
                            seen.append(message)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return seen


async def read_to_markers(bootstrap: str, topic: str, marker: Callable[[], dict], *,
                          match: Callable[[dict], bool] = lambda m: True, timeout: float = 180.0) -> list[dict]:
    """Every message of ``topic`` that ``match`` up to markers sent now, one on every partition (each is ``marker()``,
    told apart by its ``id``). A partition keeps its order, so all it held before its marker has been read by then:
    an empty list means "none", not "none within a while". Not reaching every marker raises ``TimeoutError``."""
    markers = await _send_markers(bootstrap, topic, marker)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4().hex}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                session_timeout_ms=2000, heartbeat_interval_ms=500)
    await consumer.start()
    seen: list[dict] = []
    try:
        async with asyncio.timeout(timeout):
            while markers:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        message = json.loads(record.value)
                        if message.get("id") in markers:
                            markers.discard(message["id"])
                        elif match(message):
                            seen.append(message)
    finally:
        await consumer.stop()
    return seen


async def _send_markers(bootstrap: str, topic: str, marker: Callable[[], dict]) -> set[str]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = set()
        for partition in sorted(await producer.partitions_for(topic)):
            body = marker()
            await producer.send_and_wait(topic, json.dumps(body).encode(), partition=partition)
            sent.add(body["id"])
        return sent
    finally:
        await producer.stop()


def deal_event_marker() -> dict:
    """A valid deal event of a company of its own that enters no stage: readers of ``pdx.deal-events`` (a mapper,
    the fuzz's counts per company) take it as any other event, and nothing comes of it."""
    return DealChanged(company_id=f"test-marker-{uuid.uuid4().hex}", deal_id="1", event_id=uuid.uuid4().hex,
                       action="change").model_dump(mode="json")


def dead_letter_marker() -> dict:
    """A valid dead letter of a company of its own, about no deal: a crm-card reading the topic keeps it harmlessly."""
    return DeadLettered(company_id=f"test-marker-{uuid.uuid4().hex}", deal_id="unknown", source_topic="test-marker",
                        consumer="tests", payload={}, error="a marker, read to the end of the topic",
                        attempts=0).model_dump(mode="json")


def dead_letters(bootstrap: str, match: Callable[[dict], bool]) -> Awaitable[list[dict]]:
    """Every dead letter on ``pdx.dead-letter`` so far that ``match``: read to the end, so none means none."""
    return read_to_markers(bootstrap, topics.DEAD_LETTER, dead_letter_marker, match=match)
