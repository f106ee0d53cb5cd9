"""The Pipedrive client lists every deal of a v2 list across cursor pages, against the Pipedrive sandbox."""

import aiohttp
from aiohttp.test_utils import TestServer

from pdx_common.connections import AccessToken
from pdx_common.pipedrive import PipedriveClient
from pdx_sandbox.pipedrive import PipedriveState
from pdx_sandbox.pipedrive import create_app as pipedrive_app


async def test_listed_follows_the_cursor_through_every_page():
    state = PipedriveState()
    token = state.issue_tokens()["access_token"]
    wanted = {str(d["id"]) for d in state.deals.values()
              if d["pipeline_id"] == 1 and d["status"] == "open" and not d["is_deleted"]}
    assert len(wanted) > 2

    class Tokens:
        async def token(self, company_id: str, *, force_refresh: bool = False) -> AccessToken:
            return AccessToken(token, company_id)

    server = TestServer(pipedrive_app(state), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            client = PipedriveClient(session, Tokens(), str(state.company_id), str(server.make_url("")).rstrip("/"))
            found = await client.listed("/api/v2/deals", {"pipeline_id": 1, "status": "open"}, page_size=2)
    finally:
        await server.close()
    assert sorted(str(d["id"]) for d in found) == sorted(wanted)  # every deal once, over several pages
