"""On the real broker: a company whose queue is full (waiting out a long Xero outage) pauses only its own partition,
so another company's commands keep being written; when it drains, its partition resumes and none of its commands is
lost or repeated, and every offset is committed."""

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cryptography.fernet import Fernet

from pdx_common.contracts import CreateInvoice
from pdx_common.kafka import make_broker
from pdx_writer.entrypoints.commands import subscribe_commands
from pdx_writer.settings import WriterSettings
from tests.integration.writer_harness import DRAFT_DAY, HOSTING, KOWHAI

CAPACITY = 3
STUCK_COMMANDS = 12


@pytest.fixture
async def topic(infra, run_id) -> str:
    name = f"test-writer-backpressure-{run_id}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    return name


def invoice(company_id: str, deal_id: str) -> bytes:
    command = CreateInvoice(company_id=company_id, deal_id=deal_id, trigger_id="won", source_event_id=f"e{deal_id}",
                            contact=KOWHAI, line_items=(HOSTING,), currency_code="NZD",
                            line_amount_types="Exclusive", date=DRAFT_DAY, deal_title=f"Deal {deal_id}",
                            deal_url=f"https://kowhai.pipedrive.com/deal/{deal_id}")
    return json.dumps(command.model_dump(mode="json")).encode()


async def produce(bootstrap: str, topic: str, partition: int, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, partition=partition)
    finally:
        await producer.stop()


async def committed(bootstrap: str, topic: str, group: str, partition: int) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, partition))
    finally:
        await consumer.stop()


async def until(condition, timeout: float = 120) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)


async def test_a_full_company_pauses_only_its_partition_and_loses_nothing(infra, run_id, topic):
    stuck, quiet = f"stuck{run_id}", f"quiet{run_id}"
    outage_over, outage_begun = asyncio.Event(), asyncio.Event()
    written: list[tuple[str, str]] = []

    async def execute_batch(commands) -> None:
        if commands[0].company_id == stuck:
            outage_begun.set()
            await outage_over.wait()
        written.extend((c.company_id, c.deal_id) for c in commands)

    group = f"writer-{run_id}"
    settings = WriterSettings(kafka_bootstrap=infra.kafka_bootstrap, kafka_session_timeout_ms=2_000,
                              kafka_heartbeat_interval_ms=500, token_key=Fernet.generate_key().decode(),
                              xero_client_id="x", xero_client_secret="x")
    broker = make_broker(settings)
    queues = subscribe_commands(broker, settings, None, execute_batch, topic=topic, group=group,
                                company_capacity=CAPACITY)
    await broker.start()
    try:
        await produce(infra.kafka_bootstrap, topic, 0, [invoice(stuck, str(n)) for n in range(STUCK_COMMANDS)])
        # its worker waits out the outage and its queue is full: its partition is paused from here on
        await until(lambda: outage_begun.is_set() and queues.waiting(stuck) >= CAPACITY)
        await produce(infra.kafka_bootstrap, topic, 1, [invoice(quiet, str(n)) for n in range(3)])
        await until(lambda: [d for c, d in written if c == quiet] == ["0", "1", "2"])
        assert queues.waiting(stuck) == CAPACITY  # nothing more of the paused partition was taken meanwhile
        outage_over.set()
        await until(lambda: len([d for c, d in written if c == stuck]) == STUCK_COMMANDS)
        assert [d for c, d in written if c == stuck] == [str(n) for n in range(STUCK_COMMANDS)]
        await until(lambda: queues.waiting(stuck) == 0)
        await queues.drain(60)
    finally:
        await broker.stop()
        await queues.stop()
    assert await committed(infra.kafka_bootstrap, topic, group, 0) == STUCK_COMMANDS
    assert await committed(infra.kafka_bootstrap, topic, group, 1) == 3
