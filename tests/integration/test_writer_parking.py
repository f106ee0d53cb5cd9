"""A revoked Xero authorisation: commands are parked (not lost, not failed), each deal hears of it once, and a
reconnect completes them with no duplicate draft. Also: a 429 storm loses nothing."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from pdx_common.connections import OAuthClient, TokenProvider
from pdx_common.contracts import COMMAND
from pdx_common.parking import MongoParkedCommands, resume_parked
from pdx_common.xero import XeroClient
from pdx_devstack.seed import XERO_CLIENT, connect_xero
from pdx_sandbox.xero import NZ_TENANT_ID
from tests.integration.writer_harness import open_rig, types
from tests.kafka_helpers import read_until


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as r:
        yield r


async def expire_token(rig) -> None:
    await rig.db.connections.update_one({"_id": f"xero:{rig.company_id}"},
                                        {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=5)}})


async def test_invalid_grant_parks_commands_tells_each_deal_once_and_reconnect_completes_them(rig, infra):
    rig.state.revoke_all_tokens()  # the user removed the app in Xero
    await expire_token(rig)
    writer = rig.writer()
    first, second = rig.invoice("5101"), rig.invoice("5101", trigger_id="renewal-invoice")
    third = rig.invoice("5102")
    await writer.execute_batch([first, second, third])

    results = await rig.results()
    assert types(results) == ["DocumentParked", "DocumentParked"]  # one per deal, none for billing
    assert {m["deal_id"] for m in results} == {"5101", "5102"}
    parked = MongoParkedCommands(rig.db)
    assert {d["_id"] for d in await parked.of_company(rig.company_id)} == {first.id, second.id, third.id}
    assert (await rig.db.connections.find_one({"_id": f"xero:{rig.company_id}"}))["status"] == "broken"
    assert rig.invoices() == []

    await connect_xero(rig.session, rig.store, rig.url, rig.company_id)  # the company reconnects
    assert await resume_parked(rig.company_id, parked, rig.publisher) == 3
    republished = await read_until(infra.kafka_bootstrap, "pdx.xero-commands", lambda got: len(got) >= 3,
                                   match=lambda m: m["company_id"] == rig.company_id)
    for payload in republished + republished[:1]:  # one redelivered on top, as Kafka may
        await writer.execute(COMMAND.validate_python(payload))

    assert len(rig.invoices()) == 3
    assert await parked.of_company(rig.company_id) == []
    assert types(await rig.results()).count("DocumentCreated") == 3


async def test_a_429_storm_loses_nothing(rig):
    rig.state.set_outage(NZ_TENANT_ID, status=429, count=4)
    writer = rig.writer()
    await asyncio.gather(*(writer.execute(rig.invoice(str(5200 + n))) for n in range(5)))
    assert sum(1 for r in rig.state.requests if r.status == 429) == 4
    assert len(rig.invoices()) == 5
    assert types(await rig.results()) == ["DocumentCreated"] * 5


async def test_a_hundred_commands_meeting_an_expired_token_cause_one_refresh(rig):
    await expire_token(rig)
    refreshes = rig.state.token_refreshes
    writers = [own_tokens(rig, rig.writer()) for _ in range(4)]  # like four processes: they share only the store
    commands = [rig.invoice(str(5300 + n)) for n in range(100)]
    await asyncio.gather(*(writers[n % 4].execute_batch(commands[n::4][:25]) for n in range(4)))
    assert rig.state.token_refreshes - refreshes == 1
    assert len(rig.invoices()) == 100


def own_tokens(rig, writer):
    tokens = TokenProvider("xero", rig.store, OAuthClient(f"{rig.url}/connect/token", *XERO_CLIENT), rig.session)

    async def xero_for(company_id: str):
        token = await tokens.token(company_id)
        return XeroClient(rig.session, tokens, company_id, f"{rig.url}/api.xro/2.0"), token.tenant_id or ""

    writer.xero_for = xero_for
    return writer
