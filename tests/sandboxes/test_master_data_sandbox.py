"""Both sandboxes behave like the real services for master-data sync (issue 12): Pipedrive persons, organisations and
products written through API v2 or by a user fire v2 webhooks per entity, every API call says its token cost, deals
take monetary fields and stage moves; Xero contacts and items change only what an update sends, within Xero's field
lengths, and a payment is an INVOICE UPDATE event. Real loopback servers, real HTTP."""

import asyncio
import copy
import json
import re
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.pipedrive import (
    DEMO_DEAL_ID,
    ORG_KIWI,
    PERSON_AROHA,
    PERSON_MIA,
    PRODUCT_CONSULT_HR,
    PRODUCT_WIDGET,
    STAGE_WON,
    PipedriveState,
    create_app,
)
from pdx_sandbox.pipedrive.middleware import COSTS
from pdx_sandbox.xero import NZ_TENANT_ID, XeroState, sign
from pdx_sandbox.xero import create_app as create_xero_app
from tests.conftest import SPECS
from tests.sandboxes.test_pipedrive_sandbox import FAST_RETRIES, Receiver, Sandbox
from tests.sandboxes.test_sandbox_persistence import Server, call
from tests.sandboxes.test_xero_sandbox import Sandbox as XeroSandbox
from tests.sandboxes.test_xero_sandbox import connect, create_contact, invoice

NEW_ADDRESS = {"street_number": "14", "route": "Lambton Quay", "subpremise": "Level 2", "locality": "Wellington",
               "admin_area_level_1": "Wellington", "postal_code": "6011", "country": "New Zealand"}


@pytest.fixture
async def pd() -> AsyncIterator[Sandbox]:
    state = PipedriveState(retry_delays=FAST_RETRIES)
    server = TestServer(create_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    state.base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        yield Sandbox(state, state.base_url, http)
    await server.close()


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    """A webhook endpoint that records what Pipedrive sends."""
    received = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/pipedrive", received.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    received.url = str(server.make_url("/hooks/pipedrive"))
    yield received
    await server.close()


@pytest.fixture
def processes() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(*args: str) -> Server:
        started.append(Server(list(args)).start())
        return started[-1]

    yield start
    for server in started:
        server.stop(signal.SIGKILL)


async def hooks_for(sandbox: Sandbox, receiver: Receiver, *objects: str, action: str = "*") -> None:
    for event_object in objects:
        await sandbox.register_webhook(receiver, event_object=event_object, event_action=action)


async def control(sandbox: Sandbox, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
    async with sandbox.http.request(method, f"{sandbox.url}/_sandbox{path}", json=body) as resp:
        return resp.status, await resp.json()


def by_entity(calls: list[dict], entity: str) -> list[dict]:
    return [c["body"] for c in calls if c["body"]["meta"]["entity"] == entity]


# --- Pipedrive: API writes ----------------------------------------------------------------------------------------
async def test_api_edits_fire_one_webhook_per_entity_with_the_record_and_only_the_changed_fields(
        pd: Sandbox, hooks: Receiver) -> None:
    await hooks_for(pd, hooks, "organization", "product", "person", "deal")
    _, before_org = await pd.call("GET", f"/api/v2/organizations/{ORG_KIWI}")
    _, before_product = await pd.call("GET", f"/api/v2/products/{PRODUCT_CONSULT_HR}")

    status, org = await pd.call("PATCH", f"/api/v2/organizations/{ORG_KIWI}", json={"address": NEW_ADDRESS})
    assert status == 200, org
    assert org["data"]["address"] == {**NEW_ADDRESS, "sublocality": None, "admin_area_level_2": None,
                                      "value": "Level 2/14 Lambton Quay, Wellington 6011, Wellington, New Zealand",
                                      "formatted_address": "Level 2/14 Lambton Quay, Wellington 6011, Wellington, "
                                                           "New Zealand"}
    prices = [{"currency": "NZD", "price": 200, "cost": 80, "overhead_cost": 5}, {"currency": "USD", "price": 120}]
    status, product = await pd.call("PATCH", f"/api/v2/products/{PRODUCT_CONSULT_HR}",
                                    json={"prices": prices, "description": "Senior consultant, per hour"})
    assert status == 200, product
    assert [(p["currency"], p["price"], p["cost"], p["direct_cost"]) for p in product["data"]["prices"]] == [
        ("NZD", 200, 80, 5), ("USD", 120, 0, None)]
    person_change = {"emails": [{"value": "aroha@kowhai.example", "primary": True, "label": "work"}],
                     "phones": [{"value": "+64 4 555 0199", "label": "mobile"}], "postal_address": NEW_ADDRESS}
    status, person = await pd.call("PATCH", f"/api/v2/persons/{PERSON_AROHA}", json=person_change)
    assert status == 200, person
    assert person["data"]["phones"] == [{"value": "+64 4 555 0199", "primary": True, "label": "mobile"}]

    calls = await hooks.wait_for(3)
    org_event, = by_entity(calls, "organization")
    meta = {k: org_event["meta"][k] for k in ("action", "entity_id", "change_source", "version", "attempt",
                                                 "company_id")}
    assert meta == {"action": "change", "entity_id": str(ORG_KIWI), "change_source": "api", "version": "2.0",
                    "attempt": 1, "company_id": "7001"}
    assert org_event["data"] == org["data"]  # the record as the v2 GET answers it
    assert org_event["previous"] == {"address": before_org["data"]["address"]}
    product_event, = by_entity(calls, "product")
    assert product_event["data"] == product["data"]
    assert product_event["previous"] == {"prices": before_product["data"]["prices"],
                                         "description": before_product["data"]["description"]}
    person_event, = by_entity(calls, "person")
    assert set(person_event["previous"]) == {"emails", "phones", "postal_address"}
    assert person_event["data"]["emails"] == person_change["emails"]
    assert not by_entity(calls, "deal")

    status, same = await pd.call("PATCH", f"/api/v2/organizations/{ORG_KIWI}", json={"address": NEW_ADDRESS})
    assert status == 200 and same["data"]["update_time"] == org["data"]["update_time"]
    assert len(pd.state.events) == 3, "an edit that changes nothing fires nothing (events are recorded as they fire)"


async def test_api_creates_and_deletes_persons_organisations_and_products(pd: Sandbox, hooks: Receiver) -> None:
    await hooks_for(pd, hooks, "*")
    status, org = await pd.call("POST", "/api/v2/organizations", json={"name": "Kowhai Design Ltd",
                                                                       "address": "5 Cuba Street, Wellington"})
    assert status == 200, org
    assert org["data"]["address"]["value"] == "5 Cuba Street, Wellington" and org["data"]["address"]["route"] is None
    status, person = await pd.call("POST", "/api/v2/persons", json={
        "name": "Tui Kahu", "org_id": org["data"]["id"], "emails": [{"value": "tui@kowhai.example"}],
        "postal_address": {"street_number": "5", "route": "Cuba Street", "locality": "Wellington"}})
    assert status == 200, person
    assert (person["data"]["first_name"], person["data"]["last_name"]) == ("Tui", "Kahu")
    assert person["data"]["emails"] == [{"value": "tui@kowhai.example", "primary": True, "label": "work"}]
    assert person["data"]["postal_address"]["value"] == "5 Cuba Street, Wellington"
    status, product = await pd.call("POST", "/api/v2/products", json={
        "name": "Design sprint", "code": "SPRINT-1", "unit": "week", "tax": 15,
        "prices": [{"currency": "NZD", "price": 4500}]})
    assert status == 201, product  # the spec answers addProduct with 201, addPerson/addOrganization with 200
    for kind, record in (("organizations", org), ("persons", person), ("products", product)):
        status, read = await pd.call("GET", f"/api/v2/{kind}/{record['data']['id']}")
        assert status == 200 and read["data"] == record["data"]

    status, deleted = await pd.call("DELETE", f"/api/v2/products/{product['data']['id']}")
    assert (status, deleted) == (200, {"success": True, "data": {"id": product["data"]["id"]}})
    for method, body in (("GET", None), ("PATCH", {"name": "Again"}), ("DELETE", None)):
        status, gone = await pd.call(method, f"/api/v2/products/{product['data']['id']}", json=body)
        assert (status, gone["success"]) == (404, False), method
    _, listed = await pd.call("GET", "/api/v2/products")
    assert product["data"]["id"] not in [p["id"] for p in listed["data"]]
    _, listed = await pd.call("GET", "/api/v2/persons", params={"org_id": str(org["data"]["id"])})
    assert [p["id"] for p in listed["data"]] == [person["data"]["id"]]
    status, _ = await pd.call("DELETE", f"/api/v2/persons/{person['data']['id']}")
    assert status == 200
    _, listed = await pd.call("GET", "/api/v2/persons", params={"ids": f"{PERSON_AROHA},{person['data']['id']}"})
    assert [p["id"] for p in listed["data"]] == [PERSON_AROHA]
    _, searched = await pd.call("GET", "/api/v2/persons/search", params={"term": "Tui Kahu"})
    assert searched["data"]["items"] == []

    calls = await hooks.wait_for(5)
    events = [(c["body"]["meta"]["entity"], c["body"]["meta"]["action"]) for c in calls]
    assert events == [("organization", "create"), ("person", "create"), ("product", "create"),
                      ("product", "delete"), ("person", "delete")]
    create, delete = calls[2]["body"], calls[3]["body"]
    assert create["previous"] is None and create["data"] == product["data"]
    assert delete["data"] is None and delete["previous"]["code"] == "SPRINT-1"
    assert delete["meta"]["entity_id"] == str(product["data"]["id"])


@pytest.mark.parametrize(("path", "body", "words"), [
    ("/api/v2/persons", {"name": "A", "emails": ["a@x.example"]}, "emails must be an array"),
    ("/api/v2/persons", {"name": "A", "org_id": 99999}, "Organization not found"),
    ("/api/v2/persons", {"name": "A", "org_id": "Kiwi"}, "org_id must be an integer"),
    ("/api/v2/products", {"name": "A", "owner_id": 4}, "owner_id 4 is not a user"),
    ("/api/v2/organizations", {"name": "  "}, "name is required"),
    ("/api/v2/organizations", {"name": "A", "address": {"street": "1 Main St"}}, "unknown address components"),
    ("/api/v2/products", {"name": "A", "prices": [{"currency": "NZD", "price": 1}, {"currency": "NZD", "price": 2}]},
     "one price per product per currency"),
    ("/api/v2/products", {"name": "A", "prices": [{"currency": "NZD", "price": "12"}]}, "must be a number"),
])
async def test_bad_writes_are_refused_and_change_nothing(pd: Sandbox, path: str, body: dict, words: str) -> None:
    counts = {k: len(getattr(pd.state, k)) for k in ("persons", "organizations", "products")}
    status, answer = await pd.call("POST", path, json=body)
    assert (status, answer["success"]) in ((400, False), (404, False)) and words in answer["error"]
    assert {k: len(getattr(pd.state, k)) for k in counts} == counts


async def test_user_edits_through_control_routes_are_app_changes(pd: Sandbox, hooks: Receiver) -> None:
    await hooks_for(pd, hooks, "person", "organization", "product")
    status, org = await control(pd, "POST", "/organizations", {"name": "Harbour Cafe", "address": NEW_ADDRESS})
    assert status == 201 and org["data"]["address"]["locality"] == "Wellington"
    status, edited = await control(pd, "POST", f"/organizations/{org['data']['id']}",
                                   {"name": "Harbour Cafe Ltd", "address": {**NEW_ADDRESS, "postal_code": "6012"}})
    assert status == 200 and edited["data"]["address"]["postal_code"] == "6012"
    status, person = await control(pd, "POST", f"/persons/{PERSON_MIA}", {"phones": [{"value": "+64 21 000"}]})
    assert status == 200 and person["data"]["phones"][0]["value"] == "+64 21 000"
    status, product = await control(pd, "POST", f"/products/{PRODUCT_WIDGET}",
                                    {"prices": [{"currency": "NZD", "price": 27.5}]})
    assert status == 200 and product["data"]["prices"][0]["price"] == 27.5
    status, _ = await control(pd, "DELETE", f"/products/{PRODUCT_WIDGET}")
    assert status == 200
    status, missing = await control(pd, "POST", f"/products/{PRODUCT_WIDGET}", {"name": "Again"})
    assert status == 404, missing

    calls = await hooks.wait_for(5)
    assert {c["body"]["meta"]["change_source"] for c in calls} == {"app"}
    assert [(c["body"]["meta"]["entity"], c["body"]["meta"]["action"]) for c in calls] == [
        ("organization", "create"), ("organization", "change"), ("person", "change"), ("product", "change"),
        ("product", "delete")]
    assert calls[1]["body"]["previous"] == {"name": "Harbour Cafe", "address": org["data"]["address"]}
    _, everything = await control(pd, "GET", "/products")
    assert [p["is_deleted"] for p in everything["data"] if p["id"] == PRODUCT_WIDGET] == [True]
    assert pd.state.tokens_spent == 3 * 10  # control routes cost nothing; the three webhook registrations did


async def test_webhooks_filter_by_object_and_action(pd: Sandbox, hooks: Receiver) -> None:
    await hooks_for(pd, hooks, "product", action="delete")
    await hooks_for(pd, hooks, "person", action="change")
    await control(pd, "POST", f"/products/{PRODUCT_WIDGET}", {"name": "Widget v2"})  # change: not subscribed
    await control(pd, "POST", f"/organizations/{ORG_KIWI}", {"name": "Kiwi Widgets Limited"})  # no org webhook
    await control(pd, "POST", f"/persons/{PERSON_AROHA}", {"job_title": "Director"})
    await control(pd, "DELETE", f"/products/{PRODUCT_WIDGET}")
    calls = await hooks.wait_for(2)
    assert [(c["body"]["meta"]["entity"], c["body"]["meta"]["action"]) for c in calls] == [
        ("person", "change"), ("product", "delete")]
    assert calls[0]["body"]["previous"] == {"job_title": None}
    assert len(pd.state.events) == 2


# --- Pipedrive: deals and fields ----------------------------------------------------------------------------------
async def test_a_deal_patch_writes_monetary_fields_and_the_stage_and_fires_an_api_change(
        pd: Sandbox, hooks: Receiver) -> None:
    await hooks_for(pd, hooks, "deal")
    fields = {}
    for name, field_type in (("Xero status", "varchar"), ("Amount due", "monetary"), ("Xero link", "varchar")):
        status, field = await pd.call("POST", "/api/v1/dealFields", json={"name": name, "field_type": field_type})
        assert status == 200 and field["data"]["field_type"] == field_type and len(field["data"]["key"]) == 40
        fields[name] = field["data"]["key"]
    values = {fields["Xero status"]: "Paid", fields["Amount due"]: {"value": 0, "currency": "NZD"},
              fields["Xero link"]: "https://go.xero.com/app/invoicing/view/x"}
    status, deal = await pd.call("PATCH", f"/api/v2/deals/{DEMO_DEAL_ID}",
                                 json={"custom_fields": values, "stage_id": STAGE_WON})
    assert status == 200, deal
    assert deal["data"]["stage_id"] == STAGE_WON and deal["data"]["custom_fields"][fields["Amount due"]] == {
        "value": 0, "currency": "NZD"}
    event = (await hooks.wait_for(1))[0]["body"]
    assert (event["meta"]["entity"], event["meta"]["action"], event["meta"]["change_source"]) == (
        "deal", "change", "api")
    assert event["data"]["custom_fields"][fields["Amount due"]] == {"type": "monetary", "value": 0, "currency": "NZD"}
    assert event["data"]["custom_fields"][fields["Xero status"]] == {"type": "varchar", "value": "Paid"}
    assert event["previous"]["stage_id"] == 4 and event["previous"]["custom_fields"] == dict.fromkeys(values)

    for bad in (12.5, {"value": "12", "currency": "NZD"}, {"value": 1, "currency": "NZD", "extra": 1}):
        status, refused = await pd.call("PATCH", f"/api/v2/deals/{DEMO_DEAL_ID}",
                                        json={"custom_fields": {fields["Amount due"]: bad}})
        assert status == 400 and "monetary" in refused["error"], bad

    status, _ = await control(pd, "DELETE", f"/fields/{fields['Xero link']}")  # an admin deletes the field
    assert status == 200
    status, refused = await pd.call("PATCH", f"/api/v2/deals/{DEMO_DEAL_ID}",
                                    json={"custom_fields": {fields["Xero link"]: "https://go.xero.com/x"}})
    assert status == 400 and "unknown custom fields" in refused["error"]
    _, deal = await pd.call("GET", f"/api/v2/deals/{DEMO_DEAL_ID}")
    assert fields["Xero link"] not in deal["data"]["custom_fields"]


# --- Pipedrive: token cost ----------------------------------------------------------------------------------------
def spec_costs() -> dict[tuple[str, str], int]:
    costs = {}
    for version in ("v1", "v2"):
        spec = yaml.safe_load((SPECS / "pipedrive" / f"pipedrive-openapi-{version}.yaml").read_text())
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                if isinstance(operation, dict) and "x-token-cost" in operation:
                    costs[(method.upper(), re.sub(r"\{[^}]+\}", "{}", f"/api/{version}{path}"))] = \
                        operation["x-token-cost"]
    return costs


def test_every_api_route_costs_what_the_spec_says() -> None:
    wanted = spec_costs()
    routes = {(r.method, r.resource.canonical) for r in create_app().router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/") and r.method != "HEAD"}
    for method, path in routes:
        key = (method, re.sub(r"\{[^}]+\}", "{}", path))
        assert key in wanted, f"{method} {path} is not in the spec"
        assert COSTS.get((method, path)) == wanted[key], f"{method} {path}: spec says {wanted[key]}"


async def test_every_answer_says_its_cost_and_the_company_total_is_kept(pd: Sandbox) -> None:
    calls = [("GET", f"/api/v2/persons/{PERSON_AROHA}", None, "1"),
             ("PATCH", f"/api/v2/persons/{PERSON_AROHA}", {"name": "Aroha Ngata-Smith"}, "5"),
             ("PATCH", f"/api/v2/products/{PRODUCT_WIDGET}", {"code": "WIDGET-02"}, "5"),
             ("DELETE", f"/api/v2/organizations/{ORG_KIWI}", None, "3"),
             ("GET", f"/api/v2/organizations/{ORG_KIWI}", None, "1")]  # a 404 costs too
    for method, path, body, cost in calls:
        async with pd.http.request(method, pd.url + path, json=body,
                                   headers={"x-api-token": "sandbox-pd-api-token"}) as resp:
            assert resp.headers["x-token-cost"] == cost, (method, path)
    status, tokens = await control(pd, "GET", "/tokens")
    assert status == 200 and tokens["data"] == {"7001": 15}
    assert tokens["additional_data"]["by_route"] == {
        "DELETE /api/v2/organizations/{id}": 3, "GET /api/v2/organizations/{id}": 1, "GET /api/v2/persons/{id}": 1,
        "PATCH /api/v2/persons/{id}": 5, "PATCH /api/v2/products/{id}": 5}
    status, reset = await control(pd, "DELETE", "/tokens")
    assert status == 200 and reset["data"] == {"7001": 15}
    _, after = await control(pd, "GET", "/tokens")
    assert after["data"] == {"7001": 0} and after["additional_data"] == {"by_route": {}}


# --- Pipedrive: persistence ---------------------------------------------------------------------------------------
async def test_records_and_spent_tokens_survive_a_restart(processes: Callable[..., Server], tmp_path: Path) -> None:
    server = processes("-m", "pdx_sandbox.pipedrive", "serve", "--state-file", str(tmp_path / "pd.pickle"))
    token = {"x-api-token": "sandbox-pd-api-token"}
    async with aiohttp.ClientSession() as http:
        status, org = await call(http, "POST", f"{server.url}/_sandbox/organizations",
                                 json={"name": "Kept Ltd", "address": NEW_ADDRESS})
        assert status == 201, org
        status, _ = await call(http, "PATCH", f"{server.url}/api/v2/products/{PRODUCT_WIDGET}", headers=token,
                               json={"prices": [{"currency": "NZD", "price": 30}]})
        assert status == 200
        server.restart()
        status, kept = await call(http, "GET", f"{server.url}/api/v2/organizations/{org['data']['id']}",
                                  headers=token)
        assert status == 200 and kept["data"]["address"] == org["data"]["address"]
        _, product = await call(http, "GET", f"{server.url}/api/v2/products/{PRODUCT_WIDGET}", headers=token)
        assert [p["price"] for p in product["data"]["prices"]] == [30]
        _, tokens = await call(http, "GET", f"{server.url}/_sandbox/tokens")
        assert tokens["data"] == {"7001": 7} and tokens["additional_data"]["by_route"] == {
            "GET /api/v2/organizations/{id}": 1, "GET /api/v2/products/{id}": 1, "PATCH /api/v2/products/{id}": 5}


# --- Xero ---------------------------------------------------------------------------------------------------------
@pytest.fixture
async def xero() -> AsyncIterator[XeroSandbox]:
    state = XeroState(SandboxClock(speed=1))
    server = TestServer(create_xero_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield XeroSandbox(state, str(server.make_url("")).rstrip("/"), http)
    await server.close()


STREET = {"AddressType": "STREET", "AddressLine1": "12 Queen Street", "City": "Auckland", "PostalCode": "1010",
          "Country": "New Zealand"}
POBOX = {"AddressType": "POBOX", "AddressLine1": "PO Box 5", "City": "Auckland", "PostalCode": "1140"}


async def kiwi(xero: XeroSandbox, token: str) -> dict:
    return await create_contact(xero, token, "Kiwi Widgets Ltd", ContactNumber="pd7001-org-101",
                                EmailAddress="accounts@kiwiwidgets.example", Addresses=[STREET, POBOX],
                                Phones=[{"PhoneType": "DEFAULT", "PhoneNumber": "+64 9 555 0101"}])


async def test_a_contact_update_changes_only_what_it_sends(xero: XeroSandbox) -> None:
    token = (await connect(xero))["access_token"]
    contact = await kiwi(xero, token)
    street = {"AddressType": "STREET", "AddressLine1": "14 Lambton Quay", "AddressLine2": "Level 2",
              "City": "Wellington", "Region": "Wellington", "PostalCode": "6011", "Country": "New Zealand"}
    status, body, _ = await xero.api("POST", "/Contacts?summarizeErrors=false", token, json={"Contacts": [
        {"ContactID": contact["ContactID"], "Addresses": [street], "TaxNumber": "123-456-789"}]})
    assert status == 200 and body["Contacts"][0]["StatusAttributeString"] == "OK", body
    status, body, _ = await xero.api("POST", f"/Contacts/{contact['ContactID']}", token, json={"Contacts": [
        {"FirstName": "Aroha", "LastName": "Ngata", "Phones": [{"PhoneType": "MOBILE", "PhoneNumber": "021 555"}]}]})
    assert status == 200, body
    _, body, _ = await xero.api("GET", f"/Contacts/{contact['ContactID']}", token)
    stored = body["Contacts"][0]
    assert stored["Addresses"] == [street, POBOX]  # the STREET address replaced, the POBOX one kept
    assert stored["Phones"] == [{"PhoneType": "DEFAULT", "PhoneNumber": "+64 9 555 0101"},
                                {"PhoneType": "MOBILE", "PhoneNumber": "021 555"}]
    assert (stored["Name"], stored["EmailAddress"], stored["ContactNumber"], stored["TaxNumber"]) == (
        "Kiwi Widgets Ltd", "accounts@kiwiwidgets.example", "pd7001-org-101", "123-456-789")
    assert (stored["FirstName"], stored["LastName"]) == ("Aroha", "Ngata")
    updates = [e for e in xero.state.webhook_events if e["eventType"] == "UPDATE"]
    assert [(e["eventCategory"], e["resourceId"]) for e in updates] == [("CONTACT", contact["ContactID"])] * 2


@pytest.mark.parametrize(("change", "message"), [
    ({"Addresses": [{**STREET, "AddressLine1": "x" * 501}]},
     "The AddressLine1 must not be more than 500 characters long."),
    ({"Addresses": [{**STREET, "AddressLine4": "x" * 501}]},
     "The AddressLine4 must not be more than 500 characters long."),
    ({"Addresses": [{**STREET, "City": "x" * 256}]}, "The City must not be more than 255 characters long."),
    ({"Addresses": [{**STREET, "Region": "x" * 256}]}, "The Region must not be more than 255 characters long."),
    ({"Addresses": [{**STREET, "PostalCode": "1" * 51}]}, "The PostalCode must not be more than 50 characters long."),
    ({"Addresses": [{**STREET, "Country": "x" * 51}]}, "The Country must not be more than 50 characters long."),
    ({"Addresses": [{**STREET, "AttentionTo": "x" * 256}]},
     "The AttentionTo must not be more than 255 characters long."),
    ({"Addresses": [{**STREET, "AddressType": "HOME"}]}, "AddressType 'HOME' is not valid."),
    ({"Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "1" * 51}]},
     "The PhoneNumber must not be more than 50 characters long."),
    ({"TaxNumber": "1" * 51}, "The TaxNumber must not be more than 50 characters long."),
    ({"Name": "x" * 256}, "The contact name must not be more than 255 characters long."),
    ({"EmailAddress": "a" * 250 + "@x.example"}, "The EmailAddress must not be more than 255 characters long."),
    ({"FirstName": "x" * 256}, "The FirstName must not be more than 255 characters long."),
    ({"LastName": "x" * 256}, "The LastName must not be more than 255 characters long."),
])
async def test_contact_values_over_xero_limits_are_refused(xero: XeroSandbox, change: dict, message: str) -> None:
    token = (await connect(xero))["access_token"]
    contact = await kiwi(xero, token)
    before = copy.deepcopy(xero.state.contacts(NZ_TENANT_ID))
    status, body, _ = await xero.api("POST", "/Contacts", token,
                                     json={"Contacts": [{"ContactID": contact["ContactID"], **change}]})
    assert (status, body["Type"]) == (400, "ValidationException")
    assert [e["Message"] for e in body["Elements"][0]["ValidationErrors"]] == [message]
    assert xero.state.contacts(NZ_TENANT_ID) == before
    status, body, _ = await xero.api("PUT", "/Contacts", token, json={"Contacts": [{"Name": "New Ltd", **change}]})
    assert status == 400 and body["Elements"][0]["ValidationErrors"][0]["Message"] == message


async def test_summarize_errors_false_answers_each_element(xero: XeroSandbox) -> None:
    token = (await connect(xero))["access_token"]
    first = await kiwi(xero, token)
    second = await create_contact(xero, token, "Acme Corporation", EmailAddress="ap@acme.example")
    status, body, _ = await xero.api("POST", "/Contacts?summarizeErrors=false", token, json={"Contacts": [
        {"ContactID": first["ContactID"], "TaxNumber": "9" * 51},
        {"ContactID": second["ContactID"], "EmailAddress": "accounts@acme.example"}]})
    assert status == 200, body
    bad, good = body["Contacts"]
    assert bad["StatusAttributeString"] == "ERROR" and bad["HasValidationErrors"] is True
    assert bad["ValidationErrors"] == [{"Message": "The TaxNumber must not be more than 50 characters long."}]
    assert good["StatusAttributeString"] == "OK" and good["EmailAddress"] == "accounts@acme.example"
    stored = {c["ContactID"]: c for c in xero.state.contacts(NZ_TENANT_ID)}
    assert "TaxNumber" not in stored[first["ContactID"]]
    assert stored[second["ContactID"]]["EmailAddress"] == "accounts@acme.example"


async def test_items_update_by_code_or_id_and_keep_what_is_not_sent(xero: XeroSandbox) -> None:
    token = (await connect(xero))["access_token"]
    _, body, _ = await xero.api("GET", "/Items", token, params={"where": 'Code=="WIDGET-01"'})
    widget = body["Items"][0]
    status, body, _ = await xero.api("POST", "/Items?summarizeErrors=false", token, json={"Items": [
        {"Code": "WIDGET-01", "Name": "Widget v2", "SalesDetails": {"UnitPrice": 27.5}},
        {"ItemID": widget["ItemID"], "Description": "Blue widget"}]})
    assert status == 200 and [i["StatusAttributeString"] for i in body["Items"]] == ["OK", "OK"], body
    _, body, _ = await xero.api("GET", f"/Items/{widget['ItemID']}", token)
    item = body["Items"][0]
    assert (item["Code"], item["Name"], item["Description"]) == ("WIDGET-01", "Widget v2", "Blue widget")
    assert item["SalesDetails"] == {**widget["SalesDetails"], "UnitPrice": 27.5}  # account and tax type kept
    assert len([i for i in xero.state.items(NZ_TENANT_ID) if i["Code"] == "WIDGET-01"]) == 1
    status, body, _ = await xero.api("POST", "/Items", token, json={"Items": [
        {"Code": "WIDGET-01", "Description": "x" * 4001}]})
    assert status == 400 and body["Elements"][0]["ValidationErrors"] == [
        {"Message": "The Description must not be more than 4000 characters long."}]


async def test_contacts_are_found_by_search_term_and_by_where_with_or(xero: XeroSandbox) -> None:
    token = (await connect(xero))["access_token"]
    org = await kiwi(xero, token)
    person = await create_contact(xero, token, "Aroha Ngata", FirstName="Aroha", LastName="Ngata",
                                  EmailAddress="aroha@kiwiwidgets.example", ContactNumber="pd7001-person-201")
    await create_contact(xero, token, "Acme Corporation", EmailAddress="ap@acme.example")

    async def names(**params: str) -> list[str]:
        status, body, _ = await xero.api("GET", "/Contacts", token, params=params)
        assert status == 200, body
        return sorted(c["Name"] for c in body["Contacts"])

    assert await names(searchTerm="WIDGETS") == ["Aroha Ngata", "Kiwi Widgets Ltd"]  # name and email
    assert await names(searchTerm="ngata") == ["Aroha Ngata"]
    assert await names(searchTerm="pd7001-org") == ["Kiwi Widgets Ltd"]
    assert await names(searchTerm="AP@ACME") == ["Acme Corporation"]
    where = 'ContactNumber=="pd7001-org-101" OR EmailAddress=="AROHA@kiwiwidgets.example" OR Name=="Nobody"'
    assert await names(where=where) == ["Aroha Ngata", "Kiwi Widgets Ltd"]
    assert await names(where=f'ContactID==guid("{org["ContactID"]}") OR ContactID==guid("{person["ContactID"]}")',
                       searchTerm="aroha") == ["Aroha Ngata"]


async def test_a_payment_in_xero_is_an_invoice_update_event(xero: XeroSandbox) -> None:
    received: list[dict] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("x-xero-signature") != sign(raw, xero.state.webhook_key):
            return web.Response(status=401)
        received.extend(json.loads(raw)["events"])
        arrived.set()
        return web.Response(status=200)

    hook_app = web.Application()
    hook_app.router.add_post("/xero", hook)
    hooks = TestServer(hook_app, host="127.0.0.1", port=0)
    await hooks.start_server()
    try:
        async with xero.http.post(f"{xero.url}/_sandbox/webhook", json={"url": str(hooks.make_url("/xero"))}) as resp:
            assert (await resp.json())["intent_to_receive"] is True
        token = (await connect(xero))["access_token"]
        contact = await kiwi(xero, token)
        lines = [{"Description": "Workshop", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}]
        _, body, _ = await xero.api("PUT", "/Invoices", token,
                                    json={"Invoices": [invoice(contact["ContactID"], lines)]})
        invoice_id = body["Invoices"][0]["InvoiceID"]
        for action in ("approve", "pay"):
            async with xero.http.post(f"{xero.url}/_sandbox/invoices/{invoice_id}/{action}",
                                      json={"tenant_id": NZ_TENANT_ID}) as resp:
                assert resp.status == 200, await resp.text()
                paid = await resp.json()
        assert paid["Status"] == "PAID" and paid["AmountDue"] == 0

        def payment_seen() -> bool:
            return sum(e["eventCategory"] == "INVOICE" and e["eventType"] == "UPDATE" and e["resourceId"] == invoice_id
                       for e in received) >= 2  # the approval, then the payment

        async with asyncio.timeout(30):
            while not payment_seen():
                arrived.clear()
                await arrived.wait()
        event = [e for e in received if e["resourceId"] == invoice_id][-1]
        assert event["tenantId"] == NZ_TENANT_ID
        assert event["resourceUrl"].endswith(f"/api.xro/2.0/Invoices/{invoice_id}")
    finally:
        await hooks.close()
