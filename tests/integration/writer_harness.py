"""The xero-writer wired as ``bootstrap.py`` wires it, against the real Xero sandbox, store and broker.

One ``WriterRig`` per test: a fresh sandbox on a loopback port, a company connected to it by the OAuth code flow,
a Kafka publisher, and helpers that build realistic commands and read back what the writer published.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common import topics
from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.contracts import (
    Contact,
    ContactSync,
    CreateInvoice,
    CreateQuote,
    DocumentSkipped,
    ItemSync,
    LineItem,
    SyncRecords,
)
from pdx_common.crypto import TokenCipher
from pdx_common.kafka import make_broker
from pdx_common.parking import MongoParkedCommands
from pdx_common.service import KafkaPublisher
from pdx_common.settings import ServiceSettings
from pdx_common.xero import XeroClient
from pdx_common.xero_links import MongoXeroLinks
from pdx_devstack.seed import XERO_CLIENT, connect_xero
from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.xero import NZ_TENANT_ID, XERO_STATE, XeroState, create_app
from pdx_sandbox.xero.state import RecordedRequest
from pdx_writer.adapters.ledger import MongoLedger
from pdx_writer.adapters.links import WriterLinks
from pdx_writer.adapters.record_syncs import MongoRecordSyncs
from pdx_writer.handlers import DocumentWriter
from pdx_writer.resolve import OrganisationFacts, Resolver
from tests.kafka_helpers import read_until

API = "/api.xro/2.0"
SENTINEL = "writer-test-sentinel"
DRAFT_DAY = date(2026, 11, 27)

KOWHAI = Contact(name="Kowhai Design Ltd", contact_number="pd-org-12", email="accounts@kowhai.co.nz",
                 phone="+64 9 555 0101", address="12 Ponsonby Road, Auckland 1011", source="organization",
                 source_id="12")
WORKSHOP = LineItem(description="Brand strategy workshop (hours)", quantity=Decimal("6"),
                    unit_amount=Decimal("150"), item_code="CONSULT-HR", tax_rate=Decimal("15"))
HOSTING = LineItem(description="Managed hosting, 12 months", quantity=Decimal("1"), unit_amount=Decimal("1200"),
                   account_code="200", tax_rate=Decimal("15"))


@dataclass
class SlowPublisher:
    """A broker that takes its time, so another writer can look at the ledger while a result is on its way."""

    inner: KafkaPublisher
    delay: float

    async def publish(self, message: BaseModel, topic: str, key: bytes) -> None:
        await asyncio.sleep(self.delay)
        await self.inner.publish(message, topic, key)


@dataclass
class WriterRig:
    company_id: str
    state: XeroState
    url: str
    db: AsyncDatabase
    session: aiohttp.ClientSession
    tokens: TokenProvider
    publisher: KafkaPublisher
    bootstrap: str
    store: ConnectionStore
    deals: set[str] = field(default_factory=set)

    # --- the writer, as bootstrap.py builds it ----------------------------------------------------------------
    def writer(self, *, ledger: MongoLedger | None = None, busy_wait: float = 0.05,
               publish_delay: float = 0.0) -> DocumentWriter:
        publisher = SlowPublisher(self.publisher, publish_delay) if publish_delay else self.publisher
        return DocumentWriter(ledger or MongoLedger(self.db, 120.0), Resolver(WriterLinks(self.db)),
                              OrganisationFacts(), self.xero_for, publisher, "https://go.xero.com",
                              busy_wait=busy_wait, parking=MongoParkedCommands(self.db),
                              record_syncs=MongoRecordSyncs(self.db), tenant_of=self.tenant_of)

    async def tenant_of(self, company_id: str) -> str | None:
        doc = await self.store.get("xero", company_id)
        return doc.get("tenant_id") if doc else None

    async def xero_for(self, company_id: str) -> tuple[XeroClient, str]:
        token = await self.tokens.token(company_id)
        return XeroClient(self.session, self.tokens, company_id, f"{self.url}{API}"), token.tenant_id or ""

    # --- commands ---------------------------------------------------------------------------------------------
    def invoice(self, deal_id: str = "4201", **fields: Any) -> CreateInvoice:
        return CreateInvoice(**self._common(deal_id, fields), due_date=DRAFT_DAY + timedelta(days=20))

    def quote(self, deal_id: str = "4201", **fields: Any) -> CreateQuote:
        extra = {"expiry_date": DRAFT_DAY + timedelta(days=30), "title": "Website rebuild",
                 "summary": "Discovery, design and build of the new site", "terms": "Valid for 30 days."}
        return CreateQuote(**{**extra, **self._common(deal_id, fields)})

    def _common(self, deal_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.deals.add(deal_id)
        base = {"company_id": self.company_id, "deal_id": deal_id, "trigger_id": "won-invoice",
                "source_event_id": uuid.uuid4().hex, "contact": KOWHAI, "line_items": (WORKSHOP, HOSTING),
                "currency_code": "NZD", "line_amount_types": "Exclusive", "date": DRAFT_DAY,
                "reference": "Website rebuild", "deal_title": "Website rebuild", "deal_value": Decimal("2100"),
                "deal_url": f"https://kowhai.pipedrive.com/deal/{deal_id}"}
        return {**base, **fields}

    def sync(self, contacts: tuple[ContactSync, ...] = (), items: tuple[ItemSync, ...] = (), *,
             company_id: str | None = None) -> SyncRecords:
        """Customers and products to keep in sync, as the mapper gathers them."""
        return SyncRecords(company_id=company_id or self.company_id, contacts=contacts, items=items)

    async def connect_another_company(self) -> str:
        """A second Pipedrive company connected to the same Xero organisation (they share its contacts)."""
        other = str((int(self.company_id) + 1) % 10**9)
        assert await connect_xero(self.session, self.store, self.url, other, NZ_TENANT_ID) == NZ_TENANT_ID
        return other

    # --- the sandbox ------------------------------------------------------------------------------------------
    def invoices(self) -> list[dict]:
        return self.state.invoices(NZ_TENANT_ID)

    def quotes(self) -> list[dict]:
        return self.state.quotes(NZ_TENANT_ID)

    def contacts(self) -> list[dict]:
        return self.state.contacts(NZ_TENANT_ID)

    def item(self, code: str) -> dict | None:
        return next((i for i in self.state.items(NZ_TENANT_ID) if i["Code"] == code), None)

    def mark(self) -> int:
        """A point in the request log; ``calls`` counts from it."""
        return len(self.state.requests)

    def calls(self, method: str, resource: str, since: int = 0) -> list[RecordedRequest]:
        return [r for r in self.state.requests[since:] if r.method == method and r.path == f"{API}/{resource}"]

    async def seed_contact(self, **fields: Any) -> dict:
        xero, _ = await self.xero_for(self.company_id)
        return (await xero.create_contacts([fields], uuid.uuid4().hex))[0]

    # --- the store and the broker -----------------------------------------------------------------------------
    async def link(self, kind: str, key: str, company_id: str | None = None) -> dict | None:
        return await MongoXeroLinks(self.db).doc(company_id or self.company_id, NZ_TENANT_ID, kind, key)

    async def record_sync(self, kind: str, key: str) -> dict | None:
        return await MongoRecordSyncs(self.db).get(self.company_id, NZ_TENANT_ID, kind, key)

    async def ledger_entry(self, command: CreateInvoice | CreateQuote) -> dict | None:
        return await self.db.ledger.find_one({"_id": command.ledger_key})

    async def results(self) -> list[dict]:
        """What the writer published for this company, in order; a sentinel per deal (same key, same partition)
        marks the end, so a missing or extra result cannot hide behind a timeout."""
        for deal_id in self.deals:
            await self.publisher.publish(DocumentSkipped(
                company_id=self.company_id, deal_id=deal_id, trigger_id=SENTINEL, source_event_id=SENTINEL,
                reason=SENTINEL), topics.DOCUMENT_RESULTS, topics.deal_key(self.company_id, deal_id))
        seen = await read_until(self.bootstrap, topics.DOCUMENT_RESULTS,
                                lambda got: len([m for m in got if m.get("trigger_id") == SENTINEL]) >= len(self.deals),
                                match=lambda m: m["company_id"] == self.company_id, timeout=60.0)
        return [m for m in seen if m.get("trigger_id") != SENTINEL]


def types(results: list[dict]) -> list[str]:
    return sorted(m["type"] for m in results)


@asynccontextmanager
async def open_rig(bootstrap: str, db: AsyncDatabase, run_id: str, *,
                   latency: float = 0.0) -> AsyncIterator[WriterRig]:
    state = XeroState(SandboxClock(speed=1))
    state.latency_seconds = latency
    server = TestServer(create_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    assert server.app is not None and server.app[XERO_STATE] is state
    broker = make_broker(ServiceSettings(kafka_bootstrap=bootstrap))
    await broker.start()
    company_id = str(int(run_id, 16) % 10**9)
    url = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession() as session:
            store = ConnectionStore(db, TokenCipher(Fernet.generate_key().decode()))
            tenant_id = await connect_xero(session, store, url, company_id)
            assert tenant_id == NZ_TENANT_ID
            tokens = TokenProvider("xero", store, OAuthClient(f"{url}/connect/token", *XERO_CLIENT), session)
            yield WriterRig(company_id, state, url, db, session, tokens, KafkaPublisher(broker), bootstrap, store)
    finally:
        await broker.stop()
        await server.close()
