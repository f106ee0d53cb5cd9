"""Tokens against the Xero sandbox and the real store: one refresh for many callers across processes, rotation
saved before use, a lost refresh response retried, invalid_grant marks the connection broken, nothing readable."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.fernet import Fernet

from pdx_common.connections import ConnectionStore, OAuthClient, TokenProvider
from pdx_common.crypto import TokenCipher
from pdx_common.http import ConnectionMissing
from pdx_devstack.seed import XERO_CLIENT, connect_xero
from pdx_sandbox.xero import XERO_STATE, create_app

KEY = Fernet.generate_key().decode()


@pytest.fixture
async def xero():
    server = TestServer(create_app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def connected(xero, mongo_db, session, run_id):
    store = ConnectionStore(mongo_db, TokenCipher(KEY))
    company = f"c{run_id}"
    await connect_xero(session, store, str(xero.make_url("")).rstrip("/"), company)
    return store, company


def provider(xero, store, session, token_url=None) -> TokenProvider:
    url = token_url or str(xero.make_url("/connect/token"))
    return TokenProvider("xero", store, OAuthClient(url, *XERO_CLIENT), session, lease_seconds=5)


async def expire(store: ConnectionStore, company: str) -> None:
    await store._col.update_one({"_id": f"xero:{company}"},
                                {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}})


async def test_a_hundred_callers_of_an_expired_token_cause_exactly_one_refresh(xero, connected, session):
    store, company = connected
    state = xero.app[XERO_STATE]
    old = (await provider(xero, store, session).token(company)).token
    await expire(store, company)
    # Four providers stand for four processes: they share only the store.
    providers = [provider(xero, store, session) for _ in range(4)]
    tokens = await asyncio.gather(*(providers[i % 4].token(company) for i in range(100)))
    assert state.token_refreshes == 1
    assert len({t.token for t in tokens}) == 1 and tokens[0].token != old


async def test_the_stored_connection_holds_no_readable_token(xero, connected, mongo_db, session):
    store, company = connected
    token = await provider(xero, store, session).token(company)
    raw = json.dumps(await mongo_db.connections.find_one({"_id": f"xero:{company}"}), default=str)
    assert token.token not in raw
    assert store.decrypt(await store.get("xero", company), "refresh_token") not in raw
    assert "access_token" in raw  # the field is there, encrypted


async def test_a_revoked_authorisation_marks_the_connection_broken(xero, connected, session):
    store, company = connected
    xero.app[XERO_STATE].revoke_all_tokens()
    await expire(store, company)
    with pytest.raises(ConnectionMissing, match="revoked"):
        await provider(xero, store, session).token(company)
    assert (await store.get("xero", company))["status"] == "broken"
    with pytest.raises(ConnectionMissing):  # and stays so, without asking Xero again
        await provider(xero, store, session).token(company)
    assert xero.app[XERO_STATE].token_refreshes == 0


async def test_a_lost_refresh_response_is_retried_with_the_same_refresh_token(xero, connected, session):
    store, company = connected
    calls = []

    async def lossy(request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        calls.append(form["refresh_token"])
        async with aiohttp.ClientSession() as s:
            async with s.post(xero.make_url("/connect/token"), data=form,
                              headers={"Authorization": request.headers["Authorization"]}) as resp:
                body = await resp.read()
        if len(calls) == 1:  # Xero rotated the token, but its answer never reaches us
            request.transport.close()
            raise asyncio.CancelledError
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/token", lossy)
    proxy = TestServer(app, host="127.0.0.1")
    await proxy.start_server()
    try:
        await expire(store, company)
        token = await provider(xero, store, session, str(proxy.make_url("/token"))).token(company)
    finally:
        await proxy.close()
    assert len(calls) == 2 and calls[0] == calls[1]
    assert (await store.get("xero", company))["status"] == "ok" and token.token
