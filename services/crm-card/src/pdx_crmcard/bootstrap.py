"""The crm-card's composition root: the deal activity writer now; the JSON panel joins it."""

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from pdx_common import topics
from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.consumer import subscribe
from pdx_common.contracts import RESULT
from pdx_common.crypto import TokenCipher
from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo, ping
from pdx_common.pipedrive import PipedriveClient
from pdx_common.reliability import RetryPolicy
from pdx_common.service import KafkaPublisher, add_health_routes, broker_context, kafka_check
from pdx_crmcard.adapters.activity_log import MongoActivityLog
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from pdx_crmcard.handlers import Result, record_result
from pdx_crmcard.settings import CardSettings

ACTIVITY_GROUP = "pdx-crm-card-activities"


class Resources:
    db = None
    activity_log: MongoActivityLog
    deal_status: MongoDealStatus
    tokens: TokenProvider
    session: aiohttp.ClientSession


def create_app(settings: CardSettings) -> web.Application:
    app = web.Application()
    broker = make_broker(settings)
    publisher = KafkaPublisher(broker)
    res = Resources()

    async def write_activity(company_id: str, deal_id: str, subject: str, note: str) -> object:
        client = PipedriveClient(res.session, res.tokens, company_id, settings.pipedrive_api_url)
        return (await client.add_activity(deal_id, subject, note) or {}).get("id")

    async def handle(event: Result) -> None:
        await record_result(event, activity_log=res.activity_log, deal_status=res.deal_status, write=write_activity,
                            replay_hint=settings.replay_hint)

    subscribe(broker, settings, topic=topics.DOCUMENT_RESULTS, group_id=ACTIVITY_GROUP, contract=RESULT,
              handle=handle, publisher=publisher,
              policy=RetryPolicy(settings.retry_attempts, settings.retry_first_delay))
    app.cleanup_ctx.append(_resources(settings, res))
    app.cleanup_ctx.append(broker_context(broker))

    async def mongo() -> None:
        await ping(res.db)

    add_health_routes(app, [mongo, kafka_check(broker)])
    return app


def _resources(settings: CardSettings, res: Resources):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        client = connect_mongo(settings.mongo_url)
        res.db = db = client[settings.mongo_db]
        res.session = aiohttp.ClientSession()
        store = ConnectionStore(db, TokenCipher(settings.token_key.get_secret_value()))
        res.tokens = TokenProvider("pipedrive", store, OAuthClient(
            settings.pipedrive_token_url, settings.pipedrive_client_id,
            settings.pipedrive_client_secret.get_secret_value()), res.session)
        res.activity_log = MongoActivityLog(db)
        res.deal_status = MongoDealStatus(db)
        yield
        await res.session.close()
        await client.close()
    return ctx
