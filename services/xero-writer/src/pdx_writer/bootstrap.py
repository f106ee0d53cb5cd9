"""The xero-writer's composition root."""

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.crypto import TokenCipher
from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo, ping
from pdx_common.parking import MongoParkedCommands
from pdx_common.ratelimit import ScaledClock, XeroRateLimiter
from pdx_common.service import KafkaPublisher, add_health_routes, broker_context, kafka_check
from pdx_common.xero import XeroClient
from pdx_writer.adapters.ledger import MongoLedger
from pdx_writer.adapters.links import WriterLinks
from pdx_writer.adapters.record_syncs import MongoRecordSyncs
from pdx_writer.entrypoints.commands import subscribe_commands
from pdx_writer.handlers import DocumentWriter, Queued
from pdx_writer.resolve import OrganisationFacts, Resolver
from pdx_writer.settings import WriterSettings


class Resources:
    db = None
    writer: DocumentWriter


def create_app(settings: WriterSettings) -> web.Application:
    app = web.Application()
    broker = make_broker(settings)
    publisher = KafkaPublisher(broker)
    res = Resources()

    async def execute_batch(commands: list[Queued]) -> None:
        await res.writer.execute_batch(commands)

    queues = subscribe_commands(broker, settings, publisher, execute_batch)
    app.cleanup_ctx.append(_resources(settings, res, publisher))
    app.cleanup_ctx.append(broker_context(broker, before_stop=lambda: queues.drain(settings.shutdown_seconds),
                                          after_stop=queues.stop))

    async def mongo() -> None:
        await ping(res.db)

    add_health_routes(app, [mongo, kafka_check(broker)])
    return app


def _resources(settings: WriterSettings, res: Resources, publisher: KafkaPublisher):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        client = connect_mongo(settings.mongo_url)
        res.db = db = client[settings.mongo_db]
        session = aiohttp.ClientSession()
        store = ConnectionStore(db, TokenCipher(settings.token_key.get_secret_value()))
        tokens = TokenProvider("xero", store, OAuthClient(
            settings.xero_token_url, settings.xero_client_id, settings.xero_client_secret.get_secret_value()), session)
        limiter = XeroRateLimiter(clock=ScaledClock(settings.xero_clock_speed))

        async def xero_for(company_id: str) -> tuple[XeroClient, str]:
            token = await tokens.token(company_id)
            xero = XeroClient(session, tokens, company_id, settings.xero_api_url,
                              clock_speed=settings.xero_clock_speed, limiter=limiter)
            return xero, token.tenant_id or ""

        async def usable(company_id: str) -> bool:
            doc = await store.get("xero", company_id)
            return bool(doc and doc.get("status") == "ok" and doc.get("tenant_id"))

        async def tenant_of(company_id: str) -> str | None:
            doc = await store.get("xero", company_id)
            return doc.get("tenant_id") if doc else None

        ledger, parking = MongoLedger(db, settings.ledger_lease_seconds), MongoParkedCommands(db)
        links = WriterLinks(db)
        await ledger.ensure_indexes()
        await parking.ensure_indexes()
        await links.ensure_indexes()
        res.writer = DocumentWriter(ledger, Resolver(links),
                                    OrganisationFacts(), xero_for, publisher, settings.xero_app_url,
                                    parking=parking, connection_usable=usable, record_syncs=MongoRecordSyncs(db),
                                    tenant_of=tenant_of)
        yield
        await session.close()
        await client.close()
    return ctx
