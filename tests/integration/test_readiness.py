"""Readiness follows the store: not ready while MongoDB is down, ready again once it is back."""

import asyncio
import shutil
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pdx_common.service import set_metrics_token
from pdx_devstack.infra import start_secantus, stop_process
from pdx_gateway.bootstrap import create_app
from pdx_gateway.settings import GatewaySettings
from tests.integration.conftest import API_TOKEN


@pytest.fixture
def own_store():
    data = Path(tempfile.mkdtemp(prefix="pdx-ready-"))
    proc, port = start_secantus(data)
    holder = {"proc": proc, "port": port, "data": data}
    try:
        yield holder
    finally:
        stop_process(holder["proc"])
        shutil.rmtree(data, ignore_errors=True)


async def ready(server: TestServer, token: str = API_TOKEN) -> tuple[int, dict]:
    """As the operators read it (the metrics token shows which check fails)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/readyz"), headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json()


async def eventually_status(server: TestServer, status: int, timeout: float = 20.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got, body = await ready(server)
        if got == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"readyz stayed {got}: {body}"
        await asyncio.sleep(0.2)


async def test_readiness_fails_while_the_store_is_down_and_recovers(infra, own_store):
    url = f"mongodb://127.0.0.1:{own_store['port']}/?directConnection=true&retryWrites=false"
    settings = GatewaySettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_url=url, api_token=API_TOKEN)
    app = create_app(settings)
    set_metrics_token(app, API_TOKEN)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        await eventually_status(server, 200)
        stop_process(own_store["proc"])
        body = await eventually_status(server, 503)
        assert any(f.startswith("mongo") for f in body["failures"]), body
        assert await ready(server, token="someone-else") == (503, {"status": "not ready"})  # no host, no error
        own_store["proc"], _ = start_secantus(own_store["data"], port=own_store["port"])
        assert (await eventually_status(server, 200, timeout=40.0))["status"] == "ready"
    finally:
        await server.close()
