"""The settings app's sync log and usage pages, on the real store and broker, with the Xero and Pipedrive sandboxes
and a fake metering API that records what it is asked: the session's company's outcomes only, filters, links to the
deal and into the right Xero organisation, Replay for the session's company only, and usage as metered."""

import html
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.connections import ConnectionStore
from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentParked, DocumentSkipped
from pdx_common.crypto import TokenCipher
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_crmcard.domain.documents import from_created
from pdx_devstack.infra import free_port
from pdx_devstack.seed import connect_pipedrive, connect_xero
from pdx_gateway.adapters.settings_repo import MongoSettingsStore
from pdx_gateway.app_ui.session import COOKIE, MongoAppSessions
from pdx_gateway.bootstrap import create_app
from pdx_gateway.settings import GatewaySettings
from pdx_metering.adapters.usage_store import MongoUsageStore
from pdx_metering.bootstrap import create_app as metering_app
from pdx_metering.domain.usage import billable
from pdx_metering.settings import MeteringSettings
from pdx_sandbox.faults import Fault
from pdx_sandbox.pipedrive import PipedriveState
from pdx_sandbox.pipedrive import create_app as pipedrive_app
from pdx_sandbox.xero import XeroState
from pdx_sandbox.xero import create_app as xero_app
from tests.integration.test_oauth_pipedrive import oauth_settings, started
from tests.kafka_helpers import deal_event_marker, read_to_markers

METERING_TOKEN = "test-metering-token-0123456789abcdef"
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@dataclass
class Company:
    """One installed company with markers that appear nowhere else: its name, domain, organisation, words."""

    name: str  # "alpha" or "bravo"
    run: str
    pd: PipedriveState
    id: str = ""
    tenant_id: str = ""
    deal_id: str = ""  # a deal of its own in its Pipedrive, titled with its marker

    @property
    def mark(self) -> str:
        return f"{self.name}{self.run}"

    @property
    def domain(self) -> str:
        return f"{self.name}{self.run}"

    @property
    def organisation(self) -> str:
        return f"{self.name.capitalize()} Books {self.run}"

    @property
    def account(self) -> str:
        """A revenue account code of its own (10 characters at most; not a substring of the company's domain)."""
        return f"{self.name[0].upper()}{self.run[:8]}"

    @property
    def admin_name(self) -> str:
        return f"{self.name.capitalize()} Admin {self.run}"


@dataclass
class FakeMetering:
    """The metering API's usage route on port 0: answers each company's months and records who was asked."""

    usage: dict[str, list[dict]] = field(default_factory=dict)
    asked: list[tuple[str, str | None]] = field(default_factory=list)  # (company id in the path, Authorization)
    status: int = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/companies/{company_id}/usage", self._usage)
        return app

    async def _usage(self, request: web.Request) -> web.Response:
        company_id = request.match_info["company_id"]
        self.asked.append((company_id, request.headers.get("Authorization")))
        if self.status != 200:
            return web.json_response({"error": {"code": "unavailable"}}, status=self.status)
        return web.json_response({"company_id": company_id, "months": self.usage.get(company_id, [])})


@dataclass
class AppStack:
    url: str
    app: web.Application
    db: object
    settings: GatewaySettings
    xero: XeroState
    metering: FakeMetering
    a: Company
    b: Company

    async def session(self, company: Company, *, admin: bool = True) -> tuple[str, str]:
        """A session as the entry makes one; returns (cookie value, CSRF token)."""
        sessions = MongoAppSessions(self.db, 3600)
        token, session = await sessions.create(company_id=company.id, user_id="1", user_name=company.admin_name,
                                               is_admin=admin, company_domain=company.domain, embedded=None)
        return token, session.csrf

    @asynccontextmanager
    async def browser(self, company: Company, *, admin: bool = True) -> AsyncIterator["Browser"]:
        token, csrf = await self.session(company, admin=admin)
        jar = aiohttp.CookieJar(unsafe=True)  # a cookie for 127.0.0.1, as a browser keeps it
        jar.update_cookies({COOKIE: token}, URL(self.url))
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            yield Browser(self.url, http, csrf)


@dataclass
class Browser:
    base: str
    http: aiohttp.ClientSession
    csrf: str

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"{self.base}{path}", allow_redirects=False) as resp:
            return resp.status, html.unescape(await resp.text())

    async def post(self, path: str, form: dict | list, *, csrf: bool = True) -> tuple[int, str, str | None]:
        items = list(form.items()) if isinstance(form, dict) else list(form)
        if csrf:
            items.append(("csrf", self.csrf))
        async with self.http.post(f"{self.base}{path}", data=items, allow_redirects=False) as resp:
            return resp.status, html.unescape(await resp.text()), resp.headers.get("Location")


async def _install(company: Company, http: aiohttp.ClientSession, store: ConnectionStore, pd_url: str,
                   xero: XeroState, xero_url: str, db) -> None:
    """Both connections as an install leaves them (the Xero grant covering the company's own organisation)."""
    company.id = (await connect_pipedrive(http, store, pd_url))["company_id"]
    company.tenant_id = xero.add_tenant(company.organisation, "NZD", country_code="NZ")
    await connect_xero(http, store, xero_url, company.id, company.tenant_id)
    await db.connections.update_one({"_id": f"xero:{company.id}"}, {"$set": {"tenants": [
        {"tenantId": company.tenant_id, "tenantName": company.organisation, "id": uuid.uuid4().hex}]}})


@asynccontextmanager
async def app_stack(infra, mongo_db, run_id: str, *, metering: bool = True,
                    metering_url: str | None = None) -> AsyncIterator[AppStack]:
    """Two installed companies (A "alpha" and B "bravo", each with its own Pipedrive sandbox and Xero organisation),
    the gateway with the settings app, and the fake metering API."""
    pds = {name: PipedriveState(company_id=int(uuid.uuid4().int % 10**9) + 10**9, company_domain=f"{name}{run_id}",
                                company_name=f"{name.capitalize()} Company {run_id}") for name in ("alpha", "bravo")}
    servers = []
    for pd in pds.values():
        server, pd.base_url = await started(pipedrive_app(pd))
        servers.append(server)
    xero = XeroState()
    xero_server, xero_url = await started(xero_app(xero))
    real_metering_url = metering_url
    fake = FakeMetering()
    metering_server, metering_url = await started(fake.app())
    servers += [xero_server, metering_server]
    port = free_port()
    extra = {"metering_url": real_metering_url or metering_url, "metering_token": METERING_TOKEN} if metering else {}
    settings = oauth_settings(infra, mongo_db.name, port, pds["alpha"].base_url, xero_url,
                              xero_api_url=f"{xero_url}/api.xro/2.0", **extra)
    app = create_app(settings)
    gateway, gateway_url = await started(app, port)
    try:
        a, b = Company("alpha", run_id, pds["alpha"]), Company("bravo", run_id, pds["bravo"])
        store = ConnectionStore(mongo_db, TokenCipher(settings.token_key.get_secret_value()))
        async with aiohttp.ClientSession() as http:
            for company in (a, b):
                await _install(company, http, store, company.pd.base_url, xero, xero_url, mongo_db)
        yield AppStack(gateway_url, app, mongo_db, settings, xero, fake, a, b)
    finally:
        await gateway.close()
        for server in servers:
            await server.close()


@pytest.fixture
async def stack(infra, mongo_db, run_id) -> AsyncIterator[AppStack]:
    async with app_stack(infra, mongo_db, run_id) as running:
        yield running


# --- what each company has: settings, outcomes, drafts, usage ---------------------------------------------------

async def seed_settings(s: AppStack, company: Company) -> None:
    settings = CompanySettings.model_validate({
        "timezone": "Pacific/Auckland",
        "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}],
        "fields": {"reference": f"{company.account}-{{deal.id}}", "quote_summary": f"Summary {company.mark}",
                   "quote_terms": f"Terms {company.mark}"},
        "money": {"sales_account_code": company.account}})
    await MongoSettingsStore(s.db).replace(company.id, settings, 1)


def created(company: Company, deal_id: str, at: datetime, number: str, total: str = "345.00") -> DocumentCreated:
    return DocumentCreated(company_id=company.id, deal_id=deal_id, command_id=uuid.uuid4().hex, trigger_id="p1-s5",
                           kind="invoice", tenant_id=company.tenant_id, xero_id=f"inv-{company.mark}-{deal_id}",
                           number=number, total=Decimal(total), currency_code="NZD", status="DRAFT",
                           xero_url=f"https://go.xero.com/AccountsReceivable/Edit.aspx?InvoiceID=inv-"
                                    f"{company.mark}-{deal_id}",
                           contact_name=f"Customer {company.mark}", occurred_at=at)


def failed(company: Company, deal_id: str, at: datetime, trigger: str | None = "p1-s5") -> DocumentFailed:
    return DocumentFailed(company_id=company.id, deal_id=deal_id, trigger_id=trigger, stage="mapping",
                          code="no_customer", message=f"Deal {deal_id} has no customer ({company.mark}).",
                          fix=f"Link an organisation to the deal ({company.mark}).", occurred_at=at)


async def seed_outcomes(s: AppStack, company: Company) -> None:
    """Through the crm-card's own writers: a draft (deal 41), a failure (42), a deal waiting for Xero (43), a skip
    (44) and an early failure that a later draft settled (45: "superseded", never shown)."""
    status, docs = MongoDealStatus(s.db), MongoXeroDocuments(s.db)
    draft = created(company, "41", T0, f"INV-{company.mark}")
    await status.record(draft)
    await docs.record_created(*from_created(draft))
    await status.record(failed(company, "42", T0 + timedelta(minutes=1)))
    await status.record(DocumentParked(company_id=company.id, deal_id="43", command_id=uuid.uuid4().hex,
                                       trigger_id="p1-s5", kind="invoice", reason="Xero is disconnected",
                                       occurred_at=T0 + timedelta(minutes=2)))
    await status.record(DocumentSkipped(company_id=company.id, deal_id="44", trigger_id="p1-s5",
                                        source_event_id="e44", reason=f"Skipped {company.mark}",
                                        occurred_at=T0 + timedelta(minutes=3)))
    await status.record(failed(company, "45", T0 - timedelta(minutes=5), trigger=None))
    settled = created(company, "45", T0 - timedelta(minutes=4), f"SETTLED-{company.mark}")
    await status.record(settled)


def this_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}"


def seed_usage(s: AppStack) -> None:
    s.metering.usage[s.a.id] = [{"month": "2026-01", "drafts": 5, "invoices": 4, "quotes": 1},
                                {"month": this_month(), "drafts": 10, "invoices": 7, "quotes": 3}]
    s.metering.usage[s.b.id] = [{"month": "2025-12", "drafts": 66, "invoices": 61, "quotes": 5},
                                {"month": this_month(), "drafts": 93, "invoices": 81, "quotes": 12}]


async def seed_company(s: AppStack, company: Company) -> None:
    await seed_settings(s, company)
    deal = company.pd.create_deal({"title": f"Deal of {company.mark}", "currency": "NZD", "value": 500,
                                   "org_id": 101, "person_id": 201})
    company.deal_id = str(deal["id"])
    await seed_outcomes(s, company)


def b_markers(s: AppStack) -> list[str]:
    """Anything of B's that a page of A's might leak."""
    return [s.b.mark, s.b.id, s.b.organisation, s.b.admin_name, f"INV-{s.b.mark}", s.b.tenant_id, s.b.account,
            s.b.pd.company_name, "93 drafts", "81 invoices", "December 2025"]


def words(page: str) -> str:
    """The page as a reader sees it: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def rows(page: str) -> list[str]:
    return re.findall(r"<tr class=\"log-(\w+)\">", page)


# --- the sync log --------------------------------------------------------------------------------------------------

async def test_the_log_lists_the_companys_outcomes_newest_first_with_their_links(stack):
    s = stack
    await seed_company(s, s.a)
    await seed_company(s, s.b)
    async with s.browser(s.a) as browser:
        status, page = await browser.get("/app/log")
    assert status == 200, page
    assert rows(page) == ["skipped", "parked", "failed", "created", "created"]  # 44, 43, 42, 41, 45 (settled)
    assert f"https://{s.a.domain}.pipedrive.com/deal/42" in page
    # The draft: kind, number, total, when (in the company's time zone), and a link through Xero's organisation
    # login with the ShortCode of the organisation that holds it.
    assert f"Draft invoice INV-{s.a.mark}, 345.00 NZD, in {s.a.organisation}." in page
    assert "20 Nov 2026, 22:30 NZDT" in page
    short_code = s.xero.tenant(s.a.tenant_id).short_code
    redirect = f"/AccountsReceivable/Edit.aspx?InvoiceID=inv-{s.a.mark}-41"
    query = urlencode({"shortcode": short_code, "redirecturl": redirect})
    link = f"https://go.xero.com/organisationlogin/default.aspx?{query}"
    assert f'href="{link}"' in page and f"Open in {s.a.organisation}" in page
    # The failure in its stored words, the waiting deal with where to reconnect, the skip's reason.
    assert f"Deal 42 has no customer ({s.a.mark})." in page
    assert f"What to do: Link an organisation to the deal ({s.a.mark})." in words(page)
    # A waiting deal and a skip show their reason once the crm-card stores it (until then, a sentence of ours).
    parked = await s.db.deal_status.find_one({"company_id": s.a.id, "deal_id": "43"})
    assert (parked.get("reason") or "waits for Xero") in page and 'href="/app/connections"' in page
    skipped = await s.db.deal_status.find_one({"company_id": s.a.id, "deal_id": "44"})
    assert (skipped.get("reason") or "No draft was needed for this stage move.") in page
    assert "Replay deal 42" in page and page.count("Replay deal") == 1  # failures only
    for marker in b_markers(s):
        assert marker not in page, marker


async def test_a_quote_opens_in_its_organisation_and_a_link_xero_cannot_name_stays_plain(stack):
    s = stack
    quote = created(s.a, "50", T0, f"QU-{s.a.mark}").model_copy(update={
        "kind": "quote", "xero_id": f"quote-{s.a.mark}", "xero_url": f"https://go.xero.com/app/quotes/edit/quote-{s.a.mark}"})
    await MongoDealStatus(s.db).record(quote)
    await MongoXeroDocuments(s.db).record_created(*from_created(quote))
    short_code = s.xero.tenant(s.a.tenant_id).short_code
    query = urlencode({"shortcode": short_code, "redirecturl": f"/app/quotes/edit/quote-{s.a.mark}"})
    async with s.browser(s.a) as browser:
        _, page = await browser.get("/app/log")
        assert f"Draft quote QU-{s.a.mark}, 345.00 NZD, in {s.a.organisation}." in page
        assert f'href="https://go.xero.com/organisationlogin/default.aspx?{query}"' in page
        # Xero no longer answers for the connection (revoked): the panel's plain link, promising no organisation.
        await s.db.connections.update_one({"_id": f"xero:{s.a.id}"}, {"$set": {"status": "broken"}})
        _, page = await browser.get("/app/log")
    assert f'href="https://go.xero.com/app/quotes/edit/quote-{s.a.mark}"' in page and "organisationlogin" not in page
    assert "Open in Xero" in page and f"Open in {s.a.organisation}" not in page


@pytest.mark.parametrize(("state", "shown"), [("failed", ["failed"]), ("created", ["created", "created"]),
                                              ("waiting", ["parked"]), ("skipped", ["skipped"]),
                                              ("all", ["skipped", "parked", "failed", "created", "created"]),
                                              ("nonsense", ["skipped", "parked", "failed", "created", "created"])])
async def test_the_log_filters_by_state(stack, state, shown):
    s = stack
    await seed_company(s, s.a)
    await seed_company(s, s.b)
    async with s.browser(s.a) as browser:
        status, page = await browser.get(f"/app/log?state={state}")
    assert status == 200 and rows(page) == shown
    current = state if state != "nonsense" else "all"
    label = {"failed": "Failed", "created": "Created", "waiting": "Waiting", "skipped": "Skipped", "all": "All"}
    assert f'aria-current="page">{label[current]}</a>' in page
    assert 'href="/app/log?state=failed"' in page and 'href="/app/log"' in page
    assert s.b.mark not in page


async def test_the_log_pages_older_outcomes(stack):
    s = stack
    status = MongoDealStatus(s.db)
    for n in range(53):
        await status.record(failed(s.a, str(1000 + n), T0 + timedelta(seconds=n)))
    async with s.browser(s.a) as browser:
        _, first = await browser.get("/app/log?state=failed")
        _, second = await browser.get("/app/log?state=failed&page=2")
    assert len(rows(first)) == 50 and "Deal 1052 has no customer" in first and "Deal 1002 " not in first
    assert 'href="/app/log?state=failed&page=2"' in first
    assert len(rows(second)) == 3 and "Deal 1002 has no customer" in second and "Older outcomes" not in second


async def test_replay_publishes_a_replay_for_the_sessions_company_only(stack):
    s = stack
    await seed_company(s, s.a)
    await seed_company(s, s.b)  # B's deal 42 failed too
    async with s.browser(s.a) as browser:
        status, _, location = await browser.post("/app/log/replay?company_id=" + s.b.id,
                                                 {"deal_id": "42", "company_id": s.b.id, "companyId": s.b.id})
        assert status == 303 and location == "/app/log?state=failed&replayed=42"
        _, page = await browser.get(location)
        assert "Replay started for deal 42; the log updates when it finishes. Reload to see the result." in words(page)
        assert '<a href="/app/log?state=failed">Reload</a>' in page
        # Until the replay's outcome arrives, the failure says a replay is under way.
        assert re.search(r"Replay started at \d+ \w+ \d{4}, \d\d:\d\d NZ[DS]T; it has not finished yet\. Reload",
                         words(page)), words(page)
        # The replay failed again: the row says when it was tried again.
        again = datetime.now(UTC) + timedelta(seconds=5)
        await MongoDealStatus(s.db).record(failed(s.a, "42", again))
        _, page = await browser.get("/app/log?state=failed")
        local = again.astimezone(ZoneInfo("Pacific/Auckland"))
        assert (f"Tried again at {local.day} {local:%b %Y, %H:%M} {local.tzname()} after the replay, and it failed "
                "again.") in words(page)
        assert "Replay started at" not in page and "Replay started for deal" not in page
    ids = {s.a.id, s.b.id}
    replays = await read_to_markers(s.settings.kafka_bootstrap, topics.DEAL_EVENTS, deal_event_marker,
                                    match=lambda m: m.get("company_id") in ids and m.get("replay_of"))
    assert [(m["company_id"], m["deal_id"], m["replay_triggers"]) for m in replays] == [(s.a.id, "42", ["p1-s5"])]




async def test_replay_of_a_deal_with_nothing_failed_says_so_in_words(stack):
    s = stack
    await seed_company(s, s.a)
    await seed_company(s, s.b)
    async with s.browser(s.a) as browser:
        status, _, location = await browser.post("/app/log/replay", {"deal_id": "41"})  # made its draft
        # Post/Redirect/Get: a reload shows the answer again and replays nothing.
        assert status == 303 and location == "/app/log?state=failed&problem=nothing_to_replay"
        status, page = await browser.get(location)
        assert status == 200
        assert "That deal has no failed sync, so there is nothing to replay." in page
        assert "What to do: A replay re-runs a failed attempt." in words(page)
        assert rows(page) == ["failed"]  # the failures, to pick another
        status, _, location = await browser.post("/app/log/replay", {"deal_id": "42; <b>drop</b>"})
        assert status == 303 and location == "/app/log?state=failed&problem=not_a_deal"
        _, page = await browser.get(location)
        assert "That is not a deal of this log, so nothing was replayed." in page and "drop" not in page
        # Only the fixed sentences: a made-up code or text in the address is never shown.
        _, page = await browser.get("/app/log?state=failed&problem=%3Cb%3Eyou+were+hacked%3C%2Fb%3E")
        assert "hacked" not in page and 'id="error-summary"' not in page
        # The replay's address, reloaded or bookmarked, leads back to the failures.
        async with browser.http.get(f"{browser.base}/app/log/replay", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/app/log?state=failed"
    replays = await read_to_markers(s.settings.kafka_bootstrap, topics.DEAL_EVENTS, deal_event_marker,
                                    match=lambda m: m.get("company_id") == s.a.id and m.get("replay_of"))
    assert replays == []


async def test_deals_are_named_by_their_pipedrive_titles_read_in_one_call(stack):
    s = stack
    await seed_company(s, s.a)
    await seed_company(s, s.b)
    status = MongoDealStatus(s.db)
    await status.record(failed(s.a, s.a.deal_id, T0 + timedelta(minutes=10)))
    s.a.pd.requests.clear()
    async with s.browser(s.a) as browser:
        _, page = await browser.get("/app/log")
    deal_link = re.escape(f'href="https://{s.a.domain}.pipedrive.com/deal/{s.a.deal_id}"')
    assert re.search(deal_link + r"[^>]*>Deal of " + s.a.mark + r"</a><br><span class=\"muted\">Deal "
                     + s.a.deal_id + "</span>", page), page
    assert "Deal 42</a>" in page  # not in this Pipedrive: its number, as before
    calls = [r for r in s.a.pd.requests if r["path"].startswith("/api/v2/deals")]
    assert len(calls) == 1 and calls[0]["method"] == "GET" and calls[0]["path"] == "/api/v2/deals"
    assert set(calls[0]["query"]["ids"].split(",")) == {"41", "42", "43", "44", "45", s.a.deal_id}
    for marker in b_markers(s):
        assert marker not in page, marker
    # Pipedrive cannot answer: the page still shows, naming deals by number.
    s.a.pd.faults.add(Fault(status=503, paths=["/api/v2/deals"]))
    async with s.browser(s.a) as browser:
        code, page = await browser.get("/app/log")
    assert code == 200 and f"Deal {s.a.deal_id}</a>" in page and f"Deal of {s.a.mark}" not in page


def failure(company: Company, deal_id: str, code: str, message: str, at: datetime) -> DocumentFailed:
    return DocumentFailed(company_id=company.id, deal_id=deal_id, trigger_id="p1-s5", stage="xero", code=code,
                          message=message, fix="Do what it says.", occurred_at=at)


@pytest.mark.parametrize(("code", "message", "href", "label"), [
    ("unknown_tax_rate", "The deal has a 19% tax on 'Widget'.", "/app/rules#f-tax_types-0-rate",
     "Fix it in Customers, products & money"),
    ("unknown_tax_type", "Xero has no tax rate 'OUTPUT9'.", "/app/rules#f-tax_types-0-rate",
     "Fix it in Customers, products & money"),
    ("unknown_account", "Xero does not accept the sales account '999'.", "/app/rules#f-money-sales_account_code",
     "Fix it in Customers, products & money"),
    ("contact_not_found", "Xero has no contact for 'Tui'.", "/app/rules#f-customer-create_missing",
     "Fix it in Customers, products & money"),
    ("unknown_branding_theme", "Xero does not accept the branding theme.", "/app/mappings#f-fields-branding_theme_id",
     "Fix it in Field mappings"),
    ("too_long", "The quote's Title 'Website rebuild' is 140 characters long.", "/app/mappings#f-fields-quote_title",
     "Fix it in Field mappings"),
    ("too_long", "The customer's name 'Kiwi' is 300 characters long.", "https://{domain}.pipedrive.com/deal/77",
     "Fix it in Pipedrive"),
    ("trigger_removed", "The trigger is switched off.", "/app/triggers", "Fix it in Triggers"),
    ("xero_not_connected", "Xero is not connected.", "/app/connections", "Fix it in Connections"),
    ("pipedrive_not_connected", "Pipedrive is disconnected.", "/app/connections", "Fix it in Connections"),
    ("no_customer", "The deal has no customer.", "https://{domain}.pipedrive.com/deal/77", "Fix it in Pipedrive"),
])
async def test_each_failure_links_to_where_it_is_fixed(stack, code, message, href, label):
    s = stack
    await seed_settings(s, s.a)
    await MongoDealStatus(s.db).record(failure(s.a, "77", code, message, T0))
    async with s.browser(s.a) as browser:
        _, page = await browser.get("/app/log?state=failed")
    href = href.format(domain=s.a.domain)
    assert re.search(f'<a href="{re.escape(href)}"[^>]*>{re.escape(label)}</a>', page), page


async def test_a_failure_fixed_elsewhere_has_no_fix_link(stack):
    s = stack
    await seed_settings(s, s.a)
    for n, code in enumerate(("dead_lettered", "duplicate_contact_name", "currency_not_enabled")):
        await MongoDealStatus(s.db).record(failure(s.a, str(78 + n), code, f"Something broke ({code}).", T0))
    async with s.browser(s.a) as browser:
        _, page = await browser.get("/app/log?state=failed")
    assert "Something broke (dead_lettered)." in page and "Something broke (currency_not_enabled)." in page
    assert "Fix it" not in page


async def test_only_admins_replay_and_only_with_the_sessions_csrf_token(stack):
    s = stack
    await seed_company(s, s.a)
    async with s.browser(s.a, admin=False) as viewer:
        _, page = await viewer.get("/app/log")
        assert "Deal 42 has no customer" in page and "Replay deal" not in page
        status, page, _ = await viewer.post("/app/log/replay", {"deal_id": "42"})
        assert status == 403 and "Only admins" in page
    async with s.browser(s.a) as admin:
        status, _, _ = await admin.post("/app/log/replay", {"deal_id": "42"}, csrf=False)
        assert status == 403
        status, _, _ = await admin.post("/app/log/replay", {"deal_id": "42", "csrf": "forged-token"}, csrf=False)
        assert status == 403
    replays = await read_to_markers(s.settings.kafka_bootstrap, topics.DEAL_EVENTS, deal_event_marker,
                                    match=lambda m: m.get("company_id") == s.a.id and m.get("replay_of"))
    assert replays == []


async def test_the_log_needs_a_session(stack):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.url}/app/log", allow_redirects=False) as resp:
            assert resp.status == 401 and "Open the app from Pipedrive" in await resp.text()


# --- usage --------------------------------------------------------------------------------------------------------

async def test_usage_shows_this_month_and_earlier_months_of_the_sessions_company(stack):
    s = stack
    seed_usage(s)
    async with s.browser(s.a) as browser:
        status, page = await browser.get("/app/usage")
    assert status == 200, page
    month = datetime.now(UTC).strftime("%B %Y")
    assert f"This month ({month})" in page and "10 drafts made: 7 invoices and 3 quotes." in page
    assert "January 2026" in page and re.search(r"<td>January 2026</td><td>4</td><td>1</td><td>5</td>", page)
    assert s.metering.asked == [(s.a.id, f"Bearer {METERING_TOKEN}")]
    for marker in b_markers(s):
        assert marker not in page, marker


async def test_usage_says_when_metering_does_not_answer(stack):
    s = stack
    s.metering.status = 503
    async with s.browser(s.a) as browser:
        status, page = await browser.get("/app/usage")
    assert status == 200 and "Usage is unavailable right now." in page
    assert s.metering.asked == [(s.a.id, f"Bearer {METERING_TOKEN}")]


async def test_usage_says_when_metering_is_not_configured(infra, mongo_db, run_id):
    async with app_stack(infra, mongo_db, run_id, metering=False) as s:
        async with s.browser(s.a) as browser:
            status, page = await browser.get("/app/usage")
        assert status == 200 and "Usage is unavailable right now." in page
        assert s.metering.asked == []


async def test_usage_from_the_real_metering_service(infra, mongo_db, run_id):
    """The metering service itself (its API on the real store) answers the gateway: the adapter and the API agree."""
    settings = MeteringSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url,
                                mongo_db=mongo_db.name, log_json=True, api_token=METERING_TOKEN,
                                kafka_session_timeout_ms=2_000, kafka_heartbeat_interval_ms=500)
    server, url = await started(metering_app(settings))
    try:
        async with app_stack(infra, mongo_db, run_id, metering_url=url) as s:
            store, now = MongoUsageStore(s.db), datetime.now(UTC)
            for company, invoices, quotes in ((s.a, 2, 1), (s.b, 9, 8)):
                for n in range(invoices + quotes):
                    draft = created(company, str(100 + n), now, f"N-{n}")
                    if n >= invoices:
                        draft = draft.model_copy(update={"kind": "quote"})
                    await store.record(billable(draft))
                await store.record(billable(created(company, "99", datetime(2026, 1, 15, tzinfo=UTC), "OLD")))
            async with s.browser(s.a) as browser:
                status, page = await browser.get("/app/usage")
    finally:
        await server.close()
    assert status == 200 and "3 drafts made: 2 invoices and 1 quote." in page
    assert re.search(r"<td>January 2026</td><td>1</td><td>0</td><td>1</td>", page)
    assert "17 drafts" not in page and "9 invoices" not in page
