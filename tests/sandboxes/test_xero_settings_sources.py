"""What the settings app reads from the Xero sandbox per organisation (items, tax rates, revenue accounts, tracking
categories, branding themes, the organisation's name and short code), branding themes on drafts, and one Xero login
granting both demo organisations (all at once, or ticked on a consent page)."""

import html
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.xero import NZ_TENANT_ID, UK_TENANT_ID, XeroState, create_app
from pdx_sandbox.xero.seed import theme_id, tracking_category_id
from tests.sandboxes.test_xero_sandbox import (
    REDIRECT,
    SCOPE,
    Sandbox,
    connect,
    create_contact,
    invoice,
    pkce_pair,
    token_call,
)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    state = XeroState(SandboxClock(speed=1))
    server = TestServer(create_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Sandbox(state, str(server.make_url("")).rstrip("/"), http)
    await server.close()


async def _connections(sb: Sandbox, token: str) -> list[dict]:
    async with sb.http.get(f"{sb.url}/connections", headers={"Authorization": f"Bearer {token}"}) as resp:
        return await resp.json()


async def test_pickers_read_items_tax_rates_revenue_accounts_and_the_organisation(sandbox: Sandbox) -> None:
    token = (await connect(sandbox, f"{NZ_TENANT_ID},{UK_TENANT_ID}"))["access_token"]
    _, body, _ = await sandbox.api("GET", "/Items", token)
    assert [i["Code"] for i in body["Items"]] == ["CONSULT-HR", "WIDGET-01", "SUPPORT-YR"]
    _, body, _ = await sandbox.api("GET", "/Items", token, tenant=UK_TENANT_ID)
    assert [i["Code"] for i in body["Items"]] == ["CONSULT-HR", "WIDGET-01"]
    _, body, _ = await sandbox.api("GET", "/TaxRates", token, params={"where": 'Status=="ACTIVE"'})
    assert {"TaxType", "Name", "Status", "EffectiveRate", "CanApplyToRevenue"} <= set(body["TaxRates"][0])
    where = 'Status=="ACTIVE" AND Type=="REVENUE"'
    _, body, _ = await sandbox.api("GET", "/Accounts", token, params={"where": where})
    assert [(a["Code"], a["Name"]) for a in body["Accounts"]] == [("200", "Sales"), ("260", "Other Revenue"),
                                                                  ("270", "Interest Income")]
    for tenant, name in ((NZ_TENANT_ID, "Demo Company (NZ)"), (UK_TENANT_ID, "Demo Company (UK)")):
        _, body, _ = await sandbox.api("GET", "/Organisation", token, tenant=tenant)
        org = body["Organisations"][0]
        assert org["Name"] == name and org["OrganisationID"] == tenant
        assert re.fullmatch(r"![0-9a-f]{5}", org["ShortCode"])


async def test_tracking_categories_with_their_options(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    status, body, _ = await sandbox.api("GET", "/TrackingCategories", token)
    assert status == 200
    categories = {c["Name"]: c for c in body["TrackingCategories"]}
    assert list(categories) == ["Region", "Sales channel"]
    region = categories["Region"]
    assert region["TrackingCategoryID"] == tracking_category_id(NZ_TENANT_ID, "Region")
    assert region["Status"] == "ACTIVE"
    assert [(o["Name"], o["Status"]) for o in region["Options"]] == [("North Island", "ACTIVE"),
                                                                     ("South Island", "ACTIVE")]
    assert all(o["TrackingCategoryID"] == region["TrackingCategoryID"] and o["TrackingOptionID"]
               for o in region["Options"])
    _, body, _ = await sandbox.api("GET", "/TrackingCategories", token, params={"includeArchived": "true"})
    assert "Chatham Islands" in [o["Name"] for o in body["TrackingCategories"][0]["Options"]]
    _, body, _ = await sandbox.api("GET", "/TrackingCategories", token, params={"where": 'Name=="Sales channel"'})
    assert [c["Name"] for c in body["TrackingCategories"]] == ["Sales channel"]
    status, body, _ = await sandbox.api("GET", f"/TrackingCategories/{region['TrackingCategoryID']}", token)
    assert status == 200 and body["TrackingCategories"][0]["Name"] == "Region"


async def test_branding_themes_and_drafts_that_name_one(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    _, body, _ = await sandbox.api("GET", "/BrandingThemes", token)
    themes = body["BrandingThemes"]
    assert [(t["Name"], t["SortOrder"], t["Type"]) for t in themes] == [("Standard", 0, "INVOICE"),
                                                                         ("Special projects", 1, "INVOICE")]
    special = theme_id(NZ_TENANT_ID, "Special projects")
    assert themes[1]["BrandingThemeID"] == special and themes[1]["CreatedDateUTC"].startswith("/Date(")
    status, body, _ = await sandbox.api("GET", f"/BrandingThemes/{special}", token)
    assert status == 200 and body["BrandingThemes"][0]["Name"] == "Special projects"

    contact = await create_contact(sandbox, token, "Themed Ltd")
    line = [{"Description": "Work", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}]
    status, body, _ = await sandbox.api("PUT", "/Invoices", token,
                                        json={"Invoices": [invoice(contact["ContactID"], line,
                                                                   BrandingThemeID=special)]})
    assert status == 200, body
    stored = sandbox.state.invoices(NZ_TENANT_ID)[0]
    assert stored["BrandingThemeID"] == special and body["Invoices"][0]["BrandingThemeID"] == special
    quote = {"Contact": {"ContactID": contact["ContactID"]}, "Date": "2026-03-01", "LineItems": line,
             "BrandingThemeID": special}
    status, body, _ = await sandbox.api("PUT", "/Quotes", token, json={"Quotes": [quote]})
    assert status == 200 and body["Quotes"][0]["BrandingThemeID"] == special

    uk_theme = theme_id(UK_TENANT_ID, "Standard")  # another organisation's theme is unknown here
    status, body, _ = await sandbox.api("PUT", "/Invoices", token,
                                        json={"Invoices": [invoice(contact["ContactID"], line,
                                                                   BrandingThemeID=uk_theme)]})
    assert status == 400 and body["Type"] == "ValidationException"
    assert body["Elements"][0]["ValidationErrors"] == [
        {"Message": f"The branding theme with BrandingThemeID '{uk_theme}' could not be found."}]
    status, body, _ = await sandbox.api("PUT", "/Quotes", token,
                                        json={"Quotes": [{**quote, "BrandingThemeID": uk_theme}]})
    assert status == 400 and "could not be found" in body["Elements"][0]["ValidationErrors"][0]["Message"]
    status, body, _ = await sandbox.api("PUT", "/Invoices", token,
                                        json={"Invoices": [invoice(contact["ContactID"], line,
                                                                   BrandingThemeID="special")]})
    assert status == 400 and body["Type"] == "PostDataInvalidException" and "BrandingThemeID" in body["Message"]
    assert len(sandbox.state.invoices(NZ_TENANT_ID)) == 1


async def test_consent_all_grants_both_organisations_to_one_login(sandbox: Sandbox) -> None:
    assert [c["tenantName"] for c in await _connections(sandbox, (await connect(sandbox))["access_token"])] == [
        "Demo Company (NZ)"]  # the default stays: the first organisation
    async with sandbox.http.post(f"{sandbox.url}/_sandbox/consent", json={"mode": "all"}) as resp:
        assert resp.status == 200
    token = (await connect(sandbox))["access_token"]
    connections = await _connections(sandbox, token)
    assert [(c["tenantId"], c["tenantName"]) for c in connections] == [
        (NZ_TENANT_ID, "Demo Company (NZ)"), (UK_TENANT_ID, "Demo Company (UK)")]
    assert len({c["authEventId"] for c in connections}) == 1
    status, _, _ = await sandbox.api("GET", "/Organisation", token, tenant=UK_TENANT_ID)
    assert status == 200
    async with sandbox.http.post(f"{sandbox.url}/_sandbox/consent", json={"mode": "some"}) as resp:
        assert resp.status == 400


async def _consent_form(sb: Sandbox, challenge: str) -> str:
    params = {"response_type": "code", "client_id": sb.state.client_id, "redirect_uri": REDIRECT, "scope": SCOPE,
              "state": "st-9", "code_challenge": challenge, "code_challenge_method": "S256"}
    async with sb.http.get(f"{sb.url}/identity/connect/authorize", params=params, allow_redirects=False) as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        return await resp.text()


def _hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)}


async def _submit(sb: Sandbox, form: list[tuple[str, str]]) -> tuple[int, str]:
    async with sb.http.post(f"{sb.url}/identity/connect/consent", data=form, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location") or await resp.text()


async def test_the_consent_page_lets_the_user_tick_organisations_or_cancel(sandbox: Sandbox) -> None:
    sandbox.state.consent = "page"
    verifier, challenge = pkce_pair()
    page = await _consent_form(sandbox, challenge)
    assert "Demo Company (NZ)" in page and "Demo Company (UK)" in page and "Allow access" in page
    fields = list(_hidden_fields(page).items())
    assert dict(fields)["state"] == "st-9"

    status, location = await _submit(sandbox, [*fields, ("action", "deny")])
    assert status == 302 and parse_qs(urlsplit(location).query) == {"error": ["access_denied"], "state": ["st-9"]}
    status, text = await _submit(sandbox, [*fields, ("action", "allow")])
    assert status == 400 and "Select at least one organisation." in text

    status, location = await _submit(sandbox, [*fields, ("tenant", UK_TENANT_ID), ("action", "allow")])
    assert status == 302 and location.startswith(REDIRECT)
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == "st-9"
    status, tokens = await token_call(sandbox, {"grant_type": "authorization_code", "code": query["code"],
                                                "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert status == 200
    assert [c["tenantName"] for c in await _connections(sandbox, tokens["access_token"])] == ["Demo Company (UK)"]

    # a later consent adds the other organisation to the same app's connections, as Xero does
    verifier, challenge = pkce_pair()
    fields = list(_hidden_fields(await _consent_form(sandbox, challenge)).items())
    status, location = await _submit(sandbox, [*fields, ("tenant", NZ_TENANT_ID), ("action", "allow")])
    code = parse_qs(urlsplit(location).query)["code"][0]
    status, tokens = await token_call(sandbox, {"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": REDIRECT, "code_verifier": verifier})
    names = sorted(c["tenantName"] for c in await _connections(sandbox, tokens["access_token"]))
    assert names == ["Demo Company (NZ)", "Demo Company (UK)"]


def test_organisations_saved_before_themes_and_tracking_get_them_on_restore() -> None:
    old = XeroState()
    for tenant in old.tenants.values():
        del tenant.branding_themes, tenant.tracking_categories
    fresh = XeroState()
    fresh.restore(old.snapshot())
    nz = fresh.tenants[NZ_TENANT_ID]
    assert [t["Name"] for t in nz.branding_themes] == ["Standard", "Special projects"]
    assert [c["Name"] for c in nz.tracking_categories] == ["Region", "Sales channel"]
