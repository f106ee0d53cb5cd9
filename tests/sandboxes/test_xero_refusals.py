"""The Xero sandbox refuses what Xero refuses as a whole request (unreadable bodies, spec type errors, characters
XML cannot hold, bodies over 3.5 MB, `where` clauses it cannot parse, query strings over 2048 characters), apart
from what it refuses element by element; and it reads `where` strings as Xero's Dynamic LINQ does."""

import io
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.xero import NZ_TENANT_ID, XeroState, create_app
from tests.sandboxes.test_xero_sandbox import Sandbox, connect, create_contact, invoice

JSON = {"Content-Type": "application/json"}
LINE = {"Description": "Workshop", "Quantity": 2, "UnitAmount": 150, "AccountCode": "200"}


@pytest.fixture
async def sandbox():
    state = XeroState(SandboxClock(speed=1))
    server = TestServer(create_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Sandbox(state, str(server.make_url("")).rstrip("/"), http)
    await server.close()


@pytest.mark.parametrize(("line", "message"), [
    ({**LINE, "Quantity": "2"}, "Could not convert str to decimal: 2. Path 'Invoices[1].LineItems[0].Quantity'."),
    ({**LINE, "UnitAmount": "150.00"}, "Path 'Invoices[1].LineItems[0].UnitAmount'."),
    ({**LINE, "DiscountRate": "10"}, "Path 'Invoices[1].LineItems[0].DiscountRate'."),
    ({**LINE, "Quantity": 1e30}, "Value was either too large or too small for a Decimal."),
    ({**LINE, "Description": "Work\x02shop"}, "hexadecimal value 0x02, is an invalid character."),
    ("one line", "Cannot deserialize the current JSON value into a JSON object. Path 'Invoices[1].LineItems[0]'."),
])
async def test_one_unreadable_element_fails_the_whole_request_even_unsummarised(sandbox: Sandbox, line: dict,
                                                                               message: str) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    good = invoice(contact["ContactID"], [LINE])
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, params={"summarizeErrors": "false"},
                                        json={"Invoices": [good, invoice(contact["ContactID"], [line])]})
    assert status == 400, body
    assert (body["ErrorNumber"], body["Type"]) == (14, "PostDataInvalidException")
    assert body["Message"].startswith("JSON for post data was invalid,") and message in body["Message"]
    assert sandbox.state.invoices(NZ_TENANT_ID) == []  # not even the good one


async def test_numbers_as_numbers_are_accepted_with_their_decimals(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    raw = ('{"Invoices":[{"Type":"ACCREC","Contact":{"ContactID":"' + contact["ContactID"] + '"},"Date":'
           '"2026-03-01","LineItems":[{"Description":"x","Quantity":3,"UnitAmount":0.3333,"DiscountRate":12.5,'
           '"AccountCode":"200"}]}]}')
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, params={"unitdp": "4"}, data=raw, headers=JSON)
    assert status == 200, body
    line = body["Invoices"][0]["LineItems"][0]
    assert (line["Quantity"], line["UnitAmount"], line["DiscountRate"], line["LineAmount"]) == (3, 0.3333, 12.5,
                                                                                                0.87)


async def test_a_body_over_35_mb_is_413_and_one_under_is_taken(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    lines = [{**LINE, "Description": "d" * 3900}] * 300  # about 1.2 MB a document
    three = {"Invoices": [invoice(contact["ContactID"], lines) for _ in range(3)]}
    assert len(json.dumps(three)) > 3_500_000
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, params={"summarizeErrors": "false"},
                                        data=io.BytesIO(json.dumps(three).encode()), headers=JSON)
    assert status == 413 and body["Status"] == 413 and "3500000 bytes" in body["Detail"]
    assert sandbox.state.invoices(NZ_TENANT_ID) == []
    status, body, _ = await sandbox.api("PUT", "/Invoices", token, params={"summarizeErrors": "false"},
                                        data=io.BytesIO(json.dumps({"Invoices": three["Invoices"][:2]}).encode()),
                                        headers=JSON)
    assert status == 200 and len(sandbox.state.invoices(NZ_TENANT_ID)) == 2


@pytest.mark.parametrize(("name", "where"), [
    ('Say "hi" Ltd', 'Name=="Say ""hi"" Ltd"'),
    ("Back\\slash Co", 'Name=="Back\\slash Co"'),
    ("Ōtaki Café 東京 & Sons", 'Name=="ōtaki café 東京 & sons"'),
    ("Home+ Ltd", 'Name=="Home+ Ltd" OR Name=="Nobody"'),
])
async def test_where_strings_read_like_dynamic_linq(sandbox: Sandbox, name: str, where: str) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, name)
    status, body, _ = await sandbox.api("GET", "/Contacts", token, params={"where": where})
    assert status == 200 and [c["ContactID"] for c in body["Contacts"]] == [contact["ContactID"]]


@pytest.mark.parametrize(("where", "message"), [
    ('Name=="Say \\"hi\\" Ltd"', "Syntax error"),  # a backslash does not escape (Xero-Java#347)
    ('Name=="Unterminated', "Unterminated string literal"),
    ("Name=='Acme'", "Character literal must contain exactly one character"),
])
async def test_where_clauses_xero_cannot_parse_are_refused(sandbox: Sandbox, where: str, message: str) -> None:
    token = (await connect(sandbox))["access_token"]
    status, body, _ = await sandbox.api("GET", "/Contacts", token, params={"where": where})
    assert status == 400 and body == {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}


async def test_a_query_string_over_2048_characters_gets_the_gateways_404(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    where = " OR ".join(f'Name=="Customer number {n}"' for n in range(60))
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": NZ_TENANT_ID}
    async with sandbox.http.get(f"{sandbox.url}/api.xro/2.0/Contacts", params={"where": where},
                                headers=headers) as resp:
        assert resp.status == 404 and resp.content_type == "text/html"
        assert "query string is too long" in await resp.text()
    status, _, _ = await sandbox.api("GET", "/Contacts", token, params={"where": " OR ".join(where.split(" OR ")[:20])})
    assert status == 200


async def test_quote_text_limits_are_element_errors(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact = await create_contact(sandbox, token, "Acme Ltd")
    quote = {"Contact": {"ContactID": contact["ContactID"]}, "Date": "2026-03-01", "LineItems": [LINE]}
    too_long = {**quote, "Title": "t" * 101, "Summary": "s" * 3001, "Terms": "t" * 4001}
    status, body, _ = await sandbox.api("PUT", "/Quotes", token, params={"summarizeErrors": "false"},
                                        json={"Quotes": [quote, too_long]})
    assert status == 200
    ok, bad = body["Quotes"]
    assert ok["StatusAttributeString"] == "OK" and bad["StatusAttributeString"] == "ERROR"
    assert [e["Message"] for e in bad["ValidationErrors"]] == [
        "Title must not be more than 100 characters long.", "Summary must not be more than 3000 characters long.",
        "Terms must not be more than 4000 characters long."]
