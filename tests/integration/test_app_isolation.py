"""One company's session cannot read or change another company's settings, connections, log or usage.

Two installed companies, A ("alpha") and B ("bravo"), each with settings, both connections (its own Xero
organisation), sync outcomes and metered usage, all carrying markers of their own. With A's session:
- every page of the app (the sections listed below, and any GET route the app gains later) shows none of B's markers,
  even when the address names B (``?company_id=B``), and shows A's data where the page exists;
- every action of the app (each form the pages show, posted as the page would with fields naming B added, and every
  POST route posted bare with fields naming B) leaves every stored document that mentions B exactly as it was,
  publishes no replay for B, asks metering about A only, and leaves B's own session working.
Pages still being built (404) are checked for leaks all the same; a page that starts showing B's data fails here.
"""

import json
from html.parser import HTMLParser
from urllib.parse import quote

from pdx_common import topics
from tests.integration.test_app_log_usage import (
    AppStack,
    b_markers,
    seed_company,
    seed_usage,
    stack,  # noqa: F401 (the fixture)
    words,
)
from tests.kafka_helpers import deal_event_marker, read_to_markers

SECTIONS = ("/app/connections", "/app/triggers", "/app/rules", "/app/mappings", "/app/history", "/app/log",
            "/app/usage", "/app/preview")
NOT_PAGES = ("/app/pipedrive/", "/app/static")


def routes(s: AppStack, method: str) -> list[str]:
    """The app's own routes of ``method`` (fixed paths only), as the gateway serves them now."""
    found = {r.resource.canonical for r in s.app.router.routes()
             if r.method == method and r.resource is not None and r.resource.canonical.startswith("/app/")}
    return sorted(p for p in found if "{" not in p and not p.startswith(NOT_PAGES))


def pages(s: AppStack) -> list[str]:
    return sorted(set(SECTIONS) | set(routes(s, "GET")))


def a_markers(s: AppStack) -> dict[str, list[str]]:
    """What of A's each page shows once it is built."""
    return {"/app/connections": [s.a.organisation], "/app/log": [f"Deal 42 has no customer ({s.a.mark})."],
            "/app/usage": ["10 drafts made: 7 invoices and 3 quotes."],
            "/app/mappings": [f"Terms {s.a.mark}", f"Summary {s.a.mark}"], "/app/rules": [s.a.account],
            # A's deal previewed with A's reference template (B's deal of the same number is B's own).
            # A's own account, named in the refusal the preview gives as the sync would (A's Xero lacks it).
            "/app/preview?deal": [f"The revenue account {s.a.account} is not an active revenue account"]}


async def seeded(s: AppStack) -> None:
    for company in (s.a, s.b):
        await seed_company(s, company)
    assert s.a.deal_id == s.b.deal_id  # the same deal number in both companies' Pipedrive
    seed_usage(s)


async def about_b(s: AppStack) -> dict[str, list[str]]:
    """Every stored document, in every collection, that mentions B's company id or organisation."""
    found: dict[str, list[str]] = {}
    for name in sorted(await s.db.list_collection_names()):
        docs = [json.dumps(doc, default=str, sort_keys=True) async for doc in s.db[name].find()]
        mentions = sorted(d for d in docs if s.b.id in d or s.b.tenant_id in d)
        if mentions:
            found[name] = mentions
    return found


async def test_no_page_of_a_shows_anything_of_b(stack):  # noqa: F811
    s = stack
    await seeded(s)
    async with s.browser(s.a) as browser:
        for path in pages(s):
            for query in ("", f"?company_id={s.b.id}&companyId={s.b.id}&tenant_id={s.b.tenant_id}",
                          f"?deal_id={s.a.deal_id}&action=invoice&company_id={s.b.id}"):
                status, page = await browser.get(path + query)
                for marker in b_markers(s):
                    assert marker not in page, f"{path}{query} shows B's {marker!r} (status {status})"
                if status == 200:
                    for marker in a_markers(s).get(path + ("?deal" if "deal_id" in query else ""), []):
                        assert marker in page or marker in words(page), f"{path}{query} lacks A's {marker!r}"
    assert {company for company, _ in s.metering.asked} == {s.a.id}


class Forms(HTMLParser):
    """The forms of a page as a browser would post them: (action, [(name, value)])."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._select: tuple[str, list[str], list[str]] | None = None  # (name, options, selected)
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self.forms.append((a.get("action", ""), []))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name") and "disabled" not in a:
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1][1].append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [], [])
        elif tag == "option" and self._select is not None:
            self._select[1].append(a.get("value", ""))
            if "selected" in a:
                self._select[2].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = (a["name"], [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            name, options, selected = self._select
            if selected or options:
                self.forms[-1][1].append((name, (selected or options)[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.forms[-1][1].append((self._textarea[0], "".join(self._textarea[1])))
            self._textarea = None


async def forms_of(browser, path: str) -> list[tuple[str, list[tuple[str, str]]]]:
    status, page = await browser.get(path)
    if status != 200:
        return []
    parser = Forms()
    parser.feed(page)
    return [(action or path, [(k, v) for k, v in fields if k != "csrf"]) for action, fields in parser.forms
            if (action or path).startswith("/app/") and not (action or path).startswith(NOT_PAGES)]


async def post_every_form(s: AppStack, browser, b_says: list[tuple[str, str]]) -> list[tuple[str, int]]:
    """Each form of each page, read afresh just before it is posted (so a save is never refused as stale), with
    fields naming B added and B in the address; Disconnect last, so everything else runs against a connected A."""
    plan = [(path, i, action) for path in pages(s) for i, (action, _) in enumerate(await forms_of(browser, path))]
    plan.sort(key=lambda p: "disconnect" in p[2])
    assert plan, "no form on any page of the app"
    answers = []
    for path, i, _ in plan:
        found = await forms_of(browser, path)
        if i < len(found):
            action, fields = found[i]
            status, _, _ = await browser.post(f"{action}{'&' if '?' in action else '?'}company_id={s.b.id}",
                                              fields + b_says)
            answers.append((action.split("?")[0], status))
    return answers


async def test_no_action_of_a_changes_anything_of_b(stack):  # noqa: F811
    s = stack
    await seeded(s)
    b_says = [("company_id", s.b.id), ("companyId", s.b.id), ("company", s.b.id), ("tenant_id", s.b.tenant_id),
              ("tenantId", s.b.tenant_id)]
    async with s.browser(s.b) as b_browser:
        before = await about_b(s)
        assert set(before) >= {"app_sessions", "company_settings", "connections", "deal_status", "xero_documents"}
        async with s.browser(s.a) as browser:
            answers = await post_every_form(s, browser, b_says)
            for path in sorted(routes(s, "POST"), key=lambda p: "disconnect" in p):
                await browser.post(f"{path}?company_id={s.b.id}", [*b_says, ("deal_id", "42"), ("version", "2")])
        # The sections' own forms were real saves for A (B's fields added changed nothing of B's).
        saves = {action: status for action, status in answers if action in SECTIONS}
        assert saves and all(status == 303 for status in saves.values()), answers
        after = await about_b(s)
        status, page = await b_browser.get("/app/log")
        assert status == 200 and f"Deal 42 has no customer ({s.b.mark})." in page  # B's session still works
    assert after == before
    replays = await read_to_markers(s.settings.kafka_bootstrap, topics.DEAL_EVENTS, deal_event_marker,
                                    match=lambda m: m.get("company_id") == s.b.id)
    assert replays == []
    assert {company for company, _ in s.metering.asked} <= {s.a.id}


async def test_a_cannot_switch_to_bs_organisation(stack):  # noqa: F811
    s = stack
    await seeded(s)
    async with s.browser(s.a) as browser:
        await browser.post("/app/xero/tenant", {"tenant_id": s.b.tenant_id})
    a_xero = await s.db.connections.find_one({"_id": f"xero:{s.a.id}"})
    b_xero = await s.db.connections.find_one({"_id": f"xero:{s.b.id}"})
    assert a_xero["tenant_id"] == s.a.tenant_id and b_xero["tenant_id"] == s.b.tenant_id
    assert b_xero["status"] == "ok"


async def test_a_disconnect_leaves_bs_xero_connection_working(stack):  # noqa: F811
    """One Xero user (a bookkeeper; the sandbox has one user) connected both companies: A's Disconnect ends A's
    connection only, and B's next Xero call (its log asks for the organisation's ShortCode) still works."""
    s = stack
    await seeded(s)
    async with s.browser(s.a) as browser:
        status, _, _ = await browser.post("/app/xero/disconnect", {})
        assert status == 303
    assert await s.db.connections.find_one({"_id": f"xero:{s.a.id}"}) is None
    async with s.browser(s.b) as b_browser:
        _, page = await b_browser.get("/app/log")
    assert f"shortcode={quote(s.xero.tenant(s.b.tenant_id).short_code)}" in page
    assert (await s.db.connections.find_one({"_id": f"xero:{s.b.id}"}))["status"] == "ok"
