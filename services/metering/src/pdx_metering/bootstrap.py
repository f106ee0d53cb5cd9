"""The metering service's composition root: settings in, a ready aiohttp app out. Nothing connects at import."""

from collections.abc import AsyncIterator

from aiohttp import web

from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo, ping
from pdx_common.service import KafkaPublisher, add_health_routes, broker_context, kafka_check
from pdx_metering.adapters.usage_store import MongoUsageStore
from pdx_metering.entrypoints.api import create_api
from pdx_metering.entrypoints.results import subscribe_results
from pdx_metering.keys import DB, SETTINGS, USAGE
from pdx_metering.settings import MeteringSettings


def create_app(settings: MeteringSettings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    broker = make_broker(settings)
    subscribe_results(broker, settings, KafkaPublisher(broker), lambda: app[USAGE])
    # The store opens before the broker starts consuming and closes after it stopped.
    app.cleanup_ctx.append(_mongo_context(settings))
    app.cleanup_ctx.append(broker_context(broker))
    app.add_subapp("/api", create_api())

    async def mongo() -> None:
        await ping(app[DB])

    add_health_routes(app, [mongo, kafka_check(broker)])
    return app


def _mongo_context(settings: MeteringSettings):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        client = connect_mongo(settings.mongo_url)
        db = client[settings.mongo_db]
        app[DB] = db
        app[USAGE] = store = MongoUsageStore(db)
        await store.ensure_indexes()
        yield
        await client.close()
    return ctx
