"""A deal's link acts only for a user of its company, signed in with Pipedrive: the browser (the test's session with
a cookie jar) is logged in to the Pipedrive sandbox by opening a deal there as a user, follows Continue with
Pipedrive through the sandbox's OAuth and the gateway's callback back to the link, then presses the button. A user
of another company is refused; the tokens of a sign-in are never stored; the install keeps working."""

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urljoin

import aiohttp
import pytest

from pdx_gateway.deal_actions.identity import COOKIE
from pdx_sandbox.pipedrive.seed import REGULAR_USER_ID
from tests.integration.test_app_log_usage import AppStack, Company, words
from tests.integration.test_deal_actions import link, nonce_of, published
from tests.integration.test_deal_actions import stack as stack  # noqa: F401 (the fixture)

_CONTINUE = re.compile(r'<a[^>]*href="([^"]*/sign-in\?[^"]*)"[^>]*>Continue with Pipedrive</a>')


@asynccontextmanager
async def browser(company: Company, user_id: int = REGULAR_USER_ID) -> AsyncIterator[aiohttp.ClientSession]:
    """A browser logged in to the company's Pipedrive as ``user_id`` (by opening one of its deals there)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{company.pd.base_url}/host/deal/{company.deal_id}",
                            params={"company_id": company.pd.company_id, "user_id": user_id}) as resp:
            assert resp.status == 200, await resp.text()
        yield http


async def opened(http: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    """(status, page, the address it ended at), following redirects as a browser does."""
    async with http.get(url) as resp:
        return resp.status, html.unescape(await resp.text()), str(resp.url)


async def sign_in(http: aiohttp.ClientSession, s: AppStack, path: str) -> tuple[int, str, str]:
    """Open the link and follow Continue with Pipedrive to the end."""
    status, page, _ = await opened(http, f"{s.url}{path}")
    assert status == 200, page
    found = _CONTINUE.search(page)
    assert found, page
    return await opened(http, urljoin(f"{s.url}{path}", found.group(1)))


async def press(http: aiohttp.ClientSession, s: AppStack, path: str, nonce: str) -> tuple[int, str, str | None]:
    async with http.post(f"{s.url}{path}", data={"nonce": nonce}, headers={"Origin": s.url},
                         allow_redirects=False) as resp:
        return resp.status, html.unescape(await resp.text()), resp.headers.get("Location")


async def test_without_a_sign_in_the_page_shows_only_the_action_and_a_post_does_nothing(stack):
    s = stack
    path = link(s, s.a, "create-invoice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        status, page, _ = await opened(http, f"{s.url}{path}")
        assert status == 200, page
        text = words(page)
        assert "Create draft invoice" in text and f"Deal {s.a.deal_id}" in text
        assert "Continue with Pipedrive" in text and "You stay signed in on this browser for 8 hours." in text
        # Nothing read from the deal or the company: no title, domain, organisation; no form, no button.
        for mark in (s.a.mark, s.a.organisation):
            assert mark not in page
        assert "<button" not in page and 'name="nonce"' not in page and "<form" not in page
        # A POST (a nonce of someone else's page, or made up) is refused before anything else.
        status, refused, _ = await press(http, s, path, "made-up-nonce")
        assert status == 403 and "Sign in with Pipedrive first" in words(refused)
        # A GET of the sign-in itself acts on nothing either.
        assert await published(s) == []
        assert await s.db.deal_action_requests.count_documents({}) == 0


async def test_a_user_of_the_company_signs_in_once_and_the_press_acts_once_as_them(stack):
    s = stack
    stored = await s.db.connections.find_one({"_id": f"pipedrive:{s.a.id}"})
    path = link(s, s.a, "create-invoice")

    def consents() -> list[dict]:
        return [r for r in s.a.pd.requests if r["path"] == "/oauth/authorize"]

    earlier = len(consents())
    async with browser(s.a) as http:
        status, page, ended = await sign_in(http, s, path)
        # Back at the link, now with the whole confirmation and its button.
        assert status == 200 and ended == f"{s.url}{path}", (status, ended, page)
        text = words(page)
        assert f"Deal: Deal of {s.a.mark}" in text and "<button" in page
        assert len(consents()) == earlier + 1 and consents()[-1]["query"]["client_id"] == "sandbox-pd-client"
        assert consents()[-1]["query"]["redirect_uri"] == f"{s.url}/oauth/pipedrive/callback"
        # Signed in: another link of the company (another action) needs no second round trip.
        _, other, _ = await opened(http, f"{s.url}{link(s, s.a, 'replay')}")
        assert "Continue with Pipedrive" not in other
        assert len(consents()) == earlier + 1
        status, _, location = await press(http, s, path, nonce_of(page))
        assert status == 303 and location and location.startswith("/deal/result?request="), (status, location)
        status, again, _ = await press(http, s, path, nonce_of(page))
        assert status == 303
    [event] = await published(s)
    assert event["request"] == "on_demand" and event["deal_id"] == s.a.deal_id
    assert event["pipedrive_user_id"] == str(REGULAR_USER_ID)
    # The sign-in's tokens were used once and forgotten: the install's tokens are untouched, and the sign-in is
    # stored as a hash with the company and user only.
    assert await s.db.connections.find_one({"_id": f"pipedrive:{s.a.id}"}) == stored
    [login] = await s.db.deal_logins.find({}).to_list()
    assert set(login) == {"_id", "company_id", "user_id", "expires_at"}
    assert (login["company_id"], login["user_id"]) == (s.a.id, str(REGULAR_USER_ID))
    assert await s.db.oauth_states.count_documents({"flow": "deal-login"}) == 0


async def test_a_user_of_another_company_is_refused(stack):
    s = stack
    # Logged in to A's Pipedrive, opening B's link (forwarded, say): Pipedrive says the user is A's.
    path = link(s, s.b, "replay")
    async with browser(s.a) as http:
        status, page, _ = await sign_in(http, s, path)
        assert status == 403, page
        text = words(page)
        assert "This link belongs to another Pipedrive company" in text and s.b.mark not in page
        assert "<button" not in page
        assert not [c for c in http.cookie_jar if c.key == COOKIE]
        status, page, _ = await opened(http, f"{s.url}{path}")
        assert status == 200 and "Continue with Pipedrive" in page and s.b.mark not in page
        status, _, _ = await press(http, s, path, "made-up-nonce")
        assert status == 403
        # Signed in to A, a link of B still shows nothing of B.
        await sign_in(http, s, link(s, s.a, "replay"))
        status, page, _ = await opened(http, f"{s.url}{path}")
        assert "Continue with Pipedrive" in page and s.b.mark not in page
    assert await published(s) == []
    assert await s.db.deal_logins.count_documents({"company_id": s.b.id}) == 0


@pytest.mark.parametrize("how", ["replayed", "other_browser", "denied"])
async def test_a_sign_in_callback_that_is_not_this_browsers_or_is_used_again_signs_nobody_in(stack, how):
    s = stack
    path = link(s, s.a, "replay")
    async with browser(s.a) as http:
        _, page, _ = await opened(http, f"{s.url}{path}")
        start = urljoin(f"{s.url}{path}", _CONTINUE.search(page).group(1))
        async with http.get(start, allow_redirects=False) as resp:
            authorize = resp.headers["Location"]
        async with http.get(authorize, allow_redirects=False) as resp:
            callback = resp.headers["Location"]
        if how == "denied":
            callback = re.sub(r"code=[^&]*", "error=access_denied", callback)
        if how == "other_browser":
            async with aiohttp.ClientSession() as other, other.get(callback, allow_redirects=False) as resp:
                # Not a deal sign-in there: the install's own check refuses the state.
                assert resp.status == 400
        else:
            if how == "replayed":
                async with http.get(callback, allow_redirects=False) as resp:
                    assert resp.status == 303
                http.cookie_jar.clear(lambda c: c.key == COOKIE)
                http.cookie_jar.update_cookies({"pdx_oauth_deal": re.search(r"state=([^&]+)", callback).group(1)})
            async with http.get(callback, allow_redirects=False) as resp:
                assert resp.status in (400, 403), resp.status
                refused = words(html.unescape(await resp.text()))
            assert ("This sign-in has expired" if how == "replayed" else "You did not sign in with Pipedrive") \
                in refused
        _, page, _ = await opened(http, f"{s.url}{path}")
        assert "Continue with Pipedrive" in page
    assert await published(s) == []


async def test_the_install_still_works_in_a_browser_that_began_a_deal_sign_in(stack):
    s = stack
    async with browser(s.a, user_id=s.a.pd.user_id) as http:
        _, page, _ = await opened(http, f"{s.url}{link(s, s.a, 'replay')}")
        start = urljoin(s.url, _CONTINUE.search(page).group(1))
        async with http.get(start, allow_redirects=False) as resp:  # left at Pipedrive's consent
            assert resp.status == 302
        status, page, _ = await opened(http, f"{s.url}/oauth/pipedrive/install")
        assert status == 200, page
        assert "installed" in words(page).lower()
