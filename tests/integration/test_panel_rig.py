"""The crm-card as bootstrap.py wires it, between the Xero and Pipedrive sandboxes, on the real store; shared by the
panel and Xero webhook tests (it holds no tests itself).

Every panel answer a test gets through ``CardRig.panel``/``CardRig.update`` is checked against Pipedrive's
documented JSON-panel limits (``panel_limits.problems``), whatever the test then asserts.
"""

import time
import uuid
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import jwt
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet
from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.contracts import DocumentCreated
from pdx_common.crypto import TokenCipher
from pdx_common.xero import XeroClient
from pdx_common.xero_links import MongoXeroLinks
from pdx_crmcard.bootstrap import CARD, Resources, create_app, result_handler
from pdx_crmcard.domain.panel_limits import problems
from pdx_crmcard.settings import CardSettings
from pdx_devstack.seed import PD_CLIENT, XERO_CLIENT, connect_pipedrive, connect_xero
from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.pipedrive import create_app as create_pipedrive
from pdx_sandbox.pipedrive.state import PipedriveState
from pdx_sandbox.xero import NZ_TENANT_ID, XeroState
from pdx_sandbox.xero import create_app as create_xero

API = "/api.xro/2.0"
WEBHOOK_KEY = "sandbox-xero-webhook-key"
ORG_KIWI, PERSON_AROHA, DEMO_DEAL = 101, 201, 1
KIWI = ("Kiwi Widgets Ltd", f"pd-org-{ORG_KIWI}")
AROHA = ("Aroha Ngata", f"pd-person-{PERSON_AROHA}")


def mint(company_id: str | int, *, secret: str = PD_CLIENT[1], expires_in: float = 300, **claims: Any) -> str:
    """A panel token as Pipedrive signs it (HS256 with the app's client secret)."""
    payload = {"userId": 12001, "companyId": int(company_id), "iat": int(time.time()),
               "exp": int(time.time() + expires_in), **claims}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)  # the sandbox's secret is short
        return jwt.encode(payload, secret, algorithm="HS256")


@dataclass
class CardRig:
    company_id: str
    tenant_id: str
    db: AsyncDatabase
    session: aiohttp.ClientSession
    store: ConnectionStore
    xero: XeroState
    xero_url: str
    pd: PipedriveState
    card: TestServer
    settings: CardSettings

    @property
    def res(self) -> Resources:
        assert self.card.app is not None
        return self.card.app[CARD]

    @property
    def card_url(self) -> str:
        return str(self.card.make_url("")).rstrip("/")

    # --- the panel, always checked against Pipedrive's limits -------------------------------------------------------
    async def panel(self, resource: str, object_id: int | str, *, token: str | None = None,
                    company_id: str | None = None, method: str = "GET", path: str = "/panel") -> tuple[int, dict]:
        company = company_id or self.company_id
        query = {"resource": resource, "view": "details", "userId": "12001", "companyId": company,
                 "selectedIds": str(object_id), "isShared": "false",
                 "token": token if token is not None else mint(company)}
        async with self.session.request(method, f"{self.card_url}{path}", params=query) as resp:
            body = await resp.json()
            status = resp.status
        assert problems(body, status) == [], (status, body)
        return status, body

    async def update(self, resource: str, object_id: int | str, **kwargs: Any) -> tuple[int, dict]:
        return await self.panel(resource, object_id, method="POST", path="/panel/update", **kwargs)

    # --- drafts as the xero-writer makes them -----------------------------------------------------------------------
    def xero_client(self) -> XeroClient:
        tokens = TokenProvider("xero", self.store, OAuthClient(f"{self.xero_url}/connect/token", *XERO_CLIENT),
                               self.session)
        return XeroClient(self.session, tokens, self.company_id, f"{self.xero_url}{API}")

    async def draft(self, deal_id: int | str, customer: tuple[str, str] = KIWI, *, kind: str = "invoice",
                    issued: date | None = None, due_days: int = 20, hours: int = 10, trigger_id: str = "won",
                    pipeline_id: int | None = None) -> dict:
        """A draft in Xero for the deal, its contact link, and its DocumentCreated through the result handler."""
        issued = issued or datetime.now(UTC).date()
        element = {"Contact": {"Name": customer[0], "ContactNumber": customer[1]}, "Date": issued.isoformat(),
                   "LineItems": [{"ItemCode": "CONSULT-HR", "Description": "Consulting", "Quantity": hours}],
                   "Status": "DRAFT"}
        if kind == "invoice":
            element.update(Type="ACCREC", DueDate=(issued + timedelta(days=due_days)).isoformat())
        else:
            element.update(ExpiryDate=(issued + timedelta(days=due_days)).isoformat(), LineAmountTypes="EXCLUSIVE")
        plural, id_field, number_field = (("Invoices", "InvoiceID", "InvoiceNumber") if kind == "invoice"
                                          else ("Quotes", "QuoteID", "QuoteNumber"))
        created = (await self.xero_client().create_documents(plural, [element], uuid.uuid4().hex))[0]
        assert created.get("StatusAttributeString", "OK") == "OK", created
        contact_id = created["Contact"]["ContactID"]
        await MongoXeroLinks(self.db).put(self.company_id, self.tenant_id, "contact", customer[1], contact_id)
        event = DocumentCreated(
            company_id=self.company_id, deal_id=str(deal_id), command_id=uuid.uuid4().hex, trigger_id=trigger_id,
            kind=kind, tenant_id=self.tenant_id, xero_id=created[id_field], number=created[number_field],
            total=Decimal(str(created["Total"])), currency_code=created["CurrencyCode"], status=created["Status"],
            xero_url=f"https://go.xero.com/drafts/{created[id_field]}", contact_name=customer[0],
            contact_id=contact_id, contact_number=customer[1], issue_date=issued,
            due_date=issued + timedelta(days=due_days), pipeline_id=pipeline_id)
        await result_handler(self.settings, self.res)(event)
        return created

    # --- what Pipedrive and Xero saw --------------------------------------------------------------------------------
    def activities(self, deal_id: int | str) -> list[dict]:
        return [a for a in self.pd.activities.values() if a["deal_id"] == int(deal_id)]

    def xero_calls(self) -> int:
        return len([r for r in self.xero.requests if r.path.startswith(API)])


def settings_for(infra: Any, db: AsyncDatabase, token_key: str, xero_url: str, pd_url: str,
                 **overrides: Any) -> CardSettings:
    values = {"kafka_bootstrap": infra.kafka_bootstrap, "mongo_url": infra.mongo_url, "mongo_db": db.name,
              "log_json": True, "token_key": token_key, "pipedrive_token_url": f"{pd_url}/oauth/token",
              "pipedrive_client_id": PD_CLIENT[0], "pipedrive_client_secret": PD_CLIENT[1],
              "pipedrive_api_url": pd_url, "xero_api_url": f"{xero_url}{API}",
              "xero_token_url": f"{xero_url}/connect/token", "xero_client_id": XERO_CLIENT[0],
              "xero_client_secret": XERO_CLIENT[1], "xero_webhook_key": WEBHOOK_KEY,
              "settings_url": "https://demo.pipedrive.com/settings/marketplace/app/{client_id}/app-settings",
              "retry_first_delay": 0.05, "webhook_poll_seconds": 0.2, **overrides}
    return CardSettings(**values)


@asynccontextmanager
async def open_card(infra: Any, db: AsyncDatabase, *, background: bool = False, connect: bool = True,
                    **overrides: Any) -> AsyncIterator[CardRig]:
    xero = XeroState(SandboxClock(speed=1))
    pd = PipedriveState(SandboxClock(speed=1))
    servers = [TestServer(create_xero(xero), host="127.0.0.1"), TestServer(create_pipedrive(pd), host="127.0.0.1")]
    for server in servers:
        await server.start_server()
    xero_url, pd_url = (str(s.make_url("")).rstrip("/") for s in servers)
    token_key = Fernet.generate_key().decode()
    settings = settings_for(infra, db, token_key, xero_url, pd_url, **overrides)
    card = TestServer(create_app(settings, consume_results=False, background=background), host="127.0.0.1")
    try:
        async with aiohttp.ClientSession() as session:
            store = ConnectionStore(db, TokenCipher(token_key))
            company_id = (await connect_pipedrive(session, store, pd_url))["company_id"]
            tenant_id = await connect_xero(session, store, xero_url, company_id) if connect else NZ_TENANT_ID
            await card.start_server()
            rig = CardRig(company_id, tenant_id, db, session, store, xero, xero_url, pd, card, settings)
            yield rig
    finally:
        await card.close()
        for server in servers:
            await server.close()
