"""The Xero sandbox reads one document and updates it in place as Xero does (getInvoice/updateInvoice,
getQuote/updateQuote), and plays what a user does in Xero through its control routes."""

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.xero import NZ_TENANT_ID, XeroState, create_app
from tests.sandboxes.test_xero_sandbox import Sandbox, connect, create_contact, invoice

LINES = [{"Description": "Workshop", "Quantity": 2, "UnitAmount": 100, "AccountCode": "200"}]
NEW_LINES = [{"Description": "Hosting", "Quantity": 1, "UnitAmount": 500, "AccountCode": "200"}]


@pytest.fixture
async def sandbox():
    state = XeroState(SandboxClock(speed=1))
    server = TestServer(create_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Sandbox(state, str(server.make_url("")).rstrip("/"), http)
    await server.close()


async def control(sb: Sandbox, path: str) -> tuple[int, dict]:
    async with sb.http.post(f"{sb.url}/_sandbox/{path}", json={"tenant_id": NZ_TENANT_ID}) as resp:
        return resp.status, await resp.json()


async def draft_invoice(sb: Sandbox, token: str) -> tuple[dict, dict]:
    contact = await create_contact(sb, token, "Acme Ltd")
    status, body, _ = await sb.api("PUT", "/Invoices", token, json={"Invoices": [
        invoice(contact["ContactID"], LINES, Reference="deal-1")]})
    assert status == 200, body
    return contact, body["Invoices"][0]


async def draft_quote(sb: Sandbox, token: str) -> tuple[dict, dict]:
    contact = await create_contact(sb, token, "Acme Ltd")
    status, body, _ = await sb.api("PUT", "/Quotes", token, json={"Quotes": [{
        "Contact": {"ContactID": contact["ContactID"]}, "Date": "2026-03-01", "LineItems": LINES,
        "Reference": "deal-1"}]})
    assert status == 200, body
    return contact, body["Quotes"][0]


async def test_an_invoice_update_replaces_lines_and_contact_and_keeps_its_number(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    _, created = await draft_invoice(sandbox, token)
    other = await create_contact(sandbox, token, "Kowhai Design Ltd")
    status, body, _ = await sandbox.api("POST", f"/Invoices/{created['InvoiceID']}", token, json={"Invoices": [{
        "Contact": {"ContactID": other["ContactID"]}, "LineItems": NEW_LINES, "Reference": "deal-1 v2"}]})
    assert status == 200, body
    updated = body["Invoices"][0]
    assert (updated["InvoiceID"], updated["InvoiceNumber"], updated["Status"]) == (
        created["InvoiceID"], created["InvoiceNumber"], "DRAFT")
    assert updated["Contact"]["Name"] == "Kowhai Design Ltd" and updated["Reference"] == "deal-1 v2"
    assert [line["Description"] for line in updated["LineItems"]] == ["Hosting"] and updated["SubTotal"] == 500
    _, body, _ = await sandbox.api("GET", f"/Invoices/{created['InvoiceID']}", token)
    assert body["Invoices"][0]["Reference"] == "deal-1 v2" and len(sandbox.state.invoices(NZ_TENANT_ID)) == 1


@pytest.mark.parametrize(("actions", "message"), [
    (["approve", "pay"], "This document cannot be edited as it has a payment or credit note allocated to it."),
    (["approve", "void"], "Invoice not of valid status for modification"),
])
async def test_paid_and_voided_invoices_refuse_updates(sandbox: Sandbox, actions: list[str], message: str) -> None:
    token = (await connect(sandbox))["access_token"]
    _, created = await draft_invoice(sandbox, token)
    for action in actions:
        status, _ = await control(sandbox, f"invoices/{created['InvoiceID']}/{action}")
        assert status == 200
    status, body, _ = await sandbox.api("POST", f"/Invoices/{created['InvoiceID']}", token, json={"Invoices": [{
        "LineItems": NEW_LINES}]})
    assert (status, body["Type"]) == (400, "ValidationException")
    assert body["Elements"][0]["ValidationErrors"][0]["Message"] == message
    assert sandbox.state.invoices(NZ_TENANT_ID)[0]["LineItems"][0]["Description"] == "Workshop"


async def test_control_routes_move_an_invoice_along(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    _, created = await draft_invoice(sandbox, token)
    status, submitted = await control(sandbox, f"invoices/{created['InvoiceID']}/submit")
    assert (status, submitted["Status"]) == (200, "SUBMITTED")
    status, approved = await control(sandbox, f"invoices/{created['InvoiceID']}/approve")
    assert (status, approved["Status"]) == (200, "AUTHORISED")
    status, _ = await control(sandbox, f"invoices/{created['InvoiceID']}/submit")
    assert status == 400
    _, body, _ = await sandbox.api("GET", f"/Invoices/{created['InvoiceID']}", token)
    assert body["Invoices"][0]["Status"] == "AUTHORISED"


async def test_a_quote_update_needs_contact_and_date_and_keeps_its_number(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    contact, created = await draft_quote(sandbox, token)
    path = f"/Quotes/{created['QuoteID']}"
    status, body, _ = await sandbox.api("POST", path, token, json={"Quotes": [{"LineItems": NEW_LINES}]})
    assert status == 400
    assert [e["Message"] for e in body["Elements"][0]["ValidationErrors"]] == [
        "A Contact must be specified for this type of transaction", "Date cannot be empty."]
    status, body, _ = await sandbox.api("POST", path, token, json={"Quotes": [{
        "Contact": {"ContactID": contact["ContactID"]}, "Date": "2026-03-02", "LineItems": NEW_LINES,
        "Reference": "deal-1 v2"}]})
    assert status == 200, body
    updated = body["Quotes"][0]
    assert (updated["QuoteID"], updated["QuoteNumber"], updated["Reference"]) == (
        created["QuoteID"], created["QuoteNumber"], "deal-1 v2")
    assert [line["Description"] for line in updated["LineItems"]] == ["Hosting"]
    _, body, _ = await sandbox.api("GET", path, token)
    assert body["Quotes"][0]["DateString"].startswith("2026-03-02") and len(sandbox.state.quotes(NZ_TENANT_ID)) == 1


async def test_control_routes_move_a_quote_along(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    _, created = await draft_quote(sandbox, token)
    for action, expected in (("send", "SENT"), ("accept", "ACCEPTED"), ("invoice", "INVOICED")):
        status, doc = await control(sandbox, f"quotes/{created['QuoteID']}/{action}")
        assert (status, doc["Status"]) == (200, expected)
    status, _ = await control(sandbox, f"quotes/{created['QuoteID']}/decline")
    assert status == 400
    status, _ = await control(sandbox, f"quotes/{created['QuoteID']}/shred")
    assert status == 404
    _, body, _ = await sandbox.api("GET", f"/Quotes/{created['QuoteID']}", token)
    assert body["Quotes"][0]["Status"] == "INVOICED"


async def test_unknown_documents_are_404(sandbox: Sandbox) -> None:
    token = (await connect(sandbox))["access_token"]
    unknown = "7b0c3a52-9d2e-4f7c-8a43-5f1b6c2d9e01"
    for method, path in (("GET", f"/Invoices/{unknown}"), ("POST", f"/Invoices/{unknown}"),
                         ("GET", f"/Quotes/{unknown}"), ("POST", f"/Quotes/{unknown}")):
        status, _, _ = await sandbox.api(method, path, token, json={"Reference": "x"} if method == "POST" else None)
        assert status == 404, (method, path)
