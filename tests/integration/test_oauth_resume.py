"""``resume_parked`` on the real store and broker: parked commands re-published in order, keyed, then removed."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from pdx_common import topics
from pdx_common.kafka import make_broker
from pdx_common.parking import MongoParkedCommands, resume_parked
from pdx_common.service import KafkaPublisher
from pdx_common.settings import ServiceSettings
from tests.integration.test_oauth_xero import command
from tests.kafka_helpers import read_until


@pytest.fixture
async def publisher(infra):
    broker = make_broker(ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap))
    await broker.start()
    try:
        yield KafkaPublisher(broker)
    finally:
        await broker.stop()


async def park(db, payload: dict, minutes_ago: int) -> None:
    await db.parked_commands.insert_one({"_id": payload["id"], "company_id": payload["company_id"],
                                         "deal_id": payload["deal_id"], "payload": payload,
                                         "parked_at": datetime.now(UTC) - timedelta(minutes=minutes_ago)})


async def test_parked_commands_are_published_oldest_first_and_removed(infra, mongo_db, publisher):
    company = str(random.randint(10**6, 10**9))
    # One deal, so one key and one partition: the read order is the publish order.
    newer, older = command(company, "1"), command(company, "1")
    await park(mongo_db, newer, minutes_ago=1)
    await park(mongo_db, older, minutes_ago=5)

    with capture_logs() as logs:
        assert await resume_parked(company, MongoParkedCommands(mongo_db), publisher) == 2

    seen = await read_until(infra.kafka_bootstrap, topics.XERO_COMMANDS, lambda got: len(got) >= 2,
                            match=lambda m: m["company_id"] == company)
    assert seen == [older, newer]
    assert await mongo_db.parked_commands.count_documents({}) == 0
    assert not [entry for entry in logs if entry["log_level"] == "error"]


async def test_a_parked_document_that_is_no_command_stays_parked_and_is_reported(infra, mongo_db, publisher):
    company = str(random.randint(10**6, 10**9))
    good = command(company, "3")
    await park(mongo_db, good, minutes_ago=1)
    await mongo_db.parked_commands.insert_one({"_id": "broken-1", "company_id": company, "deal_id": "4",
                                               "payload": {"type": "CreateInvoice"}, "parked_at": datetime.now(UTC)})

    with capture_logs() as logs:
        assert await resume_parked(company, MongoParkedCommands(mongo_db), publisher) == 1

    assert [d["_id"] async for d in mongo_db.parked_commands.find()] == ["broken-1"]
    [error] = [entry for entry in logs if entry["log_level"] == "error"]
    assert error["command_id"] == "broken-1"
    seen = await read_until(infra.kafka_bootstrap, topics.XERO_COMMANDS, lambda got: len(got) >= 1,
                            match=lambda m: m["company_id"] == company)
    assert seen == [good]


async def test_nothing_parked_publishes_nothing(mongo_db, publisher):
    assert await resume_parked("no-such-company", MongoParkedCommands(mongo_db), publisher) == 0


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict]] = []

    async def publish(self, message, topic: str, key: bytes) -> None:
        self.sent.append((topic, key, message.model_dump(mode="json")))


async def test_each_command_is_keyed_by_its_company(mongo_db):
    payload = command("7001", "42")
    await park(mongo_db, payload, minutes_ago=1)
    fake = RecordingPublisher()

    await resume_parked("7001", MongoParkedCommands(mongo_db), fake)

    assert fake.sent == [(topics.XERO_COMMANDS, b"7001", payload)]  # as the mapper keys them
