"""The product against the engines it runs on in production, Apache Kafka and MongoDB, each in a container that
testcontainers starts: the product's own publisher, consumer options and MongoDB adapters, then the whole stack
(every service as a process, the sandboxes for Pipedrive and Xero) from a stage move to a draft and its activity.

The local runs and CI use Tansu and SecantusDB instead (DESIGN.md); this suite shows the same code works on the real
engines. It needs a Docker engine and skips itself, saying so, where none answers.
"""

import asyncio
import gc
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cryptography.fernet import Fernet
from faststream.kafka.annotations import KafkaMessage
from testcontainers.community.kafka import KafkaContainer
from testcontainers.community.mongodb import MongoDbContainer

import pdx_devstack.stack
from pdx_common import topics
from pdx_common.connections import ConnectionStore
from pdx_common.contracts import DealChanged
from pdx_common.crypto import TokenCipher
from pdx_common.kafka import consumer_options, make_broker
from pdx_common.mongo import connect_mongo
from pdx_common.service import KafkaPublisher
from pdx_common.settings import ServiceSettings
from pdx_devstack.stack import Stack, StackOptions
from pdx_writer.adapters.ledger import MongoLedger
from tests.e2e.helpers import activities, eventually, invoices_for_deal, move

# testcontainers' KafkaContainer drives Confluent's image (Kafka 3.6) in KRaft mode; docker-compose.yml runs
# apache/kafka 3.9. Both speak the same protocol to the product.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
MONGO_IMAGE = "mongo:8"


def docker_problem() -> str | None:
    """Why no Docker engine answers, or None when one does. The failed attempt leaves an unclosed socket behind,
    which would surface later as a ResourceWarning (an error here), so it is collected under an ignore filter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker

            client = docker.from_env(timeout=5)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001 - any failure means no engine; the reason is shown in the skip
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = None
        gc.collect()
    return reason


_NO_DOCKER = docker_problem()
if _NO_DOCKER is not None:
    pytest.skip(f"no Docker engine is reachable ({_NO_DOCKER[:200]}), so real Kafka and MongoDB cannot start; "
                "run tests/containers where Docker runs", allow_module_level=True)

pytestmark = pytest.mark.containers


async def create_topics(bootstrap: str) -> None:
    """What docker-compose.yml's topic-init does: every topic, with the default partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=topics.DEFAULT_PARTITIONS, replication_factor=1)
                                   for name in topics.ALL])
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    container = (KafkaContainer(KAFKA_IMAGE).with_kraft()
                 .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
                 # The local stack gives its consumers 2 s sessions (for Tansu); Kafka refuses under 6 s by default.
                 .with_env("KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS", "1000"))
    with container:
        bootstrap = container.get_bootstrap_server()
        asyncio.run(create_topics(bootstrap))
        yield bootstrap


@pytest.fixture(scope="module")
def mongo_url() -> Iterator[str]:
    with MongoDbContainer(MONGO_IMAGE) as mongo:
        yield mongo.get_connection_url()


async def test_one_deals_events_stay_in_order_on_one_partition(kafka_bootstrap, run_id):
    settings = ServiceSettings(kafka_bootstrap=kafka_bootstrap)
    company, deals = f"c{run_id}", ["1", "2", "3"]
    sent = [DealChanged(company_id=company, deal_id=deal, event_id=f"e{n}-{deal}", action="change")
            for n in range(10) for deal in deals]
    producer = make_broker(settings)
    await producer.start()
    try:
        publisher = KafkaPublisher(producer)
        for event in sent:
            await publisher.publish(event, topics.DEAL_EVENTS, topics.deal_key(event.company_id, event.deal_id))
    finally:
        await producer.stop()

    received: list[tuple[DealChanged, int]] = []
    all_in = asyncio.Event()
    consumer = make_broker(settings)

    @consumer.subscriber(topics.DEAL_EVENTS, **consumer_options(settings, f"test-{run_id}"))
    async def on_event(body: dict, message: KafkaMessage) -> None:
        event = DealChanged.model_validate(body)
        if event.company_id == company:
            received.append((event, message.raw_message.partition))
        if len(received) == len(sent):
            all_in.set()

    await consumer.start()
    try:
        async with asyncio.timeout(60):
            await all_in.wait()
    finally:
        await consumer.stop()
    for deal in deals:
        mine = [(event.event_id, partition) for event, partition in received if event.deal_id == deal]
        assert [event_id for event_id, _ in mine] == [e.event_id for e in sent if e.deal_id == deal]
        assert len({partition for _, partition in mine}) == 1


async def test_one_writer_claims_a_deal_and_tokens_are_encrypted_on_mongodb(mongo_url, run_id):
    client = connect_mongo(mongo_url)
    db = client[f"t{run_id}"]
    try:
        ledger = MongoLedger(db, lease_seconds=60)
        claims = await asyncio.gather(*(ledger.claim("c1:d1:p1-s5-invoice", f"cmd-{n}", "c1", "d1")
                                        for n in range(10)))
        assert sorted(c.outcome for c in claims) == ["busy"] * 9 + ["claimed"]
        await ledger.created("c1:d1:p1-s5-invoice", "cmd-0", "evt-1", {"xero_id": "x-1"})
        await ledger.result_published("c1:d1:p1-s5-invoice")
        assert (await ledger.claim("c1:d1:p1-s5-invoice", "cmd-late", "c1", "d1")).outcome == "created"

        store = ConnectionStore(db, TokenCipher(Fernet.generate_key().decode()))
        await store.save_tokens("xero", "c1", {"access_token": "at-secret", "refresh_token": "rt-secret"},
                                tenant_id="t-1")
        raw = await db.connections.find_one({"_id": "xero:c1"})
        assert "at-secret" not in str(raw) and store.decrypt(raw, "access_token") == "at-secret"
    finally:
        await client.drop_database(f"t{run_id}")
        await client.close()


@dataclass
class Engines:
    """Stands in for the embedded broker and store the local stack would start: the containers instead."""

    kafka_bootstrap: str
    mongo_url: str

    def stop(self) -> None:
        """The containers stop with their fixtures."""


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, mongo_url, tmp_path_factory) -> Iterator[Stack]:
    async def the_containers(data_dir: Path, **_) -> Engines:
        return Engines(kafka_bootstrap, mongo_url)

    options = StackOptions(data_dir=tmp_path_factory.mktemp("stack"), pipedrive_retry_delays="0.5,1,2",
                           retry_first_delay=0.2, mongo_db=f"pdx{uuid.uuid4().hex[:8]}")
    running = Stack(options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pdx_devstack.stack, "start_infra", the_containers)
        asyncio.run(running.start())
    try:
        yield running
    finally:
        running.stop()


async def test_a_deal_moved_to_won_becomes_one_draft_and_an_activity(stack):
    await move(stack, 1, "Won")  # the seeded demo deal

    [invoice] = await eventually(lambda: invoices_for_deal(stack, 1), timeout=120)
    assert invoice["Status"] == "DRAFT" and invoice["Type"] == "ACCREC"
    [activity] = await eventually(lambda: activities(stack, 1), timeout=60)
    assert activity["subject"] == f"Draft invoice {invoice['InvoiceNumber']} created in Xero"
