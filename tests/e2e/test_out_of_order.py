"""Pipedrive retries a failed delivery 3, 30 and 150 s later, so an older event often arrives after a newer one.
What fired, failed or waits is decided per (company, deal, trigger), never by which event arrived last."""

import copy
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp

from pdx_common.connections import ConnectionStore
from pdx_common.crypto import TokenCipher
from pdx_common.mongo import connect_mongo
from tests.e2e.helpers import (
    activities,
    admin,
    create_deal,
    edit_deal,
    events_for,
    eventually,
    invoices_for_deal,
    move,
    subjects,
)


async def _pipedrive_webhook(stack) -> dict:
    """The webhook our install registered, as Pipedrive's ``GET /v1/webhooks`` shows it to the company."""
    client = connect_mongo(stack.infra.mongo_url)
    try:
        store = ConnectionStore(client[stack.options.mongo_db], TokenCipher(stack.token_key))
        token = store.decrypt(await store.get("pipedrive", stack.seeded.company_id), "access_token")
    finally:
        await client.close()
    async with aiohttp.ClientSession() as session, session.get(
            f"{stack.urls['pipedrive']}/api/v1/webhooks", headers={"Authorization": f"Bearer {token}"}) as resp:
        [hook] = [h for h in (await resp.json())["data"] if h["event_object"] in ("deal", "*")]
        return hook


async def _deliver_late(stack, body: dict) -> dict:
    """Pipedrive's late retry of an event whose first attempts failed: same body, later attempt."""
    hook = await _pipedrive_webhook(stack)
    auth = {"Authorization": aiohttp.encode_basic_auth(hook["http_auth_user"], hook["http_auth_password"])}
    async with aiohttp.ClientSession() as session, session.post(hook["subscription_url"], json=body,
                                                                headers=auth) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def _as_unseen_create(create: dict) -> dict:
    """The deal's ``create`` event as if its first three attempts had failed: a new event id (the gateway has not
    published it), Pipedrive's own (older) timestamp kept, attempt 4."""
    body = copy.deepcopy(create)
    body["meta"].update(id=str(uuid.uuid4()), attempt=4)
    return body


async def test_a_late_create_does_not_stop_the_replay_of_a_failed_stage_move(stack):
    company = stack.seeded.company_id
    deal = await create_deal(stack, title="Create arrives late", org_id=None, person_id=None)
    await move(stack, deal["id"], "Won")
    [failure] = await eventually(lambda: activities(stack, deal["id"]))
    assert failure["subject"].startswith("Xero draft invoice not created: The deal has no customer")

    [create] = [e["body"] for e in await events_for(stack, deal["id"]) if e["body"]["meta"]["action"] == "create"]
    assert (await _deliver_late(stack, _as_unseen_create(create)))["status"] == "accepted"
    await edit_deal(stack, deal["id"], org_id=103)  # the fix, in Pipedrive
    code, answer = await admin(stack, "replay", "--company", company, "--deal", str(deal["id"]))
    assert code == 0 and answer["triggers"] == ["p1-s5"], answer

    await eventually(lambda: _with_subject(stack, deal["id"], "Draft invoice"))
    assert len(await invoices_for_deal(stack, deal["id"])) == 1


async def test_a_stale_stage_move_arriving_after_the_draft_leaves_the_deal_as_it_is(stack):
    """The move into Won is delivered again late (a retry with a new attempt) after its draft was made, then an
    old move out of Won arrives: still one draft, and no failure is told."""
    deal = await create_deal(stack, title="Late and duplicated")
    await move(stack, deal["id"], "Won")
    await eventually(lambda: _with_subject(stack, deal["id"], "Draft invoice"))
    [won] = [e["body"] for e in await events_for(stack, deal["id"])
             if (e["body"].get("previous") or {}).get("stage_id") is not None]
    late = copy.deepcopy(won)
    late["meta"]["attempt"] = 4
    assert (await _deliver_late(stack, late))["status"] == "duplicate"
    older = _as_unseen_create(won)
    older["meta"]["timestamp"] = _earlier(won["meta"]["timestamp"])
    assert (await _deliver_late(stack, older))["status"] == "accepted"

    code, answer = await admin(stack, "replay", "--company", stack.seeded.company_id, "--deal", str(deal["id"]))
    assert code != 0 and answer["error"]["code"] == "nothing_to_replay"  # nothing failed; the answer says so
    assert len(await invoices_for_deal(stack, deal["id"])) == 1
    assert not any(s.startswith("Xero draft invoice not created") for s in subjects(await activities(stack,
                                                                                                     deal["id"])))


def _earlier(timestamp: str) -> str:
    at = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC) - timedelta(minutes=5)
    return at.isoformat().replace("+00:00", "Z")


async def _with_subject(stack, deal_id: int, prefix: str) -> list[dict] | None:
    found = await activities(stack, deal_id)
    return found if any(s.startswith(prefix) for s in subjects(found)) else None
