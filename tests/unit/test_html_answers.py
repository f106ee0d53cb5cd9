"""A proxy in front of Pipedrive (or its token endpoint) may answer an HTML page: the status decides what the
failure is, so a 502 page is waited out like any 5xx, never dead-lettered as a broken message."""

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pdx_common.connections import AccessToken, OAuthClient, TokenProvider
from pdx_common.http import ApiError
from pdx_common.pipedrive import PipedriveClient
from pdx_common.reliability import is_transient

HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


class FakeTokens:
    async def token(self, company_id: str, *, force_refresh: bool = False) -> AccessToken:
        return AccessToken("t", company_id)


@pytest.fixture
async def proxy():
    answers: list[tuple[int, str]] = []

    async def handler(_: web.Request) -> web.Response:
        status, text = answers.pop(0)
        return web.Response(status=status, text=text, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server, answers
    finally:
        await server.close()


@pytest.mark.parametrize("status", [502, 503, 504, 200])
async def test_an_html_page_from_pipedrive_is_a_transient_api_error(proxy, status):
    server, answers = proxy
    answers.append((status, HTML))
    async with aiohttp.ClientSession() as session:
        client = PipedriveClient(session, FakeTokens(), "7", str(server.make_url("")))
        with pytest.raises(ApiError) as raised:
            await client.deal("1")
    assert raised.value.status >= 500 and is_transient(raised.value) and "Bad Gateway" in str(raised.value.body)


async def test_an_html_page_from_the_token_endpoint_is_a_transient_api_error(proxy):
    server, answers = proxy
    answers.append((503, HTML))
    async with aiohttp.ClientSession() as session:
        tokens = TokenProvider("pipedrive", store=None, client=OAuthClient(str(server.make_url("/token")), "c", "s"),
                               session=session)
        with pytest.raises(ApiError) as raised:
            await tokens._post_refresh("7", {"grant_type": "refresh_token"})  # noqa: SLF001 - the HTTP step alone
    assert raised.value.status == 503 and is_transient(raised.value)
