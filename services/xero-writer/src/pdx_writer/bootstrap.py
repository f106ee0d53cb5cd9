"""The xero-writer's composition root."""

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from pdx_common import topics
from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.consumer import subscribe
from pdx_common.contracts import COMMAND, DeadLettered, DocumentFailed
from pdx_common.crypto import TokenCipher
from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo, ping
from pdx_common.reliability import RetryPolicy
from pdx_common.service import KafkaPublisher, add_health_routes, broker_context, kafka_check
from pdx_common.xero import XeroClient
from pdx_writer.adapters.ledger import MongoLedger
from pdx_writer.adapters.links import MongoXeroLinks
from pdx_writer.handlers import Command, DocumentWriter
from pdx_writer.resolve import OrganisationFacts, Resolver
from pdx_writer.settings import WriterSettings

GROUP = "pdx-xero-writer"


class Resources:
    db = None
    writer: DocumentWriter


def create_app(settings: WriterSettings) -> web.Application:
    app = web.Application()
    broker = make_broker(settings)
    publisher = KafkaPublisher(broker)
    res = Resources()

    async def handle(command: Command) -> None:
        await res.writer.execute(command)

    async def dead_lettered(command: Command, dead: DeadLettered) -> None:
        await publisher.publish(DocumentFailed(
            company_id=command.company_id, deal_id=command.deal_id, command_id=command.id,
            source_event_id=command.source_event_id, trigger_id=command.trigger_id, stage="xero",
            code="dead_lettered", message=f"Xero could not be reached after {dead.attempts} tries "
            f"({dead.error[:200]}).", fix="Nothing to change on the deal: replay it once Xero answers again.",
            retryable=True), topics.DOCUMENT_RESULTS, topics.deal_key(command.company_id, command.deal_id))

    subscribe(broker, settings, topic=topics.XERO_COMMANDS, group_id=GROUP, contract=COMMAND, handle=handle,
              publisher=publisher, policy=RetryPolicy(settings.retry_attempts, settings.retry_first_delay),
              on_dead_letter=dead_lettered)
    app.cleanup_ctx.append(_resources(settings, res, publisher))
    app.cleanup_ctx.append(broker_context(broker))

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

        async def xero_for(company_id: str) -> tuple[XeroClient, str]:
            token = await tokens.token(company_id)
            client = XeroClient(session, tokens, company_id, settings.xero_api_url,
                                clock_speed=settings.xero_clock_speed)
            return client, token.tenant_id or ""

        res.writer = DocumentWriter(MongoLedger(db, settings.ledger_lease_seconds), Resolver(MongoXeroLinks(db)),
                                    OrganisationFacts(), xero_for, publisher, settings.xero_app_url)
        yield
        await session.close()
        await client.close()
    return ctx
