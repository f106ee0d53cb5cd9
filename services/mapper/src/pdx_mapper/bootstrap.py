"""The mapper's composition root."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from pdx_common import topics
from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.consumer import subscribe
from pdx_common.contracts import DeadLettered, DealChanged, DocumentFailed, RecordChanged
from pdx_common.crypto import TokenCipher
from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo, ping
from pdx_common.reliability import RetryPolicy
from pdx_common.service import KafkaPublisher, add_health_routes, broker_context, kafka_check
from pdx_mapper.adapters.mongo import MongoSettingsRepository
from pdx_mapper.adapters.pipedrive import PipedriveDealReader, PipedriveRecordReader
from pdx_mapper.adapters.record_changes import MongoRecordChanges
from pdx_mapper.adapters.record_syncs import MongoRecordOutcomes
from pdx_mapper.entrypoints.record_sync_loop import loop_context
from pdx_mapper.handlers import handle_deal_changed
from pdx_mapper.record_sync import RecordSync, SyncOptions
from pdx_mapper.settings import MapperSettings

GROUP = "pdx-mapper"
RECORDS_GROUP = "pdx-mapper-records"


class Resources:
    """Filled by the cleanup context before the broker starts consuming."""

    db = None
    settings_repo: MongoSettingsRepository
    reader: PipedriveDealReader
    record_sync: RecordSync


def create_app(settings: MapperSettings) -> web.Application:
    app = web.Application()
    broker = make_broker(settings)
    publisher = KafkaPublisher(broker)
    res = Resources()

    async def handle(event: DealChanged) -> None:
        await handle_deal_changed(event, settings_repo=res.settings_repo, reader=res.reader, publisher=publisher,
                                  now=datetime.now(UTC))

    async def dead_lettered(event: DealChanged, dead: DeadLettered) -> None:
        await publisher.publish(DocumentFailed(
            company_id=event.company_id, deal_id=event.deal_id, source_event_id=event.origin_id, stage="mapping",
            code="dead_lettered",  # plain words and a reference; the error itself is in the logs and the dead letter
            message=f"We could not process this deal: the same problem came back {dead.attempts} times. "
                    f"Reference: {dead.id}.",
            fix="Replay the deal after checking its details; if it fails again, tell your administrator this "
                "reference.", retryable=True),
            topics.DOCUMENT_RESULTS, topics.deal_key(event.company_id, event.deal_id))

    policy = RetryPolicy(settings.retry_attempts, settings.retry_first_delay)
    subscribe(broker, settings, topic=topics.DEAL_EVENTS, group_id=GROUP, contract=DealChanged, handle=handle,
              publisher=publisher, policy=policy, on_dead_letter=dead_lettered)

    async def noted(event: RecordChanged) -> None:
        await res.record_sync.note(event)

    subscribe(broker, settings, topic=topics.RECORD_EVENTS, group_id=RECORDS_GROUP, contract=RecordChanged,
              handle=noted, publisher=publisher, policy=policy)
    app.cleanup_ctx.append(_resources(settings, res, publisher))
    app.cleanup_ctx.append(broker_context(broker))
    # After the broker: the loop starts once it can publish, and stops (finishing its round) before it stops.
    app.cleanup_ctx.append(loop_context(lambda: res.record_sync, settings.record_sync_poll_seconds))

    async def mongo() -> None:
        await ping(res.db)

    add_health_routes(app, [mongo, kafka_check(broker)])
    return app


def _resources(settings: MapperSettings, res: Resources, publisher: KafkaPublisher):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        client = connect_mongo(settings.mongo_url)
        res.db = client[settings.mongo_db]
        session = aiohttp.ClientSession()
        store = ConnectionStore(res.db, TokenCipher(settings.token_key.get_secret_value()))
        oauth = OAuthClient(settings.pipedrive_token_url, settings.pipedrive_client_id,
                            settings.pipedrive_client_secret.get_secret_value())
        res.settings_repo = MongoSettingsRepository(res.db)
        tokens = TokenProvider("pipedrive", store, oauth, session)
        res.reader = PipedriveDealReader(session, tokens, settings.pipedrive_api_url)
        changes = MongoRecordChanges(res.db)
        await changes.ensure_indexes()
        res.record_sync = RecordSync(
            changes, res.settings_repo, PipedriveRecordReader(session, tokens, settings.pipedrive_api_url), publisher,
            MongoRecordOutcomes(res.db),
            SyncOptions(delay=timedelta(seconds=settings.record_sync_delay_seconds),
                        reconnect_wait=timedelta(seconds=settings.record_sync_reconnect_wait_seconds)))
        yield
        await session.close()
        await client.close()
    return ctx
