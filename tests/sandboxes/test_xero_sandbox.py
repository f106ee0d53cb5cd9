"""The Xero sandbox behaves like Xero for what the product uses: OAuth, accounting writes, errors, limits, webhooks."""

import asyncio
import base64
import hashlib
import secrets
import sys
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.xero import NZ_TENANT_ID, UK_TENANT_ID, XERO_STATE, Limits, XeroState, create_app, sign

REDIRECT = "http://127.0.0.1:9999/callback"
SCOPE = "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings"
API = "/api.xro/2.0"


@dataclass
class Sandbox:
    state: XeroState
    url: str
    http: aiohttp.ClientSession

    async def api(self, method: str, path: str, token: str, tenant: str = NZ_TENANT_ID, **kwargs):
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenant, **kwargs.pop("headers", {})}
        async with self.http.request(method, f"{self.url}{API}{path}", headers=headers, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None), resp.headers


@pytest.fixture
async def sandbox():
    state = XeroState(SandboxClock(speed=1))
    server = TestServer(create_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Sandbox(state, str(server.make_url("")).rstrip("/"), http)
    await server.close()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def authorize(sb: Sandbox, challenge: str | None = None, tenants: str | None = None) -> dict:
    params = {"response_type": "code", "client_id": sb.state.client_id, "redirect_uri": REDIRECT,
              "scope": SCOPE, "state": "st-1"}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    if tenants:
        params["sandbox_tenants"] = tenants
    async with sb.http.get(f"{sb.url}/identity/connect/authorize", params=params, allow_redirects=False) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token_call(sb: Sandbox, form: dict, basic: bool = True) -> tuple[int, dict]:
    headers = basic_auth(sb.state.client_id, sb.state.client_secret) if basic else {}
    if not basic:
        form = {**form, "client_id": sb.state.client_id, "client_secret": sb.state.client_secret}
    async with sb.http.post(f"{sb.url}/connect/token", data=form, headers=headers) as resp:
        return resp.status, await resp.json()


async def connect(sb: Sandbox, tenants: str | None = None) -> dict:
    verifier, challenge = pkce_pair()
    query = await authorize(sb, challenge, tenants)
    status, body = await token_call(sb, {"grant_type": "authorization_code", "code": query["code"],
                                         "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert status == 200, body
    return body


async def create_contact(sb: Sandbox, token: str, name: str, **fields) -> dict:
    status, body, _ = await sb.api("PUT", "/Contacts", token, json={"Contacts": [{"Name": name, **fields}]})
    assert status == 200, body
    return body["Contacts"][0]


def invoice(contact_id: str, lines: list[dict], **fields) -> dict:
    return {"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "LineItems": lines, "Date": "2026-03-01",
            "DueDate": "2026-03-31", **fields}


# --- OAuth ------------------------------------------------------------------------------------------------------
async def test_code_flow_with_pkce_connects_the_chosen_tenant(sandbox: Sandbox) -> None:
    _, challenge = pkce_pair()
    query = await authorize(sandbox, challenge)
    assert query["state"] == "st-1"
    bad_status, bad = await token_call(sandbox, {"grant_type": "authorization_code", "code": query["code"],
                                                 "redirect_uri": REDIRECT, "code_verifier": "wrong"})
    assert (bad_status, bad["error"]) == (400, "invalid_grant")
    tokens = await connect(sandbox)
    assert tokens["expires_in"] == 1800 and tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"] and tokens["id_token"].count(".") == 2 and "offline_access" in tokens["scope"]
    async with sandbox.http.get(f"{sandbox.url}/connections",
                                headers={"Authorization": f"Bearer {tokens['access_token']}"}) as resp:
        connections = await resp.json()
    assert [(c["tenantId"], c["tenantName"], c["tenantType"]) for c in connections] == [
        (NZ_TENANT_ID, "Demo Company (NZ)", "ORGANISATION")]
    status, org, headers = await sandbox.api("GET", "/Organisation", tokens["access_token"])
    assert status == 200 and org["Organisations"][0]["BaseCurrency"] == "NZD"
    assert headers["X-MinLimit-Remaining"] == "59"


async def test_code_is_single_use_and_client_must_authenticate(sandbox: Sandbox) -> None:
    query = await authorize(sandbox)
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT}
    assert (await token_call(sandbox, form, basic=False))[0] == 200
    status, body = await token_call(sandbox, form)
    assert (status, body["error"]) == (400, "invalid_grant")
    async with sandbox.http.post(f"{sandbox.url}/connect/token", data=form,
                                 headers=basic_auth(sandbox.state.client_id, "nope")) as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "invalid_client")


async def test_refresh_rotates_with_a_30_minute_grace_for_the_old_token(sandbox: Sandbox) -> None:
    first = await connect(sandbox)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second = await token_call(sandbox, form)
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    status, replay = await token_call(sandbox, form)
    assert status == 200 and replay["refresh_token"] == second["refresh_token"]
    assert replay["access_token"] == second["access_token"]
    sandbox.state.clock.advance(31 * 60)
    status, late = await token_call(sandbox, form)
    assert (status, late) == (400, {"error": "invalid_grant"})
    status, third = await token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert status == 200
    assert (await sandbox.api("GET", "/Organisation", third["access_token"]))[0] == 200
    assert sandbox.state.token_refreshes == 3


async def test_revoke_all_breaks_tokens_and_refresh(sandbox: Sandbox) -> None:
    tokens = await connect(sandbox)
    async with sandbox.http.post(f"{sandbox.url}/_sandbox/revoke-all") as resp:
        assert resp.status == 200
    status, body, _ = await sandbox.api("GET", "/Organisation", tokens["access_token"])
    assert status == 401 and body["Detail"] == "AuthenticationUnsuccessful"
    status, refreshed = await token_call(sandbox, {"grant_type": "refresh_token",
                                                   "refresh_token": tokens["refresh_token"]})
    assert (status, refreshed["error"]) == (400, "invalid_grant")


async def test_401_and_403_shapes(sandbox: Sandbox) -> None:
    tokens = await connect(sandbox)
    status, body, _ = await sandbox.api("GET", "/Invoices", "garbage")
    assert status == 401
    assert {k: body[k] for k in ("Type", "Title", "Status", "Detail")} == {
        "Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"}
    status, body, _ = await sandbox.api("GET", "/Invoices", tokens["access_token"], tenant=UK_TENANT_ID)
    assert (status, body["Title"], body["Detail"]) == (403, "Forbidden", "AuthenticationUnsuccessful")
    sandbox.state.clock.advance(1801)
    status, body, _ = await sandbox.api("GET", "/Invoices", tokens["access_token"])
    assert status == 401 and body["Detail"].startswith("TokenExpired")


async def test_disconnecting_a_connection_forbids_that_tenant(sandbox: Sandbox) -> None:
    tokens = await connect(sandbox, tenants=f"{NZ_TENANT_ID},{UK_TENANT_ID}")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with sandbox.http.get(f"{sandbox.url}/connections", headers=headers) as resp:
        uk = next(c for c in await resp.json() if c["tenantId"] == UK_TENANT_ID)
    assert (await sandbox.api("GET", "/Organisation", tokens["access_token"], tenant=UK_TENANT_ID))[0] == 200
    async with sandbox.http.delete(f"{sandbox.url}/connections/{uk['id']}", headers=headers) as resp:
        assert resp.status == 204
    assert (await sandbox.api("GET", "/Organisation", tokens["access_token"], tenant=UK_TENANT_ID))[0] == 403


# --- Contacts and items -----------------------------------------------------------------------------------------
async def test_contacts_where_search_and_unique_names(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    acme = await create_contact(sandbox, token, "Acme Ltd", EmailAddress="ap@acme.test", ContactNumber="pd-org-1")
    await create_contact(sandbox, token, "Globex", FirstName="Hank", LastName="Scorpio")
    for where in ('Name=="acme ltd"', 'EmailAddress=="AP@acme.test"', 'ContactNumber=="pd-org-1" AND Name=="Acme Ltd"'):
        status, body, _ = await sandbox.api("GET", "/Contacts", token, params={"where": where})
        assert status == 200 and [c["ContactID"] for c in body["Contacts"]] == [acme["ContactID"]], where
    status, body, _ = await sandbox.api("GET", "/Contacts", token, params={"searchTerm": "scorp"})
    assert [c["Name"] for c in body["Contacts"]] == ["Globex"]
    status, body, _ = await sandbox.api("GET", "/Contacts/pd-org-1", token)
    assert body["Contacts"][0]["ContactID"] == acme["ContactID"]
    status, body, _ = await sandbox.api("PUT", "/Contacts", token, json={"Contacts": [{"Name": "ACME LTD"}]})
    assert status == 400 and body["Elements"][0]["ValidationErrors"] == [{"Message": (
        "The contact name ACME LTD is already assigned to another contact. "
        "The contact name must be unique across all active contacts.")}]
    status, body, _ = await sandbox.api("POST", "/Contacts", token,
                                        json={"Contacts": [{"ContactNumber": "pd-org-1", "Name": "Acme Limited"}]})
    assert status == 200 and body["Contacts"][0]["ContactID"] == acme["ContactID"]
    assert len(sandbox.state.contacts(NZ_TENANT_ID)) == 2


async def test_item_lookup_by_code(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    status, body, _ = await sandbox.api("GET", "/Items", token, params={"where": 'Code=="CONSULT-HR"'})
    assert status == 200 and [i["Name"] for i in body["Items"]] == ["Consulting hour"]
    status, body, _ = await sandbox.api("GET", "/Items/WIDGET-01", token)
    assert body["Items"][0]["SalesDetails"]["AccountCode"] == "200"
    status, body, _ = await sandbox.api("PUT", "/Items", token, json={"Items": [
        {"Code": "X" * 31, "SalesDetails": {"AccountCode": "999"}}]})
    assert status == 400 and len(body["Elements"][0]["ValidationErrors"]) == 2
    status, body, _ = await sandbox.api("GET", "/Items/NOPE", token)
    assert status == 404


async def test_settings_filters(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    _, body, _ = await sandbox.api("GET", "/Accounts", token, params={"where": 'Status=="ACTIVE" AND Type=="REVENUE"'})
    assert [a["Code"] for a in body["Accounts"]] == ["200", "260", "270"]
    _, body, _ = await sandbox.api("GET", "/TaxRates", token, params={"where": 'TaxType=="OUTPUT2"'})
    assert [(r["Name"], r["EffectiveRate"]) for r in body["TaxRates"]] == [("15% GST on Income", 15.0)]
    _, body, _ = await sandbox.api("GET", "/Currencies", token)
    assert [c["Code"] for c in body["Currencies"]] == ["NZD", "USD", "AUD", "EUR"]


# --- Invoices and quotes ----------------------------------------------------------------------------------------
async def test_summarize_errors_false_stores_only_good_elements(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    good = invoice(contact["ContactID"], [{"ItemCode": "CONSULT-HR", "Quantity": 2}], Reference="deal-1")
    bad = invoice(contact["ContactID"], [{"ItemCode": "NOPE", "Quantity": 1, "TaxType": "BOGUS",
                                          "Description": "x", "UnitAmount": 1, "AccountCode": "999"}])
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, params={"summarizeErrors": "false"},
                                        json={"Invoices": [good, bad]})
    assert status == 200
    ok, err = body["Invoices"]
    assert (ok["StatusAttributeString"], ok["InvoiceNumber"], ok["HasErrors"]) == ("OK", "INV-0001", False)
    assert ok["LineItems"][0]["Description"] == "Consulting, per hour" and ok["Total"] == 345.0
    assert err["StatusAttributeString"] == "ERROR" and err["HasErrors"] is True
    assert [e["Message"] for e in err["ValidationErrors"]] == [
        "Item code 'NOPE' is not valid.",
        "Account code '999' is not a valid code for this document.",
        "The TaxType code 'BOGUS' does not exist or cannot be used for this type of transaction."]
    assert [i["InvoiceID"] for i in sandbox.state.invoices(NZ_TENANT_ID)] == [ok["InvoiceID"]]


async def test_validation_failure_without_summarize_errors_is_400_and_stores_nothing(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    good = invoice(contact["ContactID"], [{"Description": "ok", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}])
    no_contact = {**good, "Contact": None, "CurrencyCode": "JPY"}
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, json={"Invoices": [good, no_contact]})
    assert status == 400
    assert (body["ErrorNumber"], body["Type"], body["Message"]) == (
        10, "ValidationException", "A validation exception occurred")
    assert len(body["Elements"]) == 1
    assert [e["Message"] for e in body["Elements"][0]["ValidationErrors"]] == [
        "A Contact must be specified for this type of transaction", "Organisation is not subscribed to currency JPY"]
    assert sandbox.state.invoices(NZ_TENANT_ID) == []
    _, body, _ = await sandbox.api("PUT", "/Invoices", token, json={"Invoices": [good]})
    assert body["Invoices"][0]["InvoiceNumber"] == "INV-0001"


@pytest.mark.parametrize(("amount_types", "lines", "expected"), [
    ("Exclusive", [{"Quantity": 2, "UnitAmount": 100, "TaxType": "OUTPUT2"}], (200.0, 30.0, 230.0)),
    ("Inclusive", [{"Quantity": 1, "UnitAmount": 115, "TaxType": "OUTPUT2"}], (100.0, 15.0, 115.0)),
    ("NoTax", [{"Quantity": 3, "UnitAmount": 10, "TaxType": "OUTPUT2"}], (30.0, 0.0, 30.0)),
    ("Exclusive", [{"Quantity": 4, "UnitAmount": 25, "DiscountRate": 10, "TaxType": "OUTPUT2"},
                   {"Quantity": 1, "UnitAmount": 50, "DiscountAmount": 5, "TaxType": "NONE"}], (135.0, 13.5, 148.5)),
    # without unitdp=4 Xero keeps 2-dp unit prices: 0.333 becomes 0.33
    ("Exclusive", [{"Quantity": 3, "UnitAmount": 0.333, "TaxType": "OUTPUT2"}], (0.99, 0.15, 1.14)),
])
async def test_invoice_totals(sandbox: Sandbox, amount_types: str, lines: list[dict], expected: tuple) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    lines = [{"Description": "line", "AccountCode": "200", **line} for line in lines]
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, params={"summarizeErrors": "false"},
                                        json={"Invoices": [invoice(contact["ContactID"], lines,
                                                                   LineAmountTypes=amount_types)]})
    doc = body["Invoices"][0]
    assert status == 200 and doc["StatusAttributeString"] == "OK", doc
    assert (doc["SubTotal"], doc["TotalTax"], doc["Total"]) == expected
    assert doc["AmountDue"] == expected[2] and doc["AmountPaid"] == 0
    assert doc["UpdatedDateUTC"].startswith("/Date(") and doc["UpdatedDateUTC"].endswith("+0000)/")


async def test_invoice_lookups_and_filters(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    lines = [{"ItemCode": "WIDGET-01", "Quantity": 1, "UnitAmount": 1.2345}]
    _, body, _ = await sandbox.api("PUT", "/Invoices", token, params={"unitdp": "4"}, json={"Invoices": [
        invoice(contact["ContactID"], lines, Reference="deal-7", Url="https://pd.test/deal/7")]})
    created = body["Invoices"][0]
    for params in ({"where": 'Reference=="deal-7"'}, {"where": 'Status=="DRAFT"'}, {"createdByMyApp": "true"},
                   {"ContactIDs": contact["ContactID"]}, {"InvoiceNumbers": "INV-0001"}, {"page": "1"}):
        _, body, _ = await sandbox.api("GET", "/Invoices", token, params=params)
        assert [i["InvoiceID"] for i in body["Invoices"]] == [created["InvoiceID"]], params
    _, body, _ = await sandbox.api("GET", "/Invoices/INV-0001", token, params={"unitdp": "4"})
    assert body["Invoices"][0]["LineItems"][0]["UnitAmount"] == 1.2345 and body["Invoices"][0]["Url"].endswith("/7")
    _, body, _ = await sandbox.api("GET", f"/Invoices/{created['InvoiceID']}", token)
    assert body["Invoices"][0]["LineItems"][0]["UnitAmount"] == 1.23


async def test_post_upserts_and_enforces_status_rules(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    _, body, _ = await sandbox.api("PUT", "/Invoices", token, json={"Invoices": [
        invoice(contact["ContactID"], [{"ItemCode": "WIDGET-01", "Quantity": 1}])]})
    invoice_id = body["Invoices"][0]["InvoiceID"]
    status, body, _ = await sandbox.api("POST", "/Invoices", token, json={"Invoices": [
        {"InvoiceID": invoice_id, "Status": "AUTHORISED", "Reference": "deal-3"}]})
    assert status == 200 and body["Invoices"][0]["Status"] == "AUTHORISED"
    assert body["Invoices"][0]["InvoiceNumber"] == "INV-0001" and len(sandbox.state.invoices(NZ_TENANT_ID)) == 1
    sandbox.state.pay_invoice(NZ_TENANT_ID, invoice_id)
    status, body, _ = await sandbox.api("POST", f"/Invoices/{invoice_id}", token, json={"Reference": "x"})
    assert status == 400 and body["Elements"][0]["ValidationErrors"][0]["Message"] == (
        "This document cannot be edited as it has a payment or credit note allocated to it.")
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, json={"Invoices": [
        invoice(contact["ContactID"], [{"ItemCode": "WIDGET-01"}], InvoiceNumber="INV-0001")]})
    assert status == 400 and body["Elements"][0]["ValidationErrors"][0]["Message"] == "Invoice # must be unique."
    status, body, _ = await sandbox.api("GET", "/Invoices", token, params={"where": 'Reference=="x" AND ('})
    assert status == 400 and body["Type"] == "QueryParseException"


async def test_quotes_use_upper_case_line_amount_types_and_own_numbers(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    quote = {"Contact": {"ContactID": contact["ContactID"]}, "Date": "2026-03-01", "LineAmountTypes": "INCLUSIVE",
             "Title": "Deal 9", "LineItems": [{"ItemCode": "SUPPORT-YR", "Quantity": 1}]}
    status, body, _ = await sandbox.api("PUT", "/Quotes", token, json={"Quotes": [quote]})
    assert status == 200, body
    doc = body["Quotes"][0]
    assert (doc["QuoteNumber"], doc["LineAmountTypes"], doc["Total"], doc["TotalTax"]) == (
        "QU-0001", "INCLUSIVE", 1200.0, 156.52)
    _, body, _ = await sandbox.api("GET", "/Quotes", token, params={"ContactID": contact["ContactID"]})
    assert [q["QuoteID"] for q in body["Quotes"]] == [doc["QuoteID"]]


async def test_idempotency_key_replays_the_first_response(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    payload = {"Invoices": [invoice(contact["ContactID"], [{"ItemCode": "WIDGET-01", "Quantity": 1}])]}
    key = {"Idempotency-Key": f"deal-1-{uuid.uuid4()}"}
    first = await sandbox.api("PUT", "/Invoices", token, json=payload, headers=key)
    second = await sandbox.api("PUT", "/Invoices", token, json=payload, headers=key)
    assert first[0] == second[0] == 200 and first[1] == second[1]
    assert len(sandbox.state.invoices(NZ_TENANT_ID)) == 1
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, json={"Invoices": []}, headers=key)
    assert status == 400 and "used with a different request" in body["Message"]
    status, _, _ = await sandbox.api("PUT", "/Invoices", token, json=payload, headers={"Idempotency-Key": "k" * 129})
    assert status == 400


async def test_user_actions_pay_and_void(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    _, body, _ = await sandbox.api("PUT", "/Invoices", token, json={"Invoices": [
        invoice(contact["ContactID"], [{"ItemCode": "WIDGET-01", "Quantity": 2}])]})
    invoice_id = body["Invoices"][0]["InvoiceID"]
    sandbox.state.approve_invoice(NZ_TENANT_ID, invoice_id)
    async with sandbox.http.post(f"{sandbox.url}/_sandbox/invoices/{invoice_id}/pay",
                                 json={"tenant_id": NZ_TENANT_ID, "amount": 10}) as resp:
        paid = await resp.json()
    assert (paid["Status"], paid["AmountPaid"], paid["AmountDue"]) == ("AUTHORISED", 10.0, 48.65)
    sandbox.state.pay_invoice(NZ_TENANT_ID, invoice_id)
    assert sandbox.state.invoices(NZ_TENANT_ID)[0]["Status"] == "PAID"


# --- Limits and failure injection -------------------------------------------------------------------------------
async def test_minute_limit_gives_429_with_headers(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    for _ in range(60):
        status, _, headers = await sandbox.api("GET", "/Organisation", token)
        assert status == 200
    assert headers["X-MinLimit-Remaining"] == "0" and headers["X-DayLimit-Remaining"] == "4940"
    status, body, headers = await sandbox.api("GET", "/Organisation", token)
    assert (status, body["Status"], headers["X-Rate-Limit-Problem"]) == (429, 429, "minute")
    assert 1 <= int(headers["Retry-After"]) <= 60 and headers["X-Sandbox-Clock-Speed"] == "1"
    assert sandbox.state.throttled[NZ_TENANT_ID] == 1
    sandbox.state.clock.advance(61)
    assert (await sandbox.api("GET", "/Organisation", token))[0] == 200


async def test_concurrent_limit(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    sandbox.state.latency_seconds = 3.0  # long enough that all seven overlap, however busy the machine
    results = await asyncio.gather(*(sandbox.api("GET", "/Organisation", token) for _ in range(7)))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] * 5 + [429] * 2
    assert {r[2]["X-Rate-Limit-Problem"] for r in results if r[0] == 429} == {"concurrent"}


def test_day_and_app_limits_count_on_sandbox_time() -> None:
    from pdx_sandbox.xero.limits import RateLimiter

    limiter = RateLimiter(Limits(per_minute=100, per_day=3, app_per_minute=4))
    for _ in range(3):
        assert limiter.acquire("a", 1000.0) is None
        limiter.release("a")
    refused = limiter.acquire("a", 1010.0)
    assert refused is not None and (refused.problem, refused.retry_after) == ("day", 86390)
    assert limiter.acquire("b", 1010.0) is None
    refused = limiter.acquire("c", 1010.0)
    assert refused is not None and (refused.problem, refused.retry_after) == ("appminute", 50)
    assert limiter.headers("a", 1010.0)["X-DayLimit-Remaining"] == "0"


async def test_outage_injection(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    sandbox.state.set_outage(NZ_TENANT_ID, status=503, count=2)
    assert [(await sandbox.api("GET", "/Organisation", token))[0] for _ in range(3)] == [503, 503, 200]


# --- Webhooks ---------------------------------------------------------------------------------------------------
async def test_webhooks_are_signed_and_intent_to_receive_checks_the_receiver(sandbox: Sandbox) -> None:
    received: list[dict] = []

    async def receiver(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("x-xero-signature") != sign(raw, sandbox.state.webhook_key):
            return web.Response(status=401)
        received.append(await request.json())
        return web.Response(status=200)

    async def careless(request: web.Request) -> web.Response:
        return web.Response(status=200)

    hook_app = web.Application()
    hook_app.router.add_post("/hook", receiver)
    hook_app.router.add_post("/careless", careless)
    hooks = TestServer(hook_app, host="127.0.0.1", port=0)
    await hooks.start_server()
    try:
        assert await sandbox.state.intent_to_receive(str(hooks.make_url("/hook"))) is True
        assert await sandbox.state.intent_to_receive(str(hooks.make_url("/careless"))) is False
        received.clear()
        sandbox.state.webhook_url = str(hooks.make_url("/hook"))
        token = (await connect(sandbox))["access_token"]
        contact = await create_contact(sandbox, token, "Acme Ltd")
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.02)
        event = received[0]["events"][0]
        assert (event["eventCategory"], event["eventType"], event["resourceId"], event["tenantId"]) == (
            "CONTACT", "CREATE", contact["ContactID"], NZ_TENANT_ID)
        assert received[0]["firstEventSequence"] >= 1 and received[0]["entropy"]
    finally:
        await hooks.close()


# --- Entry point ------------------------------------------------------------------------------------------------
async def test_cli_prints_its_url_and_serves() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pdx_sandbox.xero", "--host", "127.0.0.1", "--port", "0", "--clock-speed", "60",
        stdout=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
        assert line.startswith("xero sandbox listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        async with aiohttp.ClientSession() as http, http.get(f"{url}/_sandbox/state") as resp:
            assert (await resp.json())["clock_speed"] == 60
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 60) == 0


def test_app_exposes_state() -> None:
    state = XeroState()
    assert create_app(state)[XERO_STATE] is state
