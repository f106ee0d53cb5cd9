"""The Pipedrive sandbox plays Pipedrive's deal page: the deal, its activities (note HTML cleaned as Pipedrive shows
it), the app's JSON panel called with Pipedrive's query and a JWT signed with the panel's secret, and the JSON modals
of the panel's actions menu proxied to the app (GET to open, POST to submit) with their answers read as Pipedrive
reads them. The app is a fake aiohttp server on port 0 that records what it was sent."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pdx_sandbox.pipedrive import USER_ID, PipedriveState, create_app
from pdx_sandbox.pipedrive.markup import clean_note, markdown

PANEL_SECRET = "a-panel-secret-that-is-at-least-32-bytes-long"
CLIENT_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
DEAL = 1


@dataclass
class FakeApp:
    """The app's panel and modal endpoints: canned answers, every request kept."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    panel: tuple[int, Any] = (200, {"data": [{"id": "failed-won", "header": "Not created: No customer",
                                              "fix": "Link a person. Then choose Replay.",
                                              "replay": {"label": "Replay", "value": "https://gw/deal/replay?x=1",
                                                         "external": True}},
                                             {"id": "summary", "header": "Xero: Kiwi",
                                              "outstanding": {"code": "NZD", "value": 12.5}}],
                                    "settings": {"url": "https://demo.pipedrive.com/settings"}})
    modal_get: tuple[int, Any] = (200, {"data": {"blocks": {"summary": {
        "value": "**Quote for Kiwi <script>**\n\nA draft quote will be made. [Settings](https://x/s)"}},
        "actions": {}}})
    modal_post: tuple[int, Any] = (200, {"success": {"type": "snackbar", "message": "Draft quote requested."}})

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.method == "POST" else None
        self.seen.append({"path": request.path, "method": request.method, "query": dict(request.query),
                          "body": body})
        status, answer = (self.panel if request.path == "/panel" else
                          self.modal_post if request.method == "POST" else self.modal_get)
        return web.json_response(answer, status=status)


@dataclass
class Rig:
    state: PipedriveState
    url: str
    app: FakeApp
    app_url: str
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path) as resp:
            return resp.status, await resp.text()

    async def modal(self, method: str, name: str, body: Any = None) -> dict[str, Any]:
        query = {"name": name, "company_id": str(self.state.company_id), "user_id": str(USER_ID)}
        async with self.http.request(method, f"{self.url}/host/deal/{DEAL}/modal", params=query,
                                     json=body) as resp:
            assert resp.status == 200
            return await resp.json()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    fake = FakeApp()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    state = PipedriveState(client_secret=CLIENT_SECRET)
    servers = [TestServer(app, host="127.0.0.1"), TestServer(create_app(state), host="127.0.0.1")]
    for server in servers:
        await server.start_server()
    app_url, url = (str(s.make_url("")).rstrip("/") for s in servers)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/_sandbox/app", json={
                    "panel_url": f"{app_url}/panel", "panel_jwt_secret": PANEL_SECRET,
                    "modals": {"Replay": f"{app_url}/deal/modal/replay",
                               "Create draft quote": f"{app_url}/deal/modal/create-quote"}}) as resp:
                assert resp.status == 200, await resp.text()
            yield Rig(state, url, fake, app_url, http)
    finally:
        for server in servers:
            await server.close()


def page_path(state: PipedriveState) -> str:
    return f"/host/deal/{DEAL}?company_id={state.company_id}&user_id={USER_ID}"


async def test_the_deal_page_shows_the_deal_its_activities_newest_first_and_the_panel(rig: Rig) -> None:
    deal = rig.state.deals[DEAL]
    for n, note in enumerate(['<p>Once fixed, <a href="https://gw/deal/replay?a=1&amp;b=2">Replay this deal</a>.'
                              "</p><script>alert(1)</script>", "<p>second</p>"]):
        rig.state.activities[n + 1] = {"id": n + 1, "deal_id": DEAL, "subject": f"Subject {n + 1} <b>",
                                       "note": note, "add_time": f"2026-11-30T0{n}:00:00Z", "type": "task",
                                       "done": True}
    status, page = await rig.get(page_path(rig.state))

    assert status == 200
    assert f'<h1 id="deal-title">{deal["title"]}</h1>' in page and 'id="deal-stage"' in page
    assert page.index("Subject 2 &lt;b&gt;") < page.index("Subject 1 &lt;b&gt;")  # newest first
    assert ('<a href="https://gw/deal/replay?a=1&amp;b=2" target="_blank" rel="noopener">Replay this deal</a>'
            in page)
    assert "<script>alert" not in page and "alert(1)" not in page
    assert 'data-object-id="failed-won"' in page and "Not created: No customer" in page
    assert '<a href="https://gw/deal/replay?x=1" target="_blank" rel="noopener">Replay</a>' in page
    assert "NZD 12.50" in page
    assert 'data-modal="Create draft quote"' in page and 'data-modal="Replay"' in page

    [call] = rig.app.seen
    query = call["query"]
    assert call["path"] == "/panel" and call["method"] == "GET"
    assert {k: v for k, v in query.items() if k != "token"} == {
        "resource": "deal", "view": "details", "userId": str(USER_ID), "companyId": str(rig.state.company_id),
        "selectedIds": str(DEAL), "isShared": "false"}
    claims = jwt.decode(query["token"], PANEL_SECRET, algorithms=["HS256"])
    assert claims["userId"] == USER_ID and claims["companyId"] == rig.state.company_id


@pytest.mark.parametrize(("answer", "shown"), [
    ((500, {"oops": 1}), "Something went wrong"),
    ((200, {"data": [{"id": n, "header": "x"} for n in range(11)]}), "Something went wrong"),
    ((409, {"error": {"title": "Xero needs reconnecting", "subtitle": "Reconnect **Xero**."}}),
     "<b>Xero needs reconnecting</b></p><p>Reconnect <strong>Xero</strong>.</p>"),
    ((200, {"data": []}), "Nothing to show"),
])
async def test_a_panel_pipedrive_would_refuse_shows_its_error(rig: Rig, answer, shown) -> None:
    rig.app.panel = answer
    _, page = await rig.get(page_path(rig.state))
    assert shown in page


async def test_a_modal_opens_with_its_markdown_and_submits_through_the_sandbox(rig: Rig) -> None:
    opened = await rig.modal("GET", "Create draft quote")
    assert opened["ok"] and opened["primary"] == "Create draft quote"
    assert opened["blocks"] == [{"key": "summary", "html": (
        "<p><strong>Quote for Kiwi &lt;script&gt;</strong></p><p>A draft quote will be made. "
        '<a href="https://x/s" target="_blank" rel="noopener">Settings</a></p>')}]
    done = await rig.modal("POST", "Create draft quote", {})
    assert done == {"ok": True, "message": "Draft quote requested."}

    get, post = rig.app.seen
    assert get["path"] == post["path"] == "/deal/modal/create-quote"
    assert post["method"] == "POST" and post["body"] == {}
    for call in (get, post):
        assert {k: v for k, v in call["query"].items() if k != "token"} == {
            "resource": "deal", "view": "details", "userId": str(USER_ID),
            "companyId": str(rig.state.company_id), "selectedIds": str(DEAL)}
        # No modal secret set: the app's client secret signs, as Developer Hub does by default.
        assert jwt.decode(call["query"]["token"], CLIENT_SECRET, algorithms=["HS256"])["userId"] == USER_ID


@pytest.mark.parametrize(("answer", "expected"), [
    ((400, {"error": {"message": "This deal already has quote QU-0003."}}),
     {"ok": False, "message": "This deal already has quote QU-0003."}),
    ((200, {"success": {"type": "toast", "message": "x"}}),
     {"ok": False, "message": "Something went wrong, please try again."}),
    ((200, {"success": {"type": "snackbar", "message": "Done", "link": {"label": "Open", "value": "https://x/q"}}}),
     {"ok": True, "message": "Done", "link": {"label": "Open", "url": "https://x/q"}}),
])
async def test_a_submit_shows_the_apps_error_or_pipedrives(rig: Rig, answer, expected) -> None:
    rig.app.modal_post = answer
    assert await rig.modal("POST", "Replay", {}) == expected


async def test_a_modal_refused_with_401_asks_to_reinstall_and_a_bad_answer_is_an_error(rig: Rig) -> None:
    rig.app.modal_get = (401, {"error": "no"})
    refused = await rig.modal("GET", "Replay")
    assert not refused["ok"] and refused["reinstall"] and "Reinstall" in refused["message"]
    rig.app.modal_get = (200, {"blocks": {}})
    assert (await rig.modal("GET", "Replay"))["message"] == "Something went wrong, please try again."


async def test_the_extensions_are_configured_by_control_route_and_an_unknown_modal_is_404(rig: Rig) -> None:
    async with rig.http.get(f"{rig.url}/_sandbox/app") as resp:
        config = (await resp.json())["data"]
    assert config["panel_url"] == f"{rig.app_url}/panel" and config["panel_jwt_secret_set"]
    assert list(config["modals"]) == ["Replay", "Create draft quote"]
    async with rig.http.post(f"{rig.url}/_sandbox/app", json={"modals": {"x": "ftp://no"}}) as resp:
        assert resp.status == 400
    query = {"name": "Delete everything", "company_id": str(rig.state.company_id), "user_id": str(USER_ID)}
    async with rig.http.get(f"{rig.url}/host/deal/{DEAL}/modal", params=query) as resp:
        assert resp.status == 404


def test_notes_keep_only_harmless_markup() -> None:
    assert clean_note('<p onclick="x">a <a href="javascript:x">b</a> <img src=x onerror=y><b>c</b>') == \
        "<p>a <a>b</a> <b>c</b></p>"
    assert markdown("# Title\n\n- one\n- **two**\n\n> quoted") == \
        "<h3>Title</h3><ul><li>one</li><li><strong>two</strong></li></ul><blockquote>quoted</blockquote>"


def test_serve_takes_the_panel_and_modals() -> None:
    from pdx_sandbox.pipedrive.cli import parser

    args = parser().parse_args(["serve", "--panel-url", "http://c/panel", "--panel-jwt-secret", "s",
                                "--modal", "Replay=http://g/deal/modal/replay",
                                "--modal", "Create draft quote=http://g/deal/modal/create-quote"])
    assert args.modal == [("Replay", "http://g/deal/modal/replay"),
                          ("Create draft quote", "http://g/deal/modal/create-quote")]
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--modal", "no-url"])


def test_a_list_may_follow_a_paragraph_line_and_a_single_newline_is_a_space() -> None:
    assert markdown("**Create draft quote: Kiwi**\n\nWhat will happen:\n- A draft quote is made.\n- Nothing is sent.\n"
                    "It takes\na minute.") == (
        "<p><strong>Create draft quote: Kiwi</strong></p><p>What will happen:</p><ul><li>A draft quote is made.</li>"
        "<li>Nothing is sent.</li></ul><p>It takes a minute.</p>")
