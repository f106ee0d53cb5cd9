"""The gateway's composition root: settings in, a ready aiohttp app out. Nothing connects at import time."""

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo, ping
from pdx_common.parking import MongoParkedCommands
from pdx_common.service import KafkaPublisher, add_health_routes, broker_context, kafka_check
from pdx_gateway import erase, jobs, record_webhooks
from pdx_gateway.adapters.connections import MongoConnections
from pdx_gateway.adapters.deal_events import MongoDealEvents
from pdx_gateway.adapters.mongo import MongoSeenEvents, MongoWebhookCredentials
from pdx_gateway.adapters.oauth_states import MongoOAuthStates
from pdx_gateway.adapters.settings_repo import MongoSettingsStore
from pdx_gateway.adapters.sync_log import MongoSyncLog
from pdx_gateway.app_ui.app import create_ui
from pdx_gateway.app_ui.session import MongoAppSessions
from pdx_gateway.connector import build_connector
from pdx_gateway.deal_actions import create_deal_actions
from pdx_gateway.entrypoints import oauth_pipedrive, oauth_xero, webhooks
from pdx_gateway.entrypoints.api import create_api
from pdx_gateway.errors import error_middleware
from pdx_gateway.keys import (
    APP_SESSIONS,
    CONNECTIONS,
    CONNECTOR,
    CREDENTIALS,
    DB,
    PARKED,
    PUBLISHER,
    SEEN_EVENTS,
    SETTINGS,
    SETTINGS_STORE,
    STAGE_EVENTS,
)
from pdx_gateway.settings import GatewaySettings


def create_app(settings: GatewaySettings) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    broker = make_broker(settings)
    app[PUBLISHER] = KafkaPublisher(broker)
    app.cleanup_ctx.append(_mongo_context(settings))
    app.cleanup_ctx.append(broker_context(broker))
    app.cleanup_ctx.append(_oauth_context(settings))
    app.cleanup_ctx.append(erase.purge_context(settings.erase_check_seconds))
    app.cleanup_ctx.append(jobs.runner_context)
    app.cleanup_ctx.append(record_webhooks.add_missing_context)  # after the OAuth context: it needs the connector
    app.add_routes(webhooks.routes)
    app.add_routes(oauth_pipedrive.routes)
    app.add_routes(oauth_xero.routes)
    app.add_subapp("/api", create_api())
    app.add_subapp("/app", create_ui())
    app.add_subapp("/deal", create_deal_actions())

    async def mongo() -> None:
        await ping(app[DB])

    add_health_routes(app, [mongo, kafka_check(broker)])
    return app


def _mongo_context(settings: GatewaySettings):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        client = connect_mongo(settings.mongo_url)
        db = client[settings.mongo_db]
        app[DB] = db
        app[CREDENTIALS] = MongoWebhookCredentials(db)
        app[SEEN_EVENTS] = seen = MongoSeenEvents(db)
        await seen.ensure_indexes()
        app[STAGE_EVENTS] = MongoDealEvents(db)
        app[SETTINGS_STORE] = settings_store = MongoSettingsStore(db)
        await settings_store.ensure_indexes()
        await MongoSyncLog(db).ensure_indexes()
        app[CONNECTIONS] = MongoConnections(db)
        app[PARKED] = MongoParkedCommands(db)
        app[APP_SESSIONS] = sessions = MongoAppSessions(db, settings.app_session_ttl_seconds)
        await sessions.ensure_indexes()
        yield
        await client.close()
    return ctx


def _oauth_context(settings: GatewaySettings):
    """Installs and connections need the public URL and the token key; without them their routes answer 503."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if not (settings.public_url and settings.token_key):
            yield
            return
        await MongoOAuthStates(app[DB], settings.oauth_state_ttl_seconds).ensure_indexes()
        async with aiohttp.ClientSession() as session:
            app[CONNECTOR] = build_connector(settings, app[DB], session, app[PUBLISHER])
            yield
    return ctx
