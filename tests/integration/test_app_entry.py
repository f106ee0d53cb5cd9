"""The settings app's door, against the Pipedrive and Xero sandboxes, the real store and broker: Pipedrive's signed
iframe URL makes a session for that company and user; anything forged, expired, for another company or for a
company without the app gets a page that says so and no session; only admins change things; forms need the
session's CSRF token and our own origin; Connect Xero links work once and only for minutes."""

import time
import uuid
import warnings

import jwt
import pytest

from tests.integration.test_oauth_pipedrive import PD_CLIENT, running_stack

ADMIN, SELLER, FORMER = 12001, 12002, 12003


@pytest.fixture
async def stack(infra, mongo_db):
    async with running_stack(infra, mongo_db) as s:
        await s.install()
        s.browser.cookie_jar.clear()  # the install gave the installer a session; each test opens its own
        yield s


def token(company_id, user_id, *, secret=PD_CLIENT[1], expires_in=300) -> str:
    now = int(time.time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)  # the sandbox's client secret is short
        return jwt.encode({"userId": user_id, "companyId": int(company_id), "iat": now, "exp": now + expires_in},
                          secret, algorithm="HS256")


def entry_url(s, *, user=ADMIN, company=None, jwt_token=None) -> str:
    company = company or s.company_id
    jwt_token = jwt_token or token(company, user)
    return (f"{s.gateway_url}/app/pipedrive/settings?id={uuid.uuid4()}&userId={user}&companyId={company}"
            f"&token={jwt_token}&resource=settings&view=settings")


async def enter(s, **kwargs) -> tuple[int, str, str | None]:
    return await s.get(entry_url(s, **kwargs))


async def post(s, path: str, data: dict, headers=None) -> tuple[int, str]:
    async with s.browser.post(f"{s.gateway_url}{path}", data=data, headers=headers or {},
                              allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def csrf(s, user=ADMIN) -> str:
    """The session's own CSRF token (a read-only page has no form to read it from)."""
    newest = await s.db.app_sessions.find_one({"company_id": s.company_id, "user_id": str(user)},
                                              sort=[("expires_at", -1)])
    return newest["csrf"]


async def test_pipedrives_signed_iframe_url_opens_the_settings_for_that_company_and_user(stack):
    status, _, location = await enter(stack)
    assert status == 303 and location == "/app/connections"
    status, page, _ = await stack.get(f"{stack.gateway_url}/app/connections")
    assert status == 200
    assert "Sandbox Admin" in page and "Admin</span>" in page and "Connect Xero" in page
    assert "demo.pipedrive.com" in page


@pytest.mark.parametrize("case", ["forged", "expired", "other_company_in_query", "none_algorithm", "no_token"])
async def test_a_bad_token_gets_a_clear_page_and_no_session(stack, case):
    company = stack.company_id
    kwargs = {
        "forged": {"jwt_token": token(company, ADMIN, secret="not-the-app-secret-but-long-enough-0123")},
        "expired": {"jwt_token": token(company, ADMIN, expires_in=-120)},
        "other_company_in_query": {"company": "4242", "jwt_token": token(company, ADMIN)},
        "none_algorithm": {"jwt_token": jwt.encode({"userId": ADMIN, "companyId": int(company),
                                                    "exp": int(time.time()) + 300}, None, algorithm="none")},
        "no_token": {"jwt_token": "-"},
    }[case]
    status, page, _ = await enter(stack, **kwargs)
    assert status == 401
    assert "We could not confirm who you are" in page and "Open the app again from Pipedrive" in page
    assert not [c for c in stack.browser.cookie_jar if c.key == "pdx_app"]
    status, page, _ = await stack.get(f"{stack.gateway_url}/app/connections")
    assert status == 401 and "Open the app from Pipedrive" in page and "Sandbox Admin" not in page


async def test_a_company_without_the_app_is_refused_even_with_a_valid_signature(stack):
    other = str(int(stack.company_id) + 1)
    status, page, _ = await enter(stack, company=other, jwt_token=token(other, ADMIN))
    assert status == 403 and "not installed for your company" in page
    assert not [c for c in stack.browser.cookie_jar if c.key == "pdx_app"]


async def test_a_deactivated_user_is_refused(stack):
    status, page, _ = await enter(stack, user=FORMER)
    assert status == 403 and "not active" in page


async def test_a_regular_user_sees_the_settings_read_only_and_cannot_change_them(stack):
    await enter(stack, user=SELLER)
    status, page, _ = await stack.get(f"{stack.gateway_url}/app/connections")
    assert status == 200 and "Sam Seller" in page and "View only" in page
    assert "Connect Xero</button>" not in page
    status, page = await post(stack, "/app/xero/connect", {"csrf": await csrf(stack, SELLER)})
    assert status == 403 and "Only admins can change this" in page
    assert await stack.db.oauth_states.count_documents({"flow": "xero-ticket"}) == 0


async def test_forms_need_the_sessions_csrf_token_and_our_origin(stack):
    await enter(stack)
    status, page = await post(stack, "/app/xero/connect", {})
    assert status == 403 and "This form has expired" in page
    status, page = await post(stack, "/app/xero/connect", {"csrf": await csrf(stack)},
                              headers={"Origin": "https://evil.example"})
    assert status == 403
    assert await stack.db.oauth_states.count_documents({"flow": "xero-ticket"}) == 0


async def test_pages_may_be_framed_only_by_pipedrive(stack):
    async with stack.browser.get(entry_url(stack), allow_redirects=False) as resp:
        policy = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors https://*.pipedrive.com;" in policy and "script-src 'self';" in policy


async def test_connect_xero_from_the_app_works_once_and_names_the_organisation(stack):
    await enter(stack)
    status, page = await post(stack, "/app/xero/connect", {"csrf": await csrf(stack)})
    assert status == 200 and "Open Xero sign-in" in page
    start = page.split('id="xero-start" href="', 1)[1].split('"', 1)[0]
    status, _, authorize = await stack.get(f"{stack.gateway_url}{start}")
    assert status == 302 and authorize.startswith(stack.xero_url)
    status, _, callback = await stack.get(authorize)
    status, page, _ = await stack.get(callback)
    assert status == 200 and "is connected" in page
    status, page, _ = await stack.get(f"{stack.gateway_url}/app/connections")
    assert "Connected. New drafts go to" in page
    org = (await stack.db.connections.find_one({"_id": f"xero:{stack.company_id}"}))["tenant_name"]
    assert f'<strong id="xero-org">{org}</strong>' in page

    status, page, _ = await stack.get(f"{stack.gateway_url}{start}")  # the same link again
    assert status == 401 and "already used or has expired" in page


async def test_a_connect_ticket_expires_in_minutes(stack):
    await enter(stack)
    await post(stack, "/app/xero/connect", {"csrf": await csrf(stack)})
    ticket = await stack.db.oauth_states.find_one({"flow": "xero-ticket"})
    lifetime = (ticket["expires_at"] - ticket["created_at"]).total_seconds()
    assert 60 <= lifetime <= 3600 and ticket["company_id"] == stack.company_id


async def test_a_wrong_address_or_a_reloaded_form_answer_is_a_page_not_a_server_message(stack):
    await enter(stack)
    status, page, _ = await stack.get(f"{stack.gateway_url}/app/nope")
    assert status == 404 and "This page does not exist" in page and "<nav" in page
    status, page, _ = await stack.get(f"{stack.gateway_url}/app/xero/disconnect")
    assert status == 405 and "Nothing was changed" in page
