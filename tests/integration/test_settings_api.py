"""The settings API on the real store: versioned updates, clear 400s that change nothing, bearer auth."""

import aiohttp
import pytest

from tests.integration.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
GOOD = {"version": 1, "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"},
                                   {"pipeline_id": 2, "stage_id": 7, "action": "quote"}],
        "money": {"sales_account_code": "200", "tax_types": {"15": "OUTPUT2"}}}


async def call(gateway, method: str, path: str, body=None, headers=AUTH):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, str(gateway.make_url(f"/api/companies/42{path}")), json=body,
                                   headers=headers) as resp:
            return resp.status, await resp.json()


async def test_settings_are_stored_with_a_new_version(gateway):
    status, stored = await call(gateway, "PUT", "/settings", GOOD)
    assert status == 200 and stored["version"] == 2
    status, read = await call(gateway, "GET", "/settings")
    assert read == stored
    assert read["triggers"][1] == {"pipeline_id": 2, "stage_id": 7, "action": "quote", "enabled": True}


async def test_an_api_change_is_in_the_history_as_the_operator_api_with_what_changed(gateway, mongo_db):
    await call(gateway, "PUT", "/settings", GOOD)
    await call(gateway, "PATCH", "/settings", {"version": 2, "fields": {"due_days": 30}})
    entries = await mongo_db.company_settings_history.find({"company_id": "42"}).sort("version", -1).to_list()
    assert [e["version"] for e in entries] == [3, 2]
    assert entries[0]["changed_by"] == {"user_id": None, "name": "operator API"}
    assert entries[0]["changes"] == [{"path": "fields.due_days", "old": 14, "new": 30}]
    assert {c["path"] for c in entries[1]["changes"]} >= {"triggers.0", "triggers.1", "money.tax_types.15"}


async def test_a_patch_changes_only_what_it_names(gateway):
    await call(gateway, "PUT", "/settings", GOOD)
    status, stored = await call(gateway, "PATCH", "/settings", {"version": 2, "money": {"sales_account_code": "260"}})
    assert status == 200 and stored["version"] == 3
    assert stored["money"] == {**stored["money"], "sales_account_code": "260", "tax_types": {"15": "OUTPUT2"}}
    assert len(stored["triggers"]) == 2


BAD_UPDATES = [
    ({"version": 2, "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "credit note"}]}, "triggers.0.action"),
    ({"version": 2, "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"},
                                 {"pipeline_id": 1, "stage_id": 5, "action": "quote"}]}, "two triggers"),
    ({"version": 2, "products": {"unmatched": "default_item"}}, "default_item_code"),
    ({"version": 2, "money": {"tax_types": {"fifteen": "OUTPUT2"}}}, "not a percentage"),
    ({"version": 2, "fields": {"due_days": -3}}, "fields.due_days"),
    ({"version": 2, "surprise": True}, "surprise"),
    ({"money": {"sales_account_code": "260"}}, "current version"),
]


@pytest.mark.parametrize(("update", "named"), BAD_UPDATES, ids=[b[1] for b in BAD_UPDATES])
async def test_a_bad_update_is_refused_with_a_message_and_changes_nothing(gateway, update, named):
    _, before = await call(gateway, "PUT", "/settings", GOOD)
    status, answer = await call(gateway, "PATCH", "/settings", update)
    assert status == 400
    assert answer["error"]["code"] == "bad_request"
    assert named in str(answer["error"])
    _, after = await call(gateway, "GET", "/settings")
    assert after == before


async def test_an_update_from_a_stale_version_is_refused(gateway):
    await call(gateway, "PUT", "/settings", GOOD)
    status, answer = await call(gateway, "PATCH", "/settings", {"version": 1, "fields": {"due_days": 30}})
    assert status == 409 and answer["error"]["current_version"] == 2
    _, after = await call(gateway, "GET", "/settings")
    assert after["fields"]["due_days"] == 14


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token-wrong"},
                                     {"Authorization": f"Basic {API_TOKEN}"}])
async def test_the_api_needs_the_bearer_token(gateway, headers):
    status, answer = await call(gateway, "GET", "/settings", headers=headers)
    assert status == 401 and answer["error"]["code"] == "unauthorized"


async def test_replaying_a_deal_with_nothing_failed_says_so_and_what_to_do(gateway):
    status, answer = await call(gateway, "POST", "/deals/77/replay")
    assert status == 409 and answer["error"]["code"] == "nothing_to_replay"
    assert "no failed sync" in answer["error"]["message"] and "move the deal" in answer["error"]["fix"]
