"""The gateway against the real broker and store: authentication, validation, and one publish per Pipedrive event."""

import asyncio
import uuid

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_common import topics
from pdx_gateway.adapters.mongo import MongoWebhookCredentials
from tests.kafka_helpers import read_until

API_TOKEN = "test-api-token-0123456789abcdef"


def webhook(company: str, deal: str, *, event_id: str | None = None, attempt: int = 1, **meta) -> dict:
    return {"meta": {"id": event_id or uuid.uuid4().hex, "action": "change", "entity": "deal", "entity_id": deal,
                     "company_id": company, "version": "2.0", "attempt": attempt, "change_source": "app",
                     "timestamp": "2026-11-27T10:00:00Z", **meta},
            "data": {"id": int(deal), "stage_id": 5, "pipeline_id": 1, "title": "Deal"}, "previous": {"stage_id": 4}}


@pytest.fixture
async def company(mongo_db, run_id):
    company_id = str(int(run_id, 16) % 10**9)
    await MongoWebhookCredentials(mongo_db).set(company_id, "hook-user", "s3cret-password")
    return company_id


async def post(server: TestServer, company: str, body, auth=("hook-user", "s3cret-password"), raw: bytes | None = None):
    async with aiohttp.ClientSession() as session:
        url = str(server.make_url(f"/webhooks/pipedrive/{company}"))
        kwargs = {"data": raw, "headers": {"Content-Type": "application/json"}} if raw is not None else {"json": body}
        headers = {**kwargs.pop("headers", {}), **({"Authorization": aiohttp.encode_basic_auth(*auth)} if auth else {})}
        async with session.post(url, headers=headers, **kwargs) as resp:
            return resp.status, await resp.json()


async def published_for(infra, company: str, sentinel_deal: str) -> list[dict]:
    """Deal events of ``company`` up to the sentinel (same key, same partition, so everything before it is in)."""
    return await read_until(infra.kafka_bootstrap, topics.DEAL_EVENTS,
                            lambda seen: any(m["deal_id"] == sentinel_deal and m["data"].get("title") == "sentinel"
                                             for m in seen),
                            match=lambda m: m["company_id"] == company)


async def send_sentinel(gateway, company: str, deal: str) -> None:
    body = webhook(company, deal)
    body["data"]["title"] = "sentinel"
    assert (await post(gateway, company, body))[0] == 200


@pytest.mark.parametrize(("auth", "why"), [
    (None, "no credentials"),
    (("hook-user", "wrong"), "wrong password"),
    (("other-user", "s3cret-password"), "wrong user"),
])
async def test_wrong_credentials_get_401_and_publish_nothing(gateway, infra, company, auth, why):
    status, body = await post(gateway, company, webhook(company, "11"), auth=auth)
    assert status == 401, why
    assert body["error"]["code"] == "unauthorized"
    await send_sentinel(gateway, company, "11")
    assert [m["data"]["title"] for m in await published_for(infra, company, "11")] == ["sentinel"]


async def test_credentials_of_one_company_do_not_open_another(gateway, company):
    status, _ = await post(gateway, "999999999", webhook("999999999", "11"))
    assert status == 401


@pytest.mark.parametrize(("raw", "body"), [
    (b"{not json", None),
    (None, {"meta": {"id": "x"}}),  # not a v2 payload
    (None, {"meta": {**webhook("C", "1")["meta"], "version": "1.0"}, "data": {}}),
    (None, "a string"),
])
async def test_malformed_webhooks_get_400_and_publish_nothing(gateway, infra, company, raw, body):
    if body == {"meta": {**webhook("C", "1")["meta"], "version": "1.0"}, "data": {}}:
        body["meta"]["company_id"] = company
    status, answer = await post(gateway, company, body, raw=raw)
    assert status == 400
    assert answer["error"]["code"] == "bad_request"
    await send_sentinel(gateway, company, "12")
    assert [m["data"]["title"] for m in await published_for(infra, company, "12")] == ["sentinel"]


async def test_a_webhook_for_another_company_in_the_body_is_refused(gateway, company):
    status, answer = await post(gateway, company, webhook("123", "5"))
    assert status == 400 and "company_id" in answer["error"]["message"]


async def test_pipedrive_retries_of_one_event_publish_it_once(gateway, infra, company):
    event_id = uuid.uuid4().hex
    answers = [await post(gateway, company, webhook(company, "13", event_id=event_id, attempt=n)) for n in (1, 2, 3, 4)]
    assert [a[1]["status"] for a in answers] == ["accepted", "duplicate", "duplicate", "duplicate"]
    await send_sentinel(gateway, company, "13")
    published = await published_for(infra, company, "13")
    assert [m["event_id"] for m in published[:-1]] == [event_id]
    assert published[0]["type"] == "DealChanged" and published[0]["previous"] == {"stage_id": 4}


async def test_retries_arriving_at_the_same_time_publish_the_event_once(gateway, infra, company):
    event_id = uuid.uuid4().hex
    answers = await asyncio.gather(*(post(gateway, company, webhook(company, "14", event_id=event_id, attempt=n))
                                     for n in (1, 2, 3, 4)))
    assert sorted(a[1]["status"] for a in answers) == ["accepted", "duplicate", "duplicate", "duplicate"]
    await send_sentinel(gateway, company, "14")
    assert [m["event_id"] for m in (await published_for(infra, company, "14"))[:-1]] == [event_id]
