"""A person's and an organisation's custom fields in templates (``{person.custom.Customer number}``,
``{org.custom.<40-hex key>}``), found by name or key like a deal's, an option by its label; and the reader that asks
Pipedrive for ``/personFields`` / ``/organizationFields`` only when the person / organisation has a custom value."""

from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_common.connections import AccessToken
from pdx_mapper.adapters.pipedrive import PipedriveDealReader
from pdx_mapper.domain.mapping import DealSnapshot
from pdx_mapper.domain.templates import custom_field, render
from pdx_sandbox.pipedrive import (
    DEAL_NO_CONTACT_ID,
    DEAL_PERSON_ONLY_ID,
    DEMO_DEAL_ID,
    ORG_ACCOUNT_MANAGER_FIELD_KEY,
    ORG_TAX_NUMBER_FIELD_KEY,
    PERSON_CUSTOMER_NUMBER_FIELD_KEY,
    PipedriveState,
    create_app,
)
from tests.unit.deals import AROHA, DEAL_FIELDS, KIWI, PO_KEY, deal

CUSTOMER_KEY = "5e1f0c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
CHANNEL_KEY = "7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
TAX_KEY = "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
MANAGER_KEY = "e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0"
SECTORS_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4"
TURNOVER_KEY = "aa11bb22cc33dd44ee55ff6600aa11bb22cc33dd"
PERSON_FIELDS = [  # GET /api/v2/personFields
    {"field_name": "Name", "field_code": "name", "field_type": "varchar", "options": None, "is_custom_field": False,
     "is_optional_response_field": False},
    {"field_name": "Customer number", "field_code": CUSTOMER_KEY, "field_type": "varchar", "options": None,
     "is_custom_field": True, "is_optional_response_field": False},
    {"field_name": "Preferred channel", "field_code": CHANNEL_KEY, "field_type": "enum", "is_custom_field": True,
     "is_optional_response_field": False,
     "options": [{"id": 51, "label": "Email", "color": None}, {"id": 52, "label": "Phone", "color": None}]},
]
ORG_FIELDS = [  # GET /api/v2/organizationFields
    {"field_name": "Name", "field_code": "name", "field_type": "varchar", "options": None, "is_custom_field": False,
     "is_optional_response_field": False},
    {"field_name": "Tax number", "field_code": TAX_KEY, "field_type": "varchar", "options": None,
     "is_custom_field": True, "is_optional_response_field": False},
    {"field_name": "Account manager", "field_code": MANAGER_KEY, "field_type": "enum", "is_custom_field": True,
     "is_optional_response_field": False,
     "options": [{"id": 41, "label": "Aroha", "color": None}, {"id": 42, "label": "Sam", "color": None}]},
    {"field_name": "Sectors", "field_code": SECTORS_KEY, "field_type": "set", "is_custom_field": True,
     "is_optional_response_field": False,
     "options": [{"id": 61, "label": "Retail", "color": None}, {"id": 62, "label": "Export", "color": None}]},
    {"field_name": "Turnover", "field_code": TURNOVER_KEY, "field_type": "monetary", "options": None,
     "is_custom_field": True, "is_optional_response_field": False},
]
PERSON_VALUES = {CUSTOMER_KEY: "C-1042", CHANNEL_KEY: 52}
ORG_VALUES = {TAX_KEY: "123-456-789", MANAGER_KEY: 42, SECTORS_KEY: [61, 62],
              TURNOVER_KEY: {"value": 250000, "currency": "NZD"}}


def record_snap(person_values: dict | None = PERSON_VALUES, org_values: dict | None = ORG_VALUES, *,
                person_fields: list[dict] | None = None, org_fields: list[dict] | None = None,
                deal_values: dict | None = None) -> DealSnapshot:
    who = None if person_values is None else {**AROHA, "custom_fields": person_values}
    company = None if org_values is None else {**KIWI, "custom_fields": org_values}
    return DealSnapshot(deal=deal(1001, "Kiwi rollout", 1200, "NZD", custom_fields=deal_values or {}),
                        person=who, org=company, deal_fields=DEAL_FIELDS,
                        person_fields=PERSON_FIELDS if person_fields is None else person_fields,
                        org_fields=ORG_FIELDS if org_fields is None else org_fields)


class Case(NamedTuple):
    name: str
    template: str
    snapshot: DealSnapshot
    expected: str


V1_PERSON_FIELDS = [{"key": CUSTOMER_KEY, "name": "Customer number", "field_type": "varchar", "edit_flag": True}]
CASES = [
    Case("person field by name", "{person.custom.Customer number}", record_snap(), "C-1042"),
    Case("name in any case, spaces around", "{person.custom. customer NUMBER }", record_snap(), "C-1042"),
    Case("person field by 40-hex key", "{person.custom." + CUSTOMER_KEY + "}", record_snap(), "C-1042"),
    Case("person option by its label", "{person.custom.Preferred channel}", record_snap(), "Phone"),
    Case("org field by name", "Tax {org.custom.Tax number}", record_snap(), "Tax 123-456-789"),
    Case("org field by key", "{org.custom." + TAX_KEY + "}", record_snap(), "123-456-789"),
    Case("org single option by label", "{org.custom.Account manager}", record_snap(), "Sam"),
    Case("org multiple options by labels", "{org.custom.Sectors}", record_snap(), "Retail, Export"),
    Case("org money by its amount", "{org.custom.Turnover}", record_snap(), "250000"),
    Case("v2 option object", "{org.custom.Account manager}",
         record_snap(org_values={MANAGER_KEY: {"id": 41, "label": "Aroha"}}), "Aroha"),
    Case("v1 field list (name/key)", "{person.custom.Customer number}",
         record_snap(person_fields=V1_PERSON_FIELDS), "C-1042"),
    Case("by key without the field list", "{person.custom." + CUSTOMER_KEY + "}",
         record_snap(person_fields=[], org_fields=[]), "C-1042"),
    Case("by name without the field list: empty", "{person.custom.Customer number}|{org.custom.Tax number}",
         record_snap(person_fields=[], org_fields=[]), "|"),
    Case("all three records side by side",
         "{deal.custom.PO number} / {person.custom.Customer number} / {org.custom.Account manager}",
         record_snap(deal_values={PO_KEY: "PO-9"}), "PO-9 / C-1042 / Sam"),
    Case("a person field is not an org field", "{org.custom.Customer number}", record_snap(), ""),
    Case("an org field is not a person field", "{person.custom.Tax number}", record_snap(), ""),
    Case("a deal field is not a person field", "{person.custom.PO number}", record_snap(deal_values={PO_KEY: "PO-9"}),
         ""),
    Case("unknown field", "{person.custom.Shoe size}{org.custom.Shoe size}", record_snap(), ""),
    Case("no value set", "{person.custom.Customer number}", record_snap(person_values={}), ""),
    Case("value null", "{org.custom.Account manager}", record_snap(org_values={MANAGER_KEY: None}), ""),
    Case("no person, no org", "{person.custom.Customer number}{org.custom.Tax number}",
         record_snap(person_values=None, org_values=None), ""),
    Case("record without custom_fields", "{person.custom.Customer number}",
         DealSnapshot(deal=deal(1001, "Kiwi rollout", 1200, "NZD"), person=AROHA, person_fields=PERSON_FIELDS), ""),
    Case("standard person fields unchanged", "{person.name} <{person.email}> {org.name}", record_snap(),
         "Aroha Ngata <aroha@kiwiwidgets.example> Kiwi Widgets Ltd"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_person_and_org_custom_fields_render(case: Case) -> None:
    assert render(case.template, case.snapshot) == case.expected


@pytest.mark.parametrize(("record", "name", "expected"), [
    ("person", "Customer number", "C-1042"), ("person", "Preferred channel", "Phone"),
    ("org", "Account manager", "Sam"), ("org", MANAGER_KEY, "Sam"), ("org", "Customer number", None),
    ("deal", "Customer number", None)])
def test_custom_field_reads_the_named_record(record: str, name: str, expected: Any) -> None:
    assert custom_field(record_snap(), name, record) == expected


def test_deal_custom_fields_still_default_to_the_deal() -> None:
    assert custom_field(record_snap(deal_values={PO_KEY: "PO-9"}), "PO number") == "PO-9"


# --- the reader, against the Pipedrive sandbox ------------------------------------------------------------------------
class SandboxTokens:
    """A TokenProvider for one company: the sandbox's own access token, the domain saved at install."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token

    async def token(self, company_id: str, *, force_refresh: bool = False) -> AccessToken:
        return AccessToken(self.access_token, company_id)

    async def connection(self, company_id: str) -> dict[str, Any]:
        return {"company_domain": "demo"}

    async def broken(self, company_id: str, reason: str) -> None:
        raise AssertionError(f"the sandbox refused the token: {reason}")


class Sandbox(NamedTuple):
    state: PipedriveState
    reader: PipedriveDealReader

    def field_reads(self) -> list[str]:
        return sorted(r["path"] for r in self.state.requests if r["path"].endswith("Fields"))


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    state = PipedriveState(retry_delays=(0.05, 0.05, 0.05))
    server = TestServer(create_app(state), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            tokens = SandboxTokens(state.issue_tokens()["access_token"])
            yield Sandbox(state, PipedriveDealReader(session, tokens, str(server.make_url("")).rstrip("/")))  # type: ignore[arg-type]
    finally:
        await server.close()


TEMPLATE = "{person.custom.Customer number}|{org.custom.Tax number}|{org.custom.Account manager}"


@pytest.mark.parametrize(("deal_id", "person_values", "org_values", "fields_read", "rendered"), [
    (DEMO_DEAL_ID, {}, {}, ["/api/v2/dealFields"], "||"),
    (DEMO_DEAL_ID, {PERSON_CUSTOMER_NUMBER_FIELD_KEY: "C-1042"}, {ORG_ACCOUNT_MANAGER_FIELD_KEY: 42},
     ["/api/v2/dealFields", "/api/v2/organizationFields", "/api/v2/personFields"], "C-1042||Sam"),
    (DEMO_DEAL_ID, {}, {ORG_TAX_NUMBER_FIELD_KEY: "123-456-789"},
     ["/api/v2/dealFields", "/api/v2/organizationFields"], "|123-456-789|"),
    (DEAL_PERSON_ONLY_ID, {PERSON_CUSTOMER_NUMBER_FIELD_KEY: "C-7"}, {},
     ["/api/v2/dealFields", "/api/v2/personFields"], "C-7||"),
    (DEAL_NO_CONTACT_ID, {}, {}, [], "||"),
], ids=["no person or org values", "person and org values", "org value only", "person only", "no contact"])
async def test_the_reader_reads_record_fields_only_for_custom_values(
        sandbox: Sandbox, deal_id: int, person_values: dict, org_values: dict, fields_read: list[str],
        rendered: str) -> None:
    the_deal = sandbox.state.get("deals", deal_id)
    if person_values:
        sandbox.state.set_custom("person", the_deal["person_id"], person_values)
    if org_values:
        sandbox.state.set_custom("organization", the_deal["org_id"], org_values)
    snapshot = await sandbox.reader.read("7001", str(deal_id))
    assert sandbox.field_reads() == fields_read
    assert render(TEMPLATE, snapshot) == rendered
    assert bool(snapshot.person_fields) == bool(person_values)
    assert bool(snapshot.org_fields) == bool(org_values)
    if person_values or org_values:
        assert all(r["query"] == {"limit": "500"} for r in sandbox.state.requests if r["path"].endswith("Fields"))


async def test_a_person_whose_custom_values_are_all_empty_costs_no_field_read(sandbox: Sandbox) -> None:
    the_deal = sandbox.state.get("deals", DEAL_PERSON_ONLY_ID)
    sandbox.state.set_custom("person", the_deal["person_id"], {PERSON_CUSTOMER_NUMBER_FIELD_KEY: None})
    snapshot = await sandbox.reader.read("7001", str(DEAL_PERSON_ONLY_ID))
    assert snapshot.person["custom_fields"] == {PERSON_CUSTOMER_NUMBER_FIELD_KEY: None}
    assert sandbox.field_reads() == ["/api/v2/dealFields"]
