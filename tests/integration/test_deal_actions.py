"""A deal's actions (Replay, Create draft invoice/quote) from a signed link and from Pipedrive's JSON modals, on the
real store and broker with the Pipedrive and Xero sandboxes: a GET changes nothing, a confirmed POST publishes one
deal event once, links and tokens of the wrong kind are refused, and each refusal says why in plain words."""

import html
import re
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt
import pytest

from pdx_common import topics
from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import DealChanged, DocumentParked, DocumentSkipped
from pdx_common.signed_links import signed_query
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from pdx_gateway.adapters.deal_events import MongoDealEvents
from pdx_gateway.adapters.settings_repo import MongoSettingsStore
from pdx_gateway.deal_actions.identity import COOKIE as LOGIN_COOKIE
from pdx_gateway.deal_actions.identity import MongoDealLogins
from tests.integration.test_app_log_usage import AppStack, Company, app_stack, created, failed, seed_settings, words
from tests.integration.test_oauth_pipedrive import LINK_KEY, PD_CLIENT
from tests.kafka_helpers import deal_event_marker, read_to_markers

T0 = datetime.now(UTC) - timedelta(hours=1)
USER = 4242


@pytest.fixture
async def stack(infra, mongo_db, run_id) -> AsyncIterator[AppStack]:
    async with app_stack(infra, mongo_db, run_id, metering=False) as running:
        for company in (running.a, running.b):
            await seed_settings(running, company)
            deal = company.pd.create_deal({"title": f"Deal of {company.mark}", "currency": "NZD", "value": 500,
                                           "org_id": 101, "person_id": 201, "pipeline_id": 1, "stage_id": 4})
            company.deal_id = str(deal["id"])
        yield running


def link(s: AppStack, company: Company, action: str, *, deal_id: str | None = None, expires_in: int = 600,
         key: str = LINK_KEY) -> str:
    query = signed_query(key, f"deal-{action}", {"company_id": company.id, "deal_id": deal_id or company.deal_id},
                         int(time.time()) + expires_in)
    return f"/deal/{action}?{query}"


async def signed_in(s: AppStack, path: str) -> dict[str, str]:
    """A browser signed in with Pipedrive as a user (USER) of the company the link names, as the sign-in leaves it
    (test_deal_actions_login.py plays the sign-in itself)."""
    company_id = parse_qs(urlsplit(path).query).get("company_id", [""])[0]
    if company_id not in (s.a.id, s.b.id):
        return {}
    return {"Cookie": f"{LOGIN_COOKIE}={await MongoDealLogins(s.db).create(company_id, str(USER))}"}


async def get(s: AppStack, path: str) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    async with aiohttp.ClientSession() as http, http.get(f"{s.url}{path}", allow_redirects=False,
                                                         headers=await signed_in(s, path)) as resp:
        return resp.status, html.unescape(await resp.text()), resp.headers


async def post(s: AppStack, path: str, nonce: str, *, origin: str | None = "self") -> tuple[int, str, str | None]:
    headers = {"Origin": s.url if origin == "self" else origin} if origin else {}
    headers |= await signed_in(s, path)
    async with aiohttp.ClientSession() as http, http.post(f"{s.url}{path}", data={"nonce": nonce}, headers=headers,
                                                          allow_redirects=False) as resp:
        return resp.status, html.unescape(await resp.text()), resp.headers.get("Location")


def nonce_of(page: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def confirm_and_post(s: AppStack, path: str) -> tuple[str, str]:
    """GET the page, press its button; (the result page's address, the result page's words)."""
    status, page, _ = await get(s, path)
    assert status == 200, page
    status, _, location = await post(s, path, nonce_of(page))
    assert status == 303 and location and location.startswith("/deal/result?request="), (status, location)
    status, result, _ = await get(s, location)
    assert status == 200
    return location, words(result)


async def published(s: AppStack, company: Company | None = None) -> list[dict]:
    """Every deal event of the stack's companies (or one of them) on the topic so far: read to its end."""
    ids = {company.id} if company else {s.a.id, s.b.id}
    return await read_to_markers(s.settings.kafka_bootstrap, topics.DEAL_EVENTS, deal_event_marker,
                                 match=lambda m: m.get("company_id") in ids)


async def outcomes(s: AppStack, company: Company, deal_id: str) -> None:
    """Each kind of last outcome on one deal: a failure (p1-s5), a draft made on request (manual-invoice), a draft
    waiting for Xero (p2-s9) and a skip (p1-s6)."""
    status = MongoDealStatus(s.db)
    await status.record(failed(company, deal_id, T0))
    await status.record(created(company, deal_id, T0, f"INV-{company.mark}").model_copy(
        update={"trigger_id": "manual-invoice"}))
    await status.record(DocumentParked(company_id=company.id, deal_id=deal_id, command_id=uuid.uuid4().hex,
                                       trigger_id="p2-s9", kind="invoice", reason="Xero is disconnected",
                                       occurred_at=T0))
    await status.record(DocumentSkipped(company_id=company.id, deal_id=deal_id, trigger_id="p1-s6",
                                        source_event_id="e1", reason="skipped", occurred_at=T0))


async def change_settings(s: AppStack, company: Company, **on_demand) -> None:
    store = MongoSettingsStore(s.db)
    current = await store.get(company.id)
    data = current.model_dump(mode="json")
    data["on_demand"] = {**data["on_demand"], **on_demand}
    await store.replace(company.id, CompanySettings.model_validate(data), current.version)


def modal_token(company: Company, *, user: int = USER, secret: str = PD_CLIENT[1], **claims) -> str:
    now = int(time.time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)  # the sandbox's client secret is short
        return jwt.encode({"userId": user, "companyId": int(company.id), "iat": now, "exp": now + 300, **claims},
                          secret, algorithm="HS256")


def modal_url(company: Company, action: str, token: str, *, deal_id: str | None = None,
              company_id: str | None = None) -> str:
    query = (f"resource=deal&view=details&userId={USER}&companyId={company_id or company.id}"
             f"&selectedIds={deal_id or company.deal_id}&token={token}")
    return f"/deal/modal/{action}?{query}"


async def modal(s: AppStack, method: str, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.request(method, f"{s.url}{path}", json={}) as resp:
        return resp.status, await resp.json()


# --- Replay from a signed link -------------------------------------------------------------------------------------

async def test_the_replay_page_says_what_will_happen_and_a_get_changes_nothing(stack):
    s = stack
    await outcomes(s, s.a, s.a.deal_id)
    before = [d async for d in s.db.deal_status.find({}).sort("_id")]
    status, page, headers = await get(s, link(s, s.a, "replay"))
    assert status == 200, page
    text = words(page)
    assert f"Deal: Deal of {s.a.mark}" in text
    assert "The draft invoice for the Won stage failed: Replay tries again with the deal as it is now." in text
    assert f"Last time: Deal {s.a.deal_id} has no customer ({s.a.mark})." in text
    assert (f"Draft invoice INV-{s.a.mark} will be updated with the current settings and deal, if it is still a "
            "draft in Xero.") in text
    assert "is waiting for Xero; it is made by itself once Xero is connected again, so Replay leaves it." in text
    assert f'href="https://{s.a.domain}.pipedrive.com/deal/{s.a.deal_id}"' in page
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    assert 'href="/app/static/app.css"' in page and "<button" in page
    # Opened again, as a link preview or a prefetch would: still nothing published, no outcome changed.
    await get(s, link(s, s.a, "replay"))
    assert await published(s) == []
    assert [d async for d in s.db.deal_status.find({}).sort("_id")] == before


async def test_replay_regenerates_made_drafts_and_re_runs_failed_ones_once(stack):
    s = stack
    await outcomes(s, s.a, s.a.deal_id)
    path = link(s, s.a, "replay")
    status, page, _ = await get(s, path)
    nonce = nonce_of(page)
    status, _, location = await post(s, path, nonce)
    assert status == 303 and location == f"/deal/result?request={nonce}"
    status, result, _ = await get(s, location)
    assert "Replay started: the outcome appears in the deal's activities within a minute." in words(result)
    assert f'href="https://{s.a.domain}.pipedrive.com/deal/{s.a.deal_id}"' in result
    # A double click, a resubmitted form: acts no more, and says so.
    for _ in range(2):
        status, _, again = await post(s, path, nonce)
        assert status == 303 and again == f"/deal/result?request={nonce}&again=1"
    _, result, _ = await get(s, again)
    assert "This was already sent: the first click did it, and nothing was done twice." in words(result)
    [event] = await published(s)
    assert event["type"] == "DealChanged" and event["request"] == "replay"
    assert (event["company_id"], event["deal_id"]) == (s.a.id, s.a.deal_id)
    # The failure is tried again and the made draft regenerated; the waiting one and the skip are left alone.
    assert event["replay_triggers"] == ["p1-s5", "manual-invoice"]
    assert event["id"] == nonce and event["event_id"] == f"replay-{nonce}"
    # The admin's sync log says a replay is under way.
    assert await s.db.sync_log_replays.find_one({"_id": f"{s.a.id}:{s.a.deal_id}"}) is not None


async def test_a_deal_with_nothing_to_replay_is_told_so_and_nothing_is_published(stack):
    s = stack
    await MongoDealStatus(s.db).record(DocumentSkipped(company_id=s.a.id, deal_id=s.a.deal_id, trigger_id="p1-s6",
                                                       source_event_id="e1", reason="skipped", occurred_at=T0))
    status, page, _ = await get(s, link(s, s.a, "replay"))
    assert status == 200
    # Only the reason and what to do, once each; no button (nothing can be done).
    assert words(page).count("There is nothing to replay on this deal: no draft failed and none was made.") == 1
    assert words(page).count("What to do:") == 1
    assert "<button" not in page and 'name="nonce"' not in page and "button-primary" not in page
    assert await published(s) == []


@pytest.mark.parametrize("how", ["expired", "forged", "other_company", "other_purpose", "edited_deal"])
async def test_a_link_of_the_wrong_kind_is_refused_with_what_to_do_instead(stack, how):
    s = stack
    await outcomes(s, s.a, s.a.deal_id)
    await outcomes(s, s.b, s.b.deal_id)
    good = link(s, s.a, "replay")
    path = {"expired": link(s, s.a, "replay", expires_in=-5),
            "forged": link(s, s.a, "replay", key="x" * 40),
            "other_company": good.replace(f"company_id={s.a.id}", f"company_id={s.b.id}"),
            "other_purpose": link(s, s.a, "create-invoice").replace("/deal/create-invoice", "/deal/replay"),
            "edited_deal": good.replace(f"deal_id={s.a.deal_id}", f"deal_id={s.b.deal_id}1")}[how]
    status, page, _ = await get(s, path)
    assert status == 403
    text = words(page)
    assert ("This link has expired" if how == "expired" else "This link is not valid") in text
    assert ("What to do: Open the deal in Pipedrive and use the Replay action in the deal's Xero panel, or ask an "
            "admin to replay the deal from the Sync log in the Xero drafts app's settings.") in text
    assert s.b.mark not in page and "<button" not in page
    # A nonce of a good page does not make a bad link act.
    _, good_page, _ = await get(s, good)
    status, _, _ = await post(s, path, nonce_of(good_page))
    assert status == 403
    assert await published(s) == []


async def test_a_post_from_another_site_or_without_its_page_acts_on_nothing(stack):
    s = stack
    await outcomes(s, s.a, s.a.deal_id)
    path = link(s, s.a, "replay")
    _, page, _ = await get(s, path)
    status, refused, _ = await post(s, path, nonce_of(page), origin="https://evil.example")
    assert status == 403 and "This form was sent from another site" in refused
    status, refused, _ = await post(s, path, nonce_of(page), origin="null")
    assert status == 403
    status, refused, _ = await post(s, path, "made-up-nonce")
    assert status == 403 and "This form has expired" in refused
    # A nonce issued for another deal's page (B's) does not act on A's deal.
    await outcomes(s, s.b, s.b.deal_id)
    _, b_page, _ = await get(s, link(s, s.b, "replay"))
    status, _, _ = await post(s, path, nonce_of(b_page))
    assert status == 403
    assert await published(s) == []
    status, page, _ = await get(s, "/deal/result?request=unknown")
    assert status == 404 and "This result is no longer shown" in page


# --- Create on demand ---------------------------------------------------------------------------------------------

async def test_create_invoice_publishes_one_request_for_the_on_demand_trigger(stack):
    s = stack
    path = link(s, s.a, "create-invoice")
    _, page, _ = await get(s, path)
    text = words(page)
    assert "Create draft invoice" in text and f"Deal: Deal of {s.a.mark}" in text
    assert f"A draft invoice is made in Xero in {s.a.organisation} from the deal as it is now in Pipedrive" in text
    assert await published(s) == []
    location, result = await confirm_and_post(s, path)
    assert "Draft invoice requested: it appears in the deal's Xero panel and activities within a minute." in result
    [event] = await published(s)
    assert event["request"] == "on_demand" and event["replay_triggers"] == ["manual-invoice"]
    assert event["pipedrive_user_id"] == str(USER) and event["deal_id"] == s.a.deal_id
    nonce = location.rsplit("=", 1)[1]
    assert event["id"] == nonce


async def test_with_more_than_once_each_request_is_its_own_trigger(stack):
    s = stack
    await change_settings(s, s.a, more_than_once=True)
    await MongoDealStatus(s.db).record(created(s.a, s.a.deal_id, T0, "QU-0001").model_copy(
        update={"trigger_id": "manual-quote", "kind": "quote"}))
    path = link(s, s.a, "create-quote")
    _, page, _ = await get(s, path)
    assert "This deal already has quote QU-0001 in Xero; this makes another." in words(page)
    location, _ = await confirm_and_post(s, path)
    nonce = location.rsplit("=", 1)[1]
    [event] = await published(s)
    assert event["replay_triggers"] == [f"manual-quote@{nonce}"] and event["request"] == "on_demand"


async def test_create_is_refused_with_its_reason_in_words_and_nothing_is_published(stack):
    s = stack
    path = link(s, s.a, "create-invoice")

    async def refusal() -> str:
        status, page, _ = await get(s, path)
        assert status == 200 and "<button" not in page and 'name="nonce"' not in page, page
        return words(page)

    # Switched off by the admin; switched off after the page was shown, the POST refuses too.
    _, shown, _ = await get(s, path)
    await change_settings(s, s.a, invoice=False)
    assert "Creating a draft invoice from a deal is switched off for your company." in await refusal()
    status, _, location = await post(s, path, nonce_of(shown))
    _, result, _ = await get(s, location)
    assert "Creating a draft invoice from a deal is switched off for your company." in words(result)
    assert "Nothing was changed." in words(result)
    await change_settings(s, s.a, invoice=True)
    # Already made on request, once per deal.
    await MongoDealStatus(s.db).record(created(s.a, s.a.deal_id, T0, "INV-0007").model_copy(
        update={"trigger_id": "manual-invoice"}))
    assert "This deal already has invoice INV-0007 in Xero (made on request), and each deal gets one invoice." in \
        await refusal()
    # The quote is another trigger: still allowed.
    _, page, _ = await get(s, link(s, s.a, "create-quote"))
    assert "<button" in page
    await s.db.deal_status.delete_many({"company_id": s.a.id})
    # Xero is not connected.
    await s.db.connections.update_one({"_id": f"xero:{s.a.id}"}, {"$set": {"status": "broken"}})
    text = await refusal()
    assert "Xero is not connected, so no draft invoice can be made." in text
    assert "connect Xero under Connections" in text
    await s.db.connections.update_one({"_id": f"xero:{s.a.id}"}, {"$set": {"status": "ok"}})
    # The deal cannot become a draft: the engine's own words and fix.
    s.a.pd.update_deal(int(s.a.deal_id), {"org_id": None, "person_id": None})
    text = await refusal()
    assert "The deal has no customer: it is linked to neither an organisation nor a person." in text
    assert "What to do: Link an organisation or a person to the deal in Pipedrive" in text
    assert await published(s) == []


# --- Pipedrive's JSON modals --------------------------------------------------------------------------------------

async def test_the_modal_describes_then_acts_once_for_a_signed_request(stack):
    s = stack
    await outcomes(s, s.a, s.a.deal_id)
    token = modal_token(s.a, jti=uuid.uuid4().hex)
    status, body = await modal(s, "GET", modal_url(s.a, "replay", token))
    assert status == 200, body
    summary = body["data"]["blocks"]["summary"]
    assert summary["markdown"] is True and body["data"]["actions"] == {}
    assert "The draft invoice for the Won stage failed: Replay tries again" in summary["value"]
    assert f"Deal of {s.a.mark}" in summary["value"]
    assert await published(s) == []
    status, body = await modal(s, "POST", modal_url(s.a, "replay", token))
    assert status == 200 and body == {"success": {"type": "snackbar", "message": (
        "Replay started: the outcome appears in the deal's activities within a minute.")}}
    # Pipedrive's retry, or a double click in the same modal: the same request.
    status, again = await modal(s, "POST", modal_url(s.a, "replay", token))
    assert status == 200 and "Replay started" in again["success"]["message"]
    [event] = await published(s)
    assert event["request"] == "replay" and event["replay_triggers"] == ["p1-s5", "manual-invoice"]


async def test_the_modal_creates_on_request_and_refuses_with_a_reason(stack):
    s = stack
    status, body = await modal(s, "POST", modal_url(s.a, "create-quote", modal_token(s.a)))
    assert status == 200 and body["success"]["message"].startswith("Draft quote requested")
    [event] = await published(s)
    assert event["request"] == "on_demand" and event["replay_triggers"] == ["manual-quote"]
    assert event["pipedrive_user_id"] == str(USER)
    await change_settings(s, s.a, invoice=False)
    token = modal_token(s.a)
    status, body = await modal(s, "GET", modal_url(s.a, "create-invoice", token))
    assert status == 200 and "Creating a draft invoice from a deal is switched off" in \
        body["data"]["blocks"]["summary"]["value"]
    status, body = await modal(s, "POST", modal_url(s.a, "create-invoice", token))
    assert status == 400 and body["error"]["message"].startswith(
        "Creating a draft invoice from a deal is switched off for your company. Ask a Pipedrive admin")
    # Fixed, the same modal may ask again.
    await change_settings(s, s.a, invoice=True)
    status, body = await modal(s, "POST", modal_url(s.a, "create-invoice", token))
    assert status == 200, body
    assert [e["replay_triggers"] for e in await published(s)] == [["manual-quote"], ["manual-invoice"]]


@pytest.mark.parametrize("how", ["forged", "expired", "other_company", "no_token", "two_deals", "not_a_deal"])
async def test_the_modal_refuses_a_request_pipedrive_did_not_sign_for_this_deal(stack, how):
    s = stack
    await outcomes(s, s.a, s.a.deal_id)
    good = modal_token(s.a)
    path = {"forged": modal_url(s.a, "replay", modal_token(s.a, secret="not-the-secret")),
            "expired": modal_url(s.a, "replay", modal_token(s.a, exp=int(time.time()) - 60)),
            "other_company": modal_url(s.a, "replay", modal_token(s.b), company_id=s.a.id),
            "no_token": modal_url(s.a, "replay", ""),
            "two_deals": modal_url(s.a, "replay", good, deal_id=f"{s.a.deal_id},{s.b.deal_id}"),
            "not_a_deal": modal_url(s.a, "replay", good).replace("resource=deal", "resource=person")}[how]
    for method in ("GET", "POST"):
        status, body = await modal(s, method, path)
        assert status == (400 if how in ("two_deals", "not_a_deal") else 401), body
        assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
        assert s.a.mark not in body["error"]["message"]
    assert await published(s) == []


async def test_a_failure_before_any_trigger_was_known_replays_the_last_stage_move(stack):
    s = stack
    stage_move = DealChanged(company_id=s.a.id, deal_id=s.a.deal_id, event_id=uuid.uuid4().hex, action="change",
                             data={"id": int(s.a.deal_id), "stage_id": 5, "pipeline_id": 1},
                             previous={"stage_id": 4}, event_timestamp=T0)
    await MongoDealEvents(s.db).remember_stage_event(stage_move)
    status = MongoDealStatus(s.db)
    await status.record(failed(s.a, s.a.deal_id, T0, trigger=None))
    # Triggers of every kind are named as a person knows them (a won trigger, a re-entry of a stage).
    await status.record(failed(s.a, s.a.deal_id, T0, trigger="p1-won"))
    _, page, _ = await get(s, link(s, s.a, "replay"))
    assert "The draft for the deal marked won failed: Replay tries again" in words(page)
    await s.db.deal_status.delete_many({"trigger_id": "p1-won"})
    await status.record(created(s.a, s.a.deal_id, T0, "").model_copy(update={"trigger_id": "p1-s5@2026-11-01",
                                                                              "number": None}))
    _, page, _ = await get(s, link(s, s.a, "replay"))
    assert ("Draft invoice for the Won stage will be updated with the current settings and deal, if it is still a "
            "draft in Xero.") in words(page)
    await s.db.deal_status.delete_many({"trigger_id": "p1-s5@2026-11-01"})
    _, page, _ = await get(s, link(s, s.a, "replay"))
    assert ("An earlier attempt failed before the deal's trigger was known: Replay runs the deal's last stage move "
            "again, with the deal as it is now.") in words(page)
    location, result = await confirm_and_post(s, link(s, s.a, "replay"))
    assert "Replay started" in result
    [event] = await published(s)
    assert event["replay_of"] == stage_move.id and event["replay_triggers"] == []
    assert event["id"] == location.rsplit("=", 1)[1] and event["event_id"] == stage_move.event_id
