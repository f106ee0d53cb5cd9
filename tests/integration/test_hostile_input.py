"""Hostile input, everywhere: authenticated before it is parsed, refused with a clear 4xx (never a 500), and it
changes nothing (nothing published, nothing stored). Plus the deal activity's note: escaped HTML, plain words."""

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest

from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentSkipped
from pdx_crmcard.domain import activities
from pdx_gateway.adapters.mongo import MongoWebhookCredentials
from pdx_sandbox.xero.webhooks import sign
from tests.integration.conftest import API_TOKEN
from tests.integration.test_gateway_webhooks import post, published_for, send_sentinel, webhook
from tests.integration.test_panel_rig import ORG_KIWI, WEBHOOK_KEY, mint, open_card

DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000
API = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}


@pytest.fixture
async def company(mongo_db, run_id):
    company_id = str(int(run_id, 16) % 10**9)
    await MongoWebhookCredentials(mongo_db).set(company_id, "hook-user", "s3cret-password")
    return company_id


def deep_webhook(company_id: str, deal: str) -> bytes:
    body = json.dumps(webhook(company_id, deal)).encode()
    return body[:-1] + b', "extra": ' + DEEP + b"}"


async def nothing_published(gateway, infra, company_id: str, deal: str) -> None:
    await send_sentinel(gateway, company_id, deal)
    assert [m["data"]["title"] for m in await published_for(infra, company_id, deal)] == ["sentinel"]


# --- the gateway's webhook ----------------------------------------------------------------------------------------
async def test_a_webhook_nested_5000_levels_deep_is_a_400_and_publishes_nothing(gateway, infra, company):
    status, answer = await post(gateway, company, None, raw=deep_webhook(company, "21"))
    assert status == 400 and "nests deeper than" in answer["error"]["message"]
    await nothing_published(gateway, infra, company, "21")


async def test_a_deep_webhook_with_wrong_credentials_is_a_401_before_anything_is_parsed(gateway, company):
    status, answer = await post(gateway, company, None, auth=("hook-user", "wrong"), raw=deep_webhook(company, "22"))
    assert status == 401 and answer["error"]["code"] == "unauthorized"


async def test_a_webhook_over_the_size_limit_is_a_413(gateway, company):
    raw = json.dumps({**webhook(company, "23"), "padding": "x" * 1_100_000}).encode()
    async with aiohttp.ClientSession() as session:
        url = str(gateway.make_url(f"/webhooks/pipedrive/{company}"))
        headers = {"Authorization": aiohttp.encode_basic_auth("hook-user", "s3cret-password")}
        async with session.post(url, data=io.BytesIO(raw), headers=headers) as resp:
            assert resp.status == 413


@pytest.mark.parametrize(("meta", "data", "field"), [
    ({"entity_id": "0"}, {}, "meta.entity_id"),
    ({"entity_id": "-5"}, {}, "meta.entity_id"),
    ({"entity_id": "abc"}, {}, "meta.entity_id"),
    ({"entity_id": "1.5"}, {}, "meta.entity_id"),
    ({"entity_id": 12.5}, {}, "meta.entity_id"),
    ({}, {"id": "x"}, "data"),
    ({}, {"id": 0}, "data"),
    ({}, {"id": True}, "data"),
])
async def test_entity_ids_must_be_positive_integers(gateway, infra, company, meta, data, field):
    body = webhook(company, "24", **meta)
    body["data"].update(data)
    status, answer = await post(gateway, company, body)
    assert status == 400
    assert any(e["field"].startswith(field) for e in answer["error"]["errors"]), answer
    await nothing_published(gateway, infra, company, "24")


@pytest.mark.parametrize("raw", [b'{"meta": {}, "data": {"value": NaN}}', b'{"meta": {}, "data": {"value": 1e999}}'])
async def test_numbers_json_does_not_have_are_refused(gateway, company, raw):
    status, answer = await post(gateway, company, None, raw=raw)
    assert status == 400 and answer["error"]["code"] == "bad_request"


@pytest.mark.parametrize(("value", "says"), [(2**63, "larger than 64 bits"), ("\ud800", "not valid Unicode")])
async def test_values_the_store_cannot_hold_are_refused_before_anything_is_published(gateway, infra, company, value,
                                                                                    says):
    # Found by ./dev fuzz: accepted, published, then a 500 when the store refused the event (and Pipedrive retried).
    body = webhook(company, "25")
    body["data"]["value"] = value
    status, answer = await post(gateway, company, None, raw=json.dumps(body).encode())
    assert status == 400 and says in answer["error"]["message"]
    await nothing_published(gateway, infra, company, "25")


async def test_field_names_the_store_treats_specially_are_kept_as_data(gateway, infra, company):
    body = webhook(company, "26")
    body["data"].update({"$set": {"title": "x"}, "a.b": 1, "": 2})
    assert (await post(gateway, company, body))[0] == 200
    await send_sentinel(gateway, company, "26")
    published = await published_for(infra, company, "26")
    assert published[0]["data"]["$set"] == {"title": "x"} and published[0]["data"]["a.b"] == 1


# --- the operators' API -------------------------------------------------------------------------------------------
async def call(gateway, method: str, path: str, raw: bytes | None = None, headers=API):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, str(gateway.make_url(path)), data=raw, headers=headers) as resp:
            return resp.status, await resp.json()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_deep_or_non_object_settings_are_a_400_and_change_nothing(gateway, method):
    _, before = await call(gateway, "GET", "/api/companies/8101/settings")
    for raw in (DEEP, b"[1, 2]", b'{"version": NaN}'):
        status, answer = await call(gateway, method, "/api/companies/8101/settings", raw)
        assert status == 400 and answer["error"]["code"] == "bad_request", answer
    assert (await call(gateway, "GET", "/api/companies/8101/settings"))[1] == before


async def test_a_deep_tenant_choice_is_a_400(gateway):
    status, answer = await call(gateway, "PUT", "/api/companies/8101/xero/tenant", DEEP)
    assert status == 400 and "nests deeper" in answer["error"]["message"]


@pytest.mark.parametrize("deal", ["abc", "0", "-3", "1.5", "%20"])
async def test_deal_ids_in_paths_must_be_positive_integers_once_authenticated(gateway, deal):
    for path in (f"/api/companies/8101/deals/{deal}/replay", f"/api/companies/8101/deals/{deal}/status"):
        method = "POST" if path.endswith("replay") else "GET"
        status, answer = await call(gateway, method, path)
        assert status == 400 and "deal_id must be a positive integer" in answer["error"]["message"]
        assert (await call(gateway, method, path, headers={}))[0] == 401


# --- the crm-card: panel and Xero webhooks ------------------------------------------------------------------------
@pytest.mark.parametrize("selected", ["0", "-1", "1,abc", "", "1.5", ",".join(["1"] * 101)])
async def test_panel_ids_must_be_positive_integers(infra, mongo_db, selected):
    async with open_card(infra, mongo_db) as rig:
        status, body = await rig.panel("organization", selected)
        assert status == 400 and body["error"]["title"] == "This panel cannot be shown here"
        status, _ = await rig.panel("organization", selected, token="not-a-token")
        assert status == 401  # the token is checked first


async def test_a_panel_action_body_is_read_only_after_the_token_and_within_limits(infra, mongo_db):
    async with open_card(infra, mongo_db) as rig:
        query = {"resource": "organization", "selectedIds": str(ORG_KIWI), "companyId": rig.company_id}
        url = f"{rig.card_url}/panel/update"
        json_type = {"Content-Type": "application/json"}
        async with rig.session.post(url, params=query, data=DEEP, headers=json_type) as resp:
            assert resp.status == 401
        bearer = {**json_type, "Authorization": f"Bearer {mint(rig.company_id)}"}
        async with rig.session.post(url, params=query, data=DEEP, headers=bearer) as resp:
            assert resp.status == 400 and "nests deeper" in (await resp.json())["error"]["subtitle"]
        async with rig.session.post(url, params=query, data=b"{" * 70_000, headers=bearer) as resp:
            assert resp.status == 413


async def test_xero_webhooks_are_verified_then_read_within_limits_and_store_nothing_refused(infra, mongo_db):
    async with open_card(infra, mongo_db) as rig:
        url = f"{rig.card_url}/webhooks/xero"
        for raw, signature, status in [(DEEP, "wrong", 401), (DEEP, sign(DEEP, WEBHOOK_KEY), 400),
                                       (b'{"events": NaN}', sign(b'{"events": NaN}', WEBHOOK_KEY), 400),
                                       (b"x" * 1_100_000, "any", 413)]:
            async with rig.session.post(url, data=io.BytesIO(raw), headers={"x-xero-signature": signature}) as resp:
                assert resp.status == status
        assert await mongo_db.xero_webhook_inbox.count_documents({}) == 0


# --- the activity note --------------------------------------------------------------------------------------------
def test_a_failure_note_speaks_plain_words_with_a_reference_and_escapes_html():
    event = DocumentFailed(company_id="7001", deal_id="42", stage="xero", code="xero_rejected",
                           message='Xero answered 500 for https://api.xero.com/api.xro/2.0/Invoices at '
                                   'mongo-0.internal:27017: <script>alert(1)</script> ServerSelectionTimeoutError',
                           fix="Try again <b>later</b>.")
    text = activities.failed(event, "replay it in the app settings")
    for internal in ("api.xero.com", "mongo-0.internal", "27017", "ServerSelectionTimeoutError"):
        assert internal not in text.note and internal not in text.subject
    # The subject is plain text in Pipedrive; the note is HTML, so everything in it is escaped.
    assert "<script>" not in text.note and "&lt;script&gt;" in text.note and "&lt;b&gt;later&lt;/b&gt;" in text.note
    assert f"Reference: {event.id}" in text.note


def test_links_in_notes_are_only_web_addresses_and_values_are_escaped():
    created = DocumentCreated(company_id="7001", deal_id="42", command_id="c1", trigger_id="t", kind="invoice",
                              tenant_id="t1", xero_id="x1", number='INV-1"><img src=x>', total=Decimal("10"),
                              currency_code="NZD", status="DRAFT", contact_name="<b>Kiwi</b>",
                              xero_url="javascript:alert(1)", issue_date=datetime.now(UTC).date().isoformat())
    note = activities.created(created).note
    assert "javascript:" not in note and "<img" not in note and "&lt;b&gt;Kiwi&lt;/b&gt;" in note
    skipped = activities.skipped(DocumentSkipped(company_id="7001", deal_id="42", trigger_id="t",
                                                 source_event_id="e", reason="See http://10.0.0.5:8080/debug now."))
    assert "10.0.0.5" not in skipped.note + skipped.subject


def test_a_status_note_for_an_unknown_kind_or_news_does_not_fail():
    text = activities.status_changed({"kind": "credit-note", "number": "CN-1", "url": "https://go.xero.com/x"},
                                     "SOMETHING_NEW")
    assert text.subject.startswith("Document CN-1") and 'href="https://go.xero.com/x"' in text.note
