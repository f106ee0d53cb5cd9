"""The crm-card's composition root: the deal activity writer, the Xero read model and its JSON panel, the Xero
webhook and its inbox worker, and the scheduled quote refresh."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from pdx_common import topics
from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.consumer import subscribe
from pdx_common.contracts import RESULT, DeadLettered, DocumentCreated, DocumentUpdated
from pdx_common.crypto import TokenCipher
from pdx_common.dead_letters import MongoDeadLetters, producer_told_the_deal
from pdx_common.http import ConnectionMissing
from pdx_common.kafka import make_broker
from pdx_common.mongo import connect_mongo, ping
from pdx_common.pipedrive import PipedriveClient
from pdx_common.ratelimit import ScaledClock, XeroRateLimiter
from pdx_common.reliability import RetryPolicy, describe, is_transient
from pdx_common.service import KafkaPublisher, add_health_routes, broker_context, kafka_check
from pdx_common.xero import XeroClient
from pdx_common.xero_links import MongoXeroLinks
from pdx_crmcard.adapters.activity_log import MongoActivityLog
from pdx_crmcard.adapters.company_settings import MongoCompanySettings
from pdx_crmcard.adapters.deal_field_writes import MongoDealFieldWrites
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_crmcard.adapters.pipedrive_records import PipedriveRecords
from pdx_crmcard.adapters.record_syncs import MongoRecordSyncs
from pdx_crmcard.adapters.refresh_marks import MongoRefreshMarks
from pdx_crmcard.adapters.webhook_inbox import MongoWebhookInbox
from pdx_crmcard.adapters.xero_connections import MongoXeroConnections
from pdx_crmcard.customer_search import CustomerSearch
from pdx_crmcard.deal_numbers import DealNumbers
from pdx_crmcard.entrypoints import panel_http, xero_webhooks
from pdx_crmcard.entrypoints.background import InboxWorker, QuoteRefresher
from pdx_crmcard.handlers import Result, record_result
from pdx_crmcard.links import DealLinks
from pdx_crmcard.settings import CardSettings
from pdx_crmcard.sync import DocumentSync
from pdx_crmcard.views import PanelReader

log = structlog.get_logger()
ACTIVITY_GROUP = "pdx-crm-card-activities"
DEAD_LETTER_GROUP = "pdx-crm-card-dead-letters"


class Resources:
    db = None
    pipedrive_api_url: str | None = None
    activity_log: MongoActivityLog
    dead_letters: MongoDeadLetters
    deal_status: MongoDealStatus
    tokens: TokenProvider
    session: aiohttp.ClientSession
    sync: DocumentSync
    inbox: MongoWebhookInbox
    inbox_worker: InboxWorker
    quote_refresher: QuoteRefresher
    links: DealLinks
    records: PipedriveRecords

    def pipedrive(self, company_id: str) -> PipedriveClient:
        return PipedriveClient(self.session, self.tokens, company_id, self.pipedrive_api_url)

    async def write_activity(self, company_id: str, deal_id: str, subject: str, note: str) -> object:
        return (await self.pipedrive(company_id).add_activity(deal_id, subject, note) or {}).get("id")


CARD: web.AppKey[Resources] = web.AppKey("crm_card", Resources)


def create_app(settings: CardSettings, *, consume_results: bool = True, background: bool = True) -> web.Application:
    """``consume_results=False``/``background=False`` leave out the Kafka consumer and the loops (tests drive
    those parts directly)."""
    app = web.Application()
    res = app[CARD] = Resources()
    res.pipedrive_api_url = settings.pipedrive_api_url
    res.links = deal_links(settings)
    res.records = PipedriveRecords(res.pipedrive)
    panel = panel_http.PanelDeps(settings.jwt_secret)
    hooks = xero_webhooks.WebhookDeps(settings.xero_webhook_key.get_secret_value()
                                      if settings.xero_webhook_key else None, wakeup=asyncio.Event())
    panel_http.add_routes(app, panel)
    xero_webhooks.add_routes(app, hooks)
    app.cleanup_ctx.append(_resources(settings, res, panel, hooks))
    checks = []
    if consume_results:
        broker = make_broker(settings)
        _subscribe_results(broker, settings, res)
        _subscribe_dead_letters(broker, settings, res)
        app.cleanup_ctx.append(broker_context(broker))
        checks.append(kafka_check(broker))
    if background:
        app.cleanup_ctx.append(_loops(settings, res, hooks))

    async def mongo() -> None:
        await ping(res.db)

    add_health_routes(app, [mongo, *checks])
    return app


def deal_links(settings: CardSettings) -> DealLinks:
    key = settings.link_signing_key.get_secret_value() if settings.link_signing_key else None
    if not settings.gateway_url or not key:
        log.warning("PDX_CARD_GATEWAY_URL/LINK_SIGNING_KEY not set: failures carry no Replay link")
    return DealLinks(settings.gateway_url, key, ttl_seconds=settings.action_link_ttl_seconds)


def result_handler(settings: CardSettings, res: Resources) -> Callable[[Result], Awaitable[None]]:
    """One result: its activity on the deal (as before), then a created or updated draft joins the read model."""
    async def handle(event: Result) -> None:
        await record_result(event, activity_log=res.activity_log, deal_status=res.deal_status,
                            write=res.write_activity, replay_hint=settings.replay_hint,
                            replay_link=res.links.replay)
        if isinstance(event, DocumentCreated):
            await res.sync.record_created(event)
        elif isinstance(event, DocumentUpdated):
            await res.sync.record_updated(event)
    return handle


def _subscribe_results(broker, settings: CardSettings, res: Resources) -> None:
    subscribe(broker, settings, topic=topics.DOCUMENT_RESULTS, group_id=ACTIVITY_GROUP, contract=RESULT,
              handle=result_handler(settings, res), publisher=KafkaPublisher(broker),
              policy=RetryPolicy(settings.retry_attempts, settings.retry_first_delay))


def dead_letter_handler(res: Resources) -> Callable[[DeadLettered], Awaitable[None]]:
    """Keep each dead letter for the operators (once), and tell its deal once when its producer did not."""
    async def handle(dead: DeadLettered) -> None:
        try:
            if await res.dead_letters.store(dead, datetime.now(UTC)):
                log.warning("dead letter stored for the operators", dead_letter_id=dead.id,
                            source_topic=dead.source_topic)
        except Exception as exc:
            if is_transient(exc) or dead.source_topic != topics.DEAD_LETTER:
                raise
            # A dead letter about a dead letter that cannot be stored: dead-lettering it again would loop for ever.
            log.error("dead letter could not be stored; it stays on the topic only", dead_letter_id=dead.id,
                      error=describe(exc))
            return
        if producer_told_the_deal(dead) or dead.source_topic == topics.DEAD_LETTER or dead.deal_id == "unknown":
            return
        if not await res.activity_log.claim(dead.id, dead.company_id, dead.deal_id):
            return
        try:
            activity_id = await res.write_activity(
                dead.company_id, dead.deal_id, "Xero sync: held for your administrator",
                "Something about this deal could not be processed automatically, so it was set aside and nothing "
                f"was lost. Your administrator can send it again once the cause is put right. Reference: {dead.id}.")
        except ConnectionMissing:
            log.warning("the company has no Pipedrive connection; the dead letter is stored, the deal not told")
            return
        except BaseException:
            await res.activity_log.release(dead.id)
            raise
        await res.activity_log.written(dead.id, activity_id)
    return handle


def _subscribe_dead_letters(broker, settings: CardSettings, res: Resources) -> None:
    subscribe(broker, settings, topic=topics.DEAD_LETTER, group_id=DEAD_LETTER_GROUP, contract=DeadLettered,
              handle=dead_letter_handler(res), publisher=KafkaPublisher(broker),
              policy=RetryPolicy(settings.retry_attempts, settings.retry_first_delay))


def _resources(settings: CardSettings, res: Resources, panel: panel_http.PanelDeps,
               hooks: xero_webhooks.WebhookDeps):
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
        res.dead_letters = MongoDeadLetters(db)
        _read_side(settings, res, store, panel, hooks)
        await _ensure_indexes(db)
        yield
        await res.session.close()
        await client.close()
    return ctx


def _read_side(settings: CardSettings, res: Resources, store: ConnectionStore, panel: panel_http.PanelDeps,
               hooks: xero_webhooks.WebhookDeps) -> None:
    db = res.db
    docs, marks, connections = MongoXeroDocuments(db), MongoRefreshMarks(db), MongoXeroConnections(db)
    company_settings, links, xero_for = MongoCompanySettings(db), MongoXeroLinks(db), _xero_for(settings, res, store)
    numbers = DealNumbers(company_settings.of, docs, MongoDealFieldWrites(db), res.records.update_deal)
    res.sync = DocumentSync(docs, res.activity_log, res.write_activity, xero_for, marks,
                            app_url=settings.xero_app_url, cooldown=settings.update_cooldown, numbers=numbers)
    panel.reader = PanelReader(docs, links, connections, res.records.deal_customer, res.sync,
                               settings_url=settings.panel_settings_url, xero_app_url=settings.xero_app_url,
                               search=CustomerSearch(res.records, xero_for, links, MongoRecordSyncs(db)),
                               timezone_of=company_settings.timezone, failures=res.deal_status.failures,
                               replay_link=res.links.replay, creates_contacts=company_settings.creates_contacts)
    hooks.inbox = res.inbox = MongoWebhookInbox(db)
    res.inbox_worker = InboxWorker(hooks.inbox, connections, res.sync, docs=docs, attempts=settings.webhook_attempts,
                                   first_delay=settings.retry_first_delay)
    res.quote_refresher = QuoteRefresher(connections, docs, res.sync, marks,
                                         every=timedelta(seconds=settings.quote_refresh_seconds),
                                         calls=settings.quote_refresh_calls)


def _xero_for(settings: CardSettings, res: Resources, store: ConnectionStore):
    credentials = settings.xero_credentials
    if credentials is None:
        log.warning("PDX_CARD_XERO_CLIENT_ID/SECRET not set: Update and the refreshes cannot call Xero")
    limiter = XeroRateLimiter(clock=ScaledClock(settings.xero_clock_speed))
    tokens = TokenProvider("xero", store, OAuthClient(settings.xero_token_url, *(credentials or ("", ""))),
                           res.session) if credentials else None

    async def xero_for(company_id: str) -> XeroClient:
        if tokens is None:
            raise RuntimeError("Xero client credentials are not configured (PDX_CARD_XERO_CLIENT_ID/SECRET)")
        return XeroClient(res.session, tokens, company_id, settings.xero_api_url,
                          clock_speed=settings.xero_clock_speed, limiter=limiter)
    return xero_for


async def _ensure_indexes(db) -> None:
    for adapter in (MongoXeroDocuments(db), MongoWebhookInbox(db), MongoXeroConnections(db), MongoDealStatus(db),
                    MongoDeadLetters(db), MongoDealFieldWrites(db)):
        await adapter.ensure_indexes()


STOP_GRACE_SECONDS = 10.0


def _loops(settings: CardSettings, res: Resources, hooks: xero_webhooks.WebhookDeps):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        assert hooks.wakeup is not None
        stopping = asyncio.Event()
        tasks = [_task(res.inbox_worker.run_forever(hooks.wakeup, settings.webhook_poll_seconds, stopping), "inbox"),
                 _task(res.quote_refresher.run_forever(stopping), "quote refresh")]
        yield
        # Each loop finishes its round and sees the stop; only a round still busy after the grace (a slow Xero) is
        # cancelled: a store operation cancelled while it opens a connection leaves that socket unclosed.
        stopping.set()
        hooks.wakeup.set()
        _, busy = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in busy:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return ctx


def _task(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task:
    task = asyncio.create_task(work, name=name)
    task.add_done_callback(_crashed)
    return task


def _crashed(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background loop stopped", loop=task.get_name(), error=repr(task.exception()))

