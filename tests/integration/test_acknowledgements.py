"""Honest acknowledgements on the real broker: an offset is committed only after its message was handled or durably
dead-lettered; transient failures are waited out and never dead-letter; stopping while a message waits out an outage
commits nothing, and the next consumer gets the message again."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo.errors import AutoReconnect

from pdx_common.consumer import subscribe
from pdx_common.contracts import DealChanged
from pdx_common.http import ApiError
from pdx_common.kafka import make_broker
from pdx_common.reliability import RetryPolicy
from pdx_common.service import KafkaPublisher
from pdx_common.settings import ServiceSettings
from tests.kafka_helpers import dead_letters

POLICY = RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.05)
GRACE = 300.0  # FastStream's wait for in-flight handlers at stop: only an interrupted wait stops far sooner


@pytest.fixture
async def topic(infra, run_id) -> str:
    name = f"test-acks-{run_id}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return name


def event(run_id: str, deal: str, **extra: Any) -> dict:
    return DealChanged(company_id=f"c{run_id}", deal_id=deal, event_id=f"e{deal}", action="change",
                       **extra).model_dump(mode="json")


async def produce(bootstrap: str, topic: str, *bodies: dict) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for body in bodies:
            await producer.send_and_wait(topic, json.dumps(body).encode())
    finally:
        await producer.stop()


async def committed(bootstrap: str, topic: str, group: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


@asynccontextmanager
async def consuming(infra, topic: str, group: str, handle: Callable[[Any], Awaitable[None]],
                    on_dead_letter=None) -> AsyncIterator[None]:
    settings = ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap, kafka_session_timeout_ms=2_000,
                               kafka_heartbeat_interval_ms=500)
    broker = make_broker(settings, graceful_timeout=GRACE)
    subscribe(broker, settings, topic=topic, group_id=group, contract=DealChanged, handle=handle,
              publisher=KafkaPublisher(broker), policy=POLICY, on_dead_letter=on_dead_letter)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.1)


def dead_letters_of(infra, topic: str) -> Awaitable[list[dict]]:
    """Every dead letter from the test's own topic (an undecodable one names no company), read to the end."""
    return dead_letters(infra.kafka_bootstrap, lambda m: m["source_topic"] == topic)


async def test_transient_failures_are_waited_out_in_order_and_never_dead_letter(infra, run_id, topic):
    handled: list[str] = []
    failures = {"1": 12}  # far more than the attempts: an outage, not a broken message
    problems = [AutoReconnect("store gone"), ApiError("xero", 503, "busy", "https://x"), TimeoutError()]

    async def handle(message: DealChanged) -> None:
        if failures.get(message.deal_id, 0):
            failures[message.deal_id] -= 1
            raise problems[failures[message.deal_id] % 3]
        handled.append(message.deal_id)

    await produce(infra.kafka_bootstrap, topic, event(run_id, "1"), event(run_id, "2"))
    group = f"g{run_id}"
    async with consuming(infra, topic, group, handle):
        await eventually(lambda: _true(len(handled) == 2))
        await eventually(lambda: _equal(committed(infra.kafka_bootstrap, topic, group), 2))
    assert handled == ["1", "2"]  # the second waited behind the first
    assert await dead_letters_of(infra, topic) == []


async def test_a_repeating_error_is_dead_lettered_once_then_committed(infra, run_id, topic):
    told: list[str] = []

    async def handle(message: DealChanged) -> None:
        raise ValueError("this deal can never work")

    async def on_dead_letter(message: DealChanged, dead) -> None:
        told.append(dead.id)

    await produce(infra.kafka_bootstrap, topic, event(run_id, "1"), {"company_id": f"c{run_id}", "nonsense": 1})
    group = f"g{run_id}"
    async with consuming(infra, topic, group, handle, on_dead_letter):
        await eventually(lambda: _equal(committed(infra.kafka_bootstrap, topic, group), 2))
    # Keyed by different deals, they land on different partitions of pdx.dead-letter: found by deal, not position.
    dead = {d["deal_id"]: d for d in await dead_letters_of(infra, topic)}
    assert sorted(dead) == ["1", "unknown"]
    assert dead["1"]["attempts"] == POLICY.attempts and "can never work" in dead["1"]["error"]
    assert dead["unknown"]["error"].startswith("invalid message")
    assert told == [dead["1"]["id"]]


async def test_an_undecodable_message_is_dead_lettered_once_and_the_next_one_is_handled(infra, run_id, topic):
    handled: list[str] = []

    async def handle(message: DealChanged) -> None:
        handled.append(message.deal_id)

    json_header = [("content-type", b"application/json")]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"\x00not json{", headers=json_header)
        await producer.send_and_wait(topic, b"[" * 100_000, headers=json_header)  # RecursionError when parsed
    finally:
        await producer.stop()
    await produce(infra.kafka_bootstrap, topic, event(run_id, "2"))
    group = f"g{run_id}"
    async with consuming(infra, topic, group, handle):
        await eventually(lambda: _equal(committed(infra.kafka_bootstrap, topic, group), 3))
    assert handled == ["2"]
    dead = await dead_letters_of(infra, topic)
    assert len(dead) == 2 and all(d["error"].startswith("invalid message") for d in dead)
    assert sorted(d["payload"]["raw"][:4] for d in dead) == ["\x00not", "[[[["]
    assert all(len(d["payload"]["raw"]) <= 10_000 for d in dead)


async def test_stopping_during_an_outage_commits_nothing_and_the_next_consumer_redelivers(infra, run_id, topic):
    waiting = asyncio.Event()
    handled: list[str] = []

    async def down(message: DealChanged) -> None:
        waiting.set()
        raise AutoReconnect("the store is down")

    async def up(message: DealChanged) -> None:
        handled.append(message.deal_id)

    await produce(infra.kafka_bootstrap, topic, event(run_id, "1"))
    group = f"g{run_id}"
    async with consuming(infra, topic, group, down):
        await waiting.wait()
        stopping = asyncio.get_running_loop().time()
    assert asyncio.get_running_loop().time() - stopping < GRACE / 3  # interrupted, not FastStream's grace
    assert await committed(infra.kafka_bootstrap, topic, group) is None
    async with consuming(infra, topic, group, up):
        await eventually(lambda: _true(handled == ["1"]))
        await eventually(lambda: _equal(committed(infra.kafka_bootstrap, topic, group), 1))
    assert await dead_letters_of(infra, topic) == []


async def _true(value: bool) -> bool:
    return value


async def _equal(got: Awaitable[Any], expected: Any) -> bool:
    return await got == expected
