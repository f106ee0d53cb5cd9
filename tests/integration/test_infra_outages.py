"""The devstack's outage controls: the broker freezes and thaws, the store stops, crashes and comes back on its port."""

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pymongo import AsyncMongoClient, WriteConcern
from pymongo.errors import ConnectionFailure

from pdx_common import topics
from pdx_devstack.infra import Infra, start_infra


@pytest.fixture
async def own_infra() -> AsyncIterator[Infra]:
    data = Path(tempfile.mkdtemp(prefix="pdx-outage-infra-"))
    running = await start_infra(data, partitions=1)
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)
        shutil.rmtree(data, ignore_errors=True)


async def send_one(infra: Infra, timeout_ms: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, request_timeout_ms=timeout_ms,
                                acks="all")
    try:
        await producer.start()
        await producer.send_and_wait(topics.DEAD_LETTER, b"ping")
    finally:
        await producer.stop()


async def test_a_frozen_broker_answers_nothing_until_thawed(own_infra):
    await send_one(own_infra, 10_000)
    own_infra.freeze_broker()
    try:
        with pytest.raises(KafkaError):
            await send_one(own_infra, 1_500)
        assert own_infra.broker_process.poll() is None  # frozen, not gone: its topics survive
    finally:
        own_infra.thaw_broker()
    await send_one(own_infra, 30_000)


async def test_the_store_stops_crashes_and_comes_back_with_its_data(own_infra):
    client = AsyncMongoClient(own_infra.mongo_url, serverSelectionTimeoutMS=1_000)
    try:
        await client.t.kept.insert_one({"_id": "before"})
        await asyncio.to_thread(own_infra.stop_store)
        assert own_infra.store_process.poll() is not None
        with pytest.raises(ConnectionFailure):
            await client.t.kept.find_one({"_id": "before"})
        port = own_infra.mongo_port
        await asyncio.to_thread(own_infra.start_store)
        assert own_infra.mongo_port == port
        assert await client.t.kept.find_one({"_id": "before"}) == {"_id": "before"}

        journaled = client.t.get_collection("kept", write_concern=WriteConcern(j=True))
        await journaled.insert_one({"_id": "before crash"})
        await asyncio.to_thread(own_infra.kill_store)
        assert own_infra.store_process.returncode == -9
        await asyncio.to_thread(own_infra.start_store)
        assert await client.t.kept.count_documents({}) == 2
    finally:
        await client.close()
