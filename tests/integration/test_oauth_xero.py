"""Connecting Xero through the gateway's signed links (authlib, state and PKCE S256) against the Xero sandbox, choosing
and switching the organisation, disconnecting, and parked commands resumed once the connection is usable."""

import base64
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from pdx_common import topics
from pdx_common.contracts import COMMAND, Contact, CreateInvoice, CreateQuote, LineItem, new_id
from pdx_common.parking import MongoParkedCommands
from pdx_common.signed_links import signed_query
from pdx_gateway.domain.connections import NO_TENANT
from pdx_sandbox.xero import NZ_TENANT_ID, UK_TENANT_ID
from tests.integration.test_oauth_pipedrive import LINK_KEY, OAuthStack, running_stack
from tests.kafka_helpers import read_until

CLIENT_ID = "sandbox-xero-client"


@pytest.fixture
async def stack(infra, mongo_db) -> AsyncIterator[OAuthStack]:
    async with running_stack(infra, mongo_db) as running:
        yield running


async def connect_link(s: OAuthStack) -> str:
    status, body = await s.api("POST", f"/companies/{s.company_id}/xero/connect-link")
    assert status == 200, body
    return body["url"]


async def connect(s: OAuthStack, tenants: str | None = None) -> str:
    """The admin opens the connect link; ``tenants`` is what the sandbox's consent screen grants."""
    status, _, authorize = await s.get(await connect_link(s))
    assert status == 302 and authorize.startswith(f"{s.xero_url}/identity/connect/authorize?")
    if tenants:
        authorize += f"&sandbox_tenants={tenants}"
    status, _, callback = await s.get(authorize)
    assert status == 302 and callback.startswith(f"{s.gateway_url}/oauth/xero/callback?"), callback
    s.last_callback = callback
    status, page, _ = await s.get(callback)
    assert status == 200, page
    return page


async def xero_doc(s: OAuthStack) -> dict | None:
    return await s.db.connections.find_one({"_id": f"xero:{s.company_id}"})


def command(company_id: str, deal_id: str, kind=CreateInvoice) -> dict:
    line = LineItem(description="Consulting", quantity=Decimal(2), unit_amount=Decimal("150.00"))
    contact = Contact(name="Acme Ltd", contact_number="pd-org-101", source="organization", source_id="101")
    return kind(company_id=company_id, deal_id=deal_id, trigger_id="won", source_event_id=new_id(),
                contact=contact, line_items=(line,), currency_code="NZD", line_amount_types="Exclusive",
                date=date(2026, 11, 27), deal_title="Deal", deal_url="https://demo.pipedrive.com/deal/1"
                ).model_dump(mode="json")


async def park(s: OAuthStack, company_id: str, deal_id: str, kind=CreateInvoice) -> dict:
    """Parked as the writer parks (the store's times tie within a millisecond; its sequence keeps the order)."""
    payload = command(company_id, deal_id, kind)
    await MongoParkedCommands(s.db).park(COMMAND.validate_python(payload))
    return payload


async def test_connect_link_with_pkce_chooses_the_only_organisation(stack):
    s = stack
    status, _, authorize = await s.get(await connect_link(s))
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert query["redirect_uri"] == f"{s.gateway_url}/oauth/xero/callback"
    assert query["scope"] == "offline_access openid profile email accounting.invoices accounting.contacts " \
                             "accounting.settings.read"
    state = await s.db.oauth_states.find_one({"_id": query["state"]})
    challenge = base64.urlsafe_b64encode(hashlib.sha256(state["code_verifier"].encode()).digest()).rstrip(b"=")
    assert (query["code_challenge"], query["code_challenge_method"]) == (challenge.decode(), "S256")
    assert state["company_id"] == s.company_id

    _, _, callback = await s.get(authorize)
    status, page, _ = await s.get(callback)

    assert status == 200 and "Demo Company (NZ)" in page
    [seen] = [r for r in s.xero.requests if r.path == "/identity/connect/authorize"]
    assert seen.query["code_challenge"] == challenge.decode()
    doc = await xero_doc(s)
    assert (doc["status"], doc["tenant_id"], doc["tenant_name"]) == ("ok", NZ_TENANT_ID, "Demo Company (NZ)")
    [connection] = s.xero.auth.client_connections(CLIENT_ID)
    assert doc["tenants"] == [{"tenantId": NZ_TENANT_ID, "tenantName": "Demo Company (NZ)", "id": connection.id}]
    tokens = [*s.xero.auth.access_tokens, *s.xero.auth.refresh_tokens]
    assert not [t for t in tokens if t in json.dumps(doc, default=str)]
    assert await s.db.oauth_states.count_documents({}) == 0

    status, body = await s.api("GET", f"/companies/{s.company_id}/connections")
    assert status == 200 and not [t for t in tokens if t in json.dumps(body)]
    pipedrive, xero = body["connections"]
    assert pipedrive == {"system": "pipedrive", "status": "not_connected"}
    assert (xero["status"], xero["tenant_id"], xero["tenant_name"]) == ("ok", NZ_TENANT_ID, "Demo Company (NZ)")
    assert xero["expires_at"] and xero["broken_reason"] is None and len(xero["tenants"]) == 1


def choose_links(page: str) -> dict[str, str]:
    return {unescape(name): unescape(url) for url, name in re.findall(r'<a href="([^"]+)">([^<]+)</a>', page)}


async def test_two_organisations_wait_for_a_choice_which_operators_and_admins_can_switch(stack):
    s = stack
    parked = await park(s, s.company_id, "42")
    page = await connect(s, f"{NZ_TENANT_ID},{UK_TENANT_ID}")

    links = choose_links(page)
    assert set(links) == {"Demo Company (NZ)", "Demo Company (UK)"}
    doc = await xero_doc(s)
    assert (doc["status"], doc["broken_reason"], doc["tenant_id"]) == ("broken", NO_TENANT, None)
    assert await s.db.parked_commands.count_documents({}) == 1  # nothing to write to yet

    status, body = await s.api("PUT", f"/companies/{s.company_id}/xero/tenant", {"tenant_id": "not-a-tenant"})
    assert status == 400 and set(body["error"]["tenants"]) == {NZ_TENANT_ID, UK_TENANT_ID}
    status, body = await s.api("PUT", f"/companies/{s.company_id}/xero/tenant", {"tenant_id": UK_TENANT_ID})
    assert status == 200 and (body["status"], body["tenant_id"]) == ("ok", UK_TENANT_ID)
    resumed = await read_until(s.settings.kafka_bootstrap, topics.XERO_COMMANDS, lambda seen: len(seen) >= 1,
                               match=lambda m: m["company_id"] == s.company_id)
    assert resumed == [parked]

    status, page, _ = await s.get(links["Demo Company (NZ)"])
    assert status == 200 and "Demo Company (NZ)" in page
    assert (await xero_doc(s))["tenant_id"] == NZ_TENANT_ID
    forged = links["Demo Company (NZ)"].replace(NZ_TENANT_ID, UK_TENANT_ID)
    assert (await s.get(forged))[0] == 401


def link(s: OAuthStack, purpose: str, company_id: str, expires: int) -> str:
    return f"{s.gateway_url}/oauth/xero/connect?{signed_query(LINK_KEY, purpose, {'company_id': company_id}, expires)}"


@pytest.mark.parametrize("case", ["tampered", "other company", "expired", "unsigned", "choose link", "wrong key"])
async def test_bad_or_expired_connect_links_are_refused(stack, case):
    s = stack
    later = int(time.time()) + 600
    url = {"tampered": link(s, "connect", s.company_id, later)[:-2] + "00",
           "other company": link(s, "connect", s.company_id, later).replace(s.company_id, "1234"),
           "expired": link(s, "connect", s.company_id, int(time.time()) - 1),
           "unsigned": f"{s.gateway_url}/oauth/xero/connect?company_id={s.company_id}&expires={later}",
           "choose link": link(s, "choose", s.company_id, later),
           "wrong key": f"{s.gateway_url}/oauth/xero/connect?"
                        f"{signed_query('x' * 32, 'connect', {'company_id': s.company_id}, later)}"}[case]

    status, body, location = await s.get(url)

    assert status == 401 and location is None and json.loads(body)["error"]["code"] == "link_refused"
    assert await s.db.oauth_states.count_documents({}) == 0
    assert (await s.get(link(s, "connect", s.company_id, later)))[0] == 302  # the genuine link works


async def test_forged_and_replayed_xero_callbacks_store_nothing(stack):
    s = stack
    status, _, _ = await s.get(f"{s.gateway_url}/oauth/xero/callback?code=abc&state=forged")
    assert status == 400 and await xero_doc(s) is None

    await connect(s)
    before = await xero_doc(s)
    s.keep_state_cookie("xero", s.last_callback)
    status, _, _ = await s.get(s.last_callback)
    assert status == 400 and await xero_doc(s) == before
    assert [r.path for r in s.xero.requests].count("/connect/token") == 1


async def test_a_xero_callback_from_another_browser_is_refused(stack):
    s = stack
    _, _, authorize = await s.get(await connect_link(s))
    _, _, callback = await s.get(authorize)

    async with aiohttp.ClientSession() as victim, victim.get(callback, allow_redirects=False) as resp:
        assert resp.status == 400
    assert await xero_doc(s) is None and await s.db.oauth_states.count_documents({}) == 1


async def test_disconnect_removes_the_connection_at_xero_and_here(stack):
    s = stack
    await connect(s)
    [connection] = s.xero.auth.client_connections(CLIENT_ID)

    status, body = await s.api("DELETE", f"/companies/{s.company_id}/xero")

    assert status == 200, body
    assert not s.xero.auth.client_connections(CLIENT_ID)
    calls = [(r.method, r.path, r.status) for r in s.xero.requests]
    assert ("DELETE", f"/connections/{connection.id}", 204) in calls and ("POST", "/connect/revocation", 200) in calls
    assert await xero_doc(s) is None
    _, body = await s.api("GET", f"/companies/{s.company_id}/connections")
    assert body["connections"][1] == {"system": "xero", "status": "not_connected"}
    assert (await s.api("DELETE", f"/companies/{s.company_id}/xero"))[0] == 404


async def test_parked_commands_are_republished_when_xero_reconnects(stack):
    s = stack
    await connect(s)
    await s.db.connections.update_one({"_id": f"xero:{s.company_id}"},
                                      {"$set": {"status": "broken", "broken_reason": "revoked"}})
    first = await park(s, s.company_id, "7")
    second = await park(s, s.company_id, "7", CreateQuote)  # one deal, one partition: read in publish order
    other = await park(s, f"{s.company_id}0", "7")

    page = await connect(s)

    assert "2 waiting document" in page
    resumed = await read_until(s.settings.kafka_bootstrap, topics.XERO_COMMANDS, lambda seen: len(seen) >= 2,
                               match=lambda m: m["company_id"] == s.company_id)
    # The parked payloads as they were, ids and all, so the writer's ledger recognises them.
    assert resumed == [first, second] and [m["type"] for m in resumed] == ["CreateInvoice", "CreateQuote"]
    assert [d["_id"] async for d in s.db.parked_commands.find()] == [other["id"]]
    doc = await xero_doc(s)
    assert (doc["status"], doc["broken_reason"]) == ("ok", None)

