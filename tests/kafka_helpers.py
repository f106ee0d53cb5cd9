"""Reading what services published, from the real broker, in tests."""

import asyncio
import json
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer


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
