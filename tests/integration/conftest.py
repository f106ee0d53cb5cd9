import pytest
from aiohttp.test_utils import TestServer

from pdx_gateway.bootstrap import create_app
from pdx_gateway.settings import GatewaySettings

API_TOKEN = "test-api-token-0123456789abcdef"


@pytest.fixture
async def gateway(infra, mongo_db):
    """The gateway app on a loopback port, on the real broker and the test's own database."""
    settings = GatewaySettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url,
                               mongo_db=mongo_db.name, log_json=True, api_token=API_TOKEN)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()
