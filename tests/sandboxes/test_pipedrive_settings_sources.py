"""What the settings app reads from the Pipedrive sandbox with a company's token: users and whether they are admins,
pipelines and stages, deal/person/organisation fields (custom ones with 40-hex keys), products; and the control
routes tests use to add users and custom fields."""

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_sandbox.pipedrive import (
    DEMO_DEAL_ID,
    INACTIVE_USER_ID,
    PO_NUMBER_FIELD_KEY,
    REGION_FIELD_KEY,
    REGION_NORTH,
    REGULAR_USER_ID,
    SALES_PIPELINE_ID,
    USER_ID,
    PipedriveState,
    create_app,
)

API_TOKEN = {"x-api-token": "sandbox-pd-api-token"}
HEX40 = re.compile(r"^[0-9a-f]{40}$")


class Client:
    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url, self.http = url, http

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = kwargs.pop("headers", API_TOKEN)
        async with self.http.request(method, self.url + path, headers=headers, **kwargs) as resp:
            return resp.status, await resp.json()

    async def data(self, path: str, **kwargs: Any) -> Any:
        status, body = await self.call("GET", path, **kwargs)
        assert status == 200 and body["success"] is True, body
        return body["data"]


@pytest.fixture
async def pd() -> AsyncIterator[Client]:
    server = TestServer(create_app(PipedriveState(retry_delays=(0.05,))), host="127.0.0.1", port=0)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Client(str(server.make_url("")).rstrip("/"), http)
    await server.close()


def _admin(user: dict) -> bool:
    return next(a["admin"] for a in user["access"] if a["app"] == "global")


async def test_me_is_the_admin_who_installed_and_other_users_say_whether_they_are_admins(pd: Client) -> None:
    me = await pd.data("/api/v1/users/me")
    assert (me["id"], me["company_id"], me["company_domain"], me["is_you"]) == (USER_ID, 7001, "demo", True)
    assert me["is_admin"] == 1 and _admin(me) and me["active_flag"] is True

    regular = await pd.data(f"/api/v1/users/{REGULAR_USER_ID}")
    assert (regular["name"], regular["email"]) == ("Sam Seller", "sam@demo.example")
    assert regular["is_admin"] == 0 and not _admin(regular) and regular["is_you"] is False
    assert regular["active_flag"] is True and "company_id" not in regular  # the spec's BaseUser
    admin = await pd.data(f"/api/v1/users/{USER_ID}")
    assert admin["is_admin"] == 1 and admin["is_you"] is True
    assert (await pd.data(f"/api/v1/users/{INACTIVE_USER_ID}"))["active_flag"] is False

    status, body = await pd.call("GET", "/api/v1/users/99999")
    assert status == 404 and body["success"] is False
    status, _ = await pd.call("GET", f"/api/v1/users/{REGULAR_USER_ID}", headers={})
    assert status == 401
    assert [u["id"] for u in await pd.data("/api/v1/users")] == [USER_ID, REGULAR_USER_ID, INACTIVE_USER_ID]


async def test_users_are_listed_and_added_through_the_control_api(pd: Client) -> None:
    status, body = await pd.call("GET", "/_sandbox/users", headers={})
    assert status == 200
    assert body["additional_data"] == {"company_id": 7001, "admin_user_id": USER_ID,
                                       "regular_user_id": REGULAR_USER_ID}
    assert {u["id"]: u["is_admin"] for u in body["data"]} == {USER_ID: True, REGULAR_USER_ID: False,
                                                              INACTIVE_USER_ID: False}
    status, body = await pd.call("POST", "/_sandbox/users", headers={},
                                 json={"name": "Second Admin", "email": "two@demo.example", "is_admin": True})
    assert status == 201
    added = await pd.data(f"/api/v1/users/{body['data']['id']}")
    assert added["name"] == "Second Admin" and added["is_admin"] == 1 and _admin(added)


async def test_pipelines_stages_and_products_for_the_pickers(pd: Client) -> None:
    pipelines = await pd.data("/api/v2/pipelines")
    assert [(p["id"], p["name"]) for p in pipelines] == [(1, "Sales"), (2, "Renewals")]
    stages = await pd.data(f"/api/v2/stages?pipeline_id={SALES_PIPELINE_ID}")
    assert [s["name"] for s in stages] == ["Lead In", "Contact Made", "Proposal Made", "Negotiations Started", "Won"]
    assert len(await pd.data("/api/v2/stages")) == 8
    products = await pd.data("/api/v2/products")
    assert [p["id"] for p in products] == [301, 302, 303, 304, 305, 306]
    assert {"id", "name", "code", "unit", "tax", "prices", "description"} <= set(products[0])
    assert [p["id"] for p in await pd.data("/api/v2/products?ids=302,303")] == [302, 303]
    by_name = await pd.data("/api/v2/products?sort_by=name&limit=2")
    assert [p["name"] for p in by_name] == ["Annual support plan", "Custom integration work"]
    status, body = await pd.call("GET", "/api/v2/products?limit=4")
    assert status == 200 and body["additional_data"]["next_cursor"] == "4"


async def test_fields_in_v1_and_v2_shapes_with_custom_fields_keyed_by_40_hex(pd: Client) -> None:
    for entity in ("deal", "person", "organization"):
        v1 = await pd.data(f"/api/v1/{entity}Fields")
        custom = [f for f in v1 if f["edit_flag"]]
        assert custom and all(HEX40.match(f["key"]) for f in custom)
        assert all(not HEX40.match(f["key"]) for f in v1 if not f["edit_flag"])
        assert all({"id", "key", "name", "field_type", "options", "active_flag", "mandatory_flag"} <= set(f)
                   for f in v1)
        v2 = await pd.data(f"/api/v2/{entity}Fields")
        assert [f["field_code"] for f in v2] == [f["key"] for f in v1]
        assert [f["is_custom_field"] for f in v2] == [f["edit_flag"] for f in v1]

    deal_fields = {f["key"]: f for f in await pd.data("/api/v1/dealFields")}
    assert (deal_fields[PO_NUMBER_FIELD_KEY]["name"], deal_fields[PO_NUMBER_FIELD_KEY]["field_type"]) == (
        "PO number", "varchar")
    assert deal_fields[REGION_FIELD_KEY]["field_type"] == "enum"
    assert deal_fields[REGION_FIELD_KEY]["options"][0] == {"id": REGION_NORTH, "label": "North Island"}
    types = {f["field_type"] for f in deal_fields.values() if f["edit_flag"]}
    assert {"varchar", "double", "date", "enum", "text"} <= types
    assert {"won_time", "expected_close_date", "close_time"} <= set(deal_fields)
    person_names = [f["name"] for f in await pd.data("/api/v1/personFields") if f["edit_flag"]]
    assert person_names == ["Customer number"]
    org_names = [f["name"] for f in await pd.data("/api/v1/organizationFields") if f["edit_flag"]]
    assert org_names == ["Tax number", "Account manager"]


async def test_a_custom_field_added_by_control_carries_its_value_on_the_deal(pd: Client) -> None:
    status, body = await pd.call("POST", "/_sandbox/fields", headers={},
                                 json={"entity": "deal", "name": "Invoice ref", "field_type": "varchar",
                                       "values": {str(DEMO_DEAL_ID): "REF-77"}})
    assert status == 201, body
    key = body["data"]["key"]
    assert HEX40.match(key) and body["data"]["name"] == "Invoice ref"

    deal = await pd.data(f"/api/v2/deals/{DEMO_DEAL_ID}")
    assert deal["custom_fields"][key] == "REF-77"
    v2 = {f["field_code"]: f for f in await pd.data("/api/v2/dealFields")}
    assert v2[key]["field_name"] == "Invoice ref" and v2[key]["is_custom_field"] is True
    listed = (await pd.call("GET", "/_sandbox/fields?entity=deal", headers={}))[1]["data"]
    assert key in [f["key"] for f in listed]

    status, _ = await pd.call("PATCH", f"/_sandbox/deals/{DEMO_DEAL_ID}", headers={},
                              json={"custom_fields": {key: "REF-78"}})
    assert status == 200
    assert (await pd.data(f"/api/v2/deals/{DEMO_DEAL_ID}"))["custom_fields"][key] == "REF-78"


async def test_enum_fields_take_option_ids_and_other_records_take_values_too(pd: Client) -> None:
    status, body = await pd.call("POST", "/_sandbox/fields", headers={},
                                 json={"entity": "deal", "name": "Channel", "field_type": "enum",
                                       "options": [{"label": "Web"}, {"label": "Phone"}]})
    assert status == 201
    options = body["data"]["options"]
    assert [o["label"] for o in options] == ["Web", "Phone"] and options[0]["id"] != options[1]["id"]
    key = body["data"]["key"]
    status, body = await pd.call("PATCH", f"/_sandbox/deals/{DEMO_DEAL_ID}", headers={},
                                 json={"custom_fields": {key: 999999}})
    assert status == 400 and "option" in body["error"]
    status, _ = await pd.call("PATCH", f"/_sandbox/deals/{DEMO_DEAL_ID}", headers={},
                              json={"custom_fields": {REGION_FIELD_KEY: REGION_NORTH}})
    assert status == 200
    status, body = await pd.call("POST", "/_sandbox/fields", headers={},
                                 json={"entity": "deal", "name": "Tags", "field_type": "set",
                                       "options": [{"label": "A"}, {"label": "B"}]})
    tags, (a, b) = body["data"]["key"], [o["id"] for o in body["data"]["options"]]
    status, _ = await pd.call("PATCH", f"/api/v2/deals/{DEMO_DEAL_ID}", json={"custom_fields": {tags: [a, b]}})
    assert status == 200
    status, body = await pd.call("PATCH", f"/api/v2/deals/{DEMO_DEAL_ID}", json={"custom_fields": {tags: []}})
    assert status == 400 and "null" in body["error"]

    status, body = await pd.call("POST", "/_sandbox/fields", headers={},
                                 json={"entity": "person", "name": "Billing code", "field_type": "varchar",
                                       "values": {"201": "B-9"}})
    assert status == 201
    assert (await pd.data("/api/v2/persons/201"))["custom_fields"][body["data"]["key"]] == "B-9"
    status, _ = await pd.call("POST", "/_sandbox/fields", headers={},
                              json={"entity": "deal", "name": "No type", "field_type": "nope"})
    assert status == 400
    status, _ = await pd.call("POST", "/_sandbox/fields", headers={},
                              json={"entity": "deal", "name": "Ghost", "field_type": "varchar",
                                    "values": {"424242": "x"}})
    assert status == 404


async def test_the_api_adds_a_deal_field_as_pipedrive_does(pd: Client) -> None:
    status, body = await pd.call("POST", "/api/v1/dealFields", json={"name": "Terms", "field_type": "text"})
    assert status == 200 and body["success"] is True
    assert HEX40.match(body["data"]["key"]) and body["data"]["edit_flag"] is True
    status, body = await pd.call("POST", "/api/v1/dealFields", json={"field_type": "text"})
    assert status == 400
