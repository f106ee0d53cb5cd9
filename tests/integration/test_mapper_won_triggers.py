"""The mapper as ``bootstrap.py`` wires it, on the real broker and store, reading deals from the Pipedrive sandbox:
Pipedrive's Won button (a status change, no stage move) makes the pipeline's document; moved into a trigger stage and
won at once makes one command per trigger; a person's request, a replay and a backfill name their triggers, and only
the replay regenerates; creating drafts on demand, switched off, is explained on the deal."""

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaProducer
from cryptography.fernet import Fernet

from pdx_common import topics
from pdx_common.company_settings import CompanySettings, OnDemand, Trigger, WonTrigger
from pdx_common.connections import ConnectionStore
from pdx_common.contracts import DealChanged
from pdx_common.crypto import TokenCipher
from pdx_devstack.seed import PD_CLIENT, connect_pipedrive
from pdx_mapper.bootstrap import create_app
from pdx_mapper.settings import MapperSettings
from pdx_sandbox.pipedrive import DEMO_DEAL_ID, STAGE_WON, PipedriveState
from pdx_sandbox.pipedrive import create_app as pipedrive_app
from pdx_sandbox.pipedrive.webhooks import webhook_deal
from tests.kafka_helpers import read_until

SETTINGS = CompanySettings(triggers=(Trigger(pipeline_id=1, stage_id=STAGE_WON, action="invoice"),),
                           won_triggers=(WonTrigger(pipeline_id=1, action="quote"),),
                           on_demand=OnDemand(invoice=False, quote=True))


@dataclass
class MapperRig:
    company_id: str
    pd: PipedriveState
    bootstrap: str
    producer: AIOKafkaProducer

    def change(self, deal_id: int, changes: dict, *, attempt: int = 1, event_id: str | None = None) -> DealChanged:
        """The v2 ``change`` webhook Pipedrive sends for ``changes`` (``previous`` holds only what changed)."""
        previous = self.pd.change_deal(deal_id, changes)
        return self.event("change", deal_id, previous, attempt=attempt, event_id=event_id)

    def event(self, action: str, deal_id: int, previous: dict | None, *, attempt: int = 1,
              event_id: str | None = None) -> DealChanged:
        return DealChanged(company_id=self.company_id, deal_id=str(deal_id), event_id=event_id or uuid.uuid4().hex,
                           action=action, attempt=attempt, data=webhook_deal(self.pd, self.pd.deals[deal_id]),
                           previous=previous)

    def request(self, kind: str | None, deal_id: int, *trigger_ids: str) -> DealChanged:
        return self.event("change", deal_id, {}).model_copy(update={
            "event_id": f"request-{uuid.uuid4().hex}", "replay_of": uuid.uuid4().hex, "replay_triggers": trigger_ids,
            "request": kind})

    async def publish(self, *events: DealChanged) -> None:
        for event in events:  # keyed by deal, as the gateway publishes: one deal's events stay in order
            await self.producer.send_and_wait(topics.DEAL_EVENTS, event.model_dump_json().encode(),
                                              key=topics.deal_key(event.company_id, event.deal_id))

    async def read(self, topic: str, count: int) -> list[dict]:
        """What the mapper published for this company on ``topic``, read until ``count`` arrived (or 60 s)."""
        return await read_until(self.bootstrap, topic, lambda seen: len(seen) >= count,
                                match=lambda m: m.get("company_id") == self.company_id)


@pytest.fixture
async def rig(infra, mongo_db) -> AsyncIterator[MapperRig]:
    pd = PipedriveState(company_id=random.randint(10**6, 10**9))
    pd_server = TestServer(pipedrive_app(pd), host="127.0.0.1")
    await pd_server.start_server()
    pd_url = str(pd_server.make_url("")).rstrip("/")
    pd.base_url = pd_url  # the token's api_domain, as Pipedrive answers it
    key = Fernet.generate_key().decode()
    async with aiohttp.ClientSession() as session:
        company_id = (await connect_pipedrive(session, ConnectionStore(mongo_db, TokenCipher(key)), pd_url))[
            "company_id"]
    await mongo_db.company_settings.insert_one({"_id": company_id, **SETTINGS.model_dump(mode="json")})
    settings = MapperSettings(
        kafka_bootstrap=infra.kafka_bootstrap, mongo_url=infra.mongo_url, mongo_db=mongo_db.name, log_json=True,
        token_key=key, pipedrive_token_url=f"{pd_url}/oauth/token", pipedrive_client_id=PD_CLIENT[0],
        pipedrive_client_secret=PD_CLIENT[1], kafka_session_timeout_ms=2000, kafka_heartbeat_interval_ms=500)
    mapper = TestServer(create_app(settings), host="127.0.0.1")
    await mapper.start_server()
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        yield MapperRig(company_id, pd, infra.kafka_bootstrap, producer)
    finally:
        await producer.stop()
        await mapper.close()
        await pd_server.close()


async def test_the_won_button_makes_the_pipeline_s_quote_and_an_edit_before_it_makes_nothing(rig):
    edit = rig.change(DEMO_DEAL_ID, {"title": "Kiwi rollout, phase 2"})
    won = rig.change(DEMO_DEAL_ID, {"status": "won"})
    assert won.previous["status"] == "open" and won.data["stage_id"] != STAGE_WON  # no stage move
    await rig.publish(edit, won, won.model_copy(update={"attempt": 2}))  # and Pipedrive's retry of the win

    commands = await rig.read(topics.XERO_COMMANDS, 2)
    assert [(c["type"], c["trigger_id"], c["source_event_id"]) for c in commands] == [
        ("CreateQuote", "p1-won", won.event_id)] * 2  # one ledger key: the writer makes one draft of them
    assert all("regenerate" not in c for c in commands)  # written as before: not regenerating


async def test_moved_into_the_won_stage_and_marked_won_at_once_makes_one_command_per_trigger(rig):
    both = rig.change(DEMO_DEAL_ID, {"stage_id": STAGE_WON, "status": "won"})
    assert {"stage_id", "status"} <= set(both.previous)
    await rig.publish(both)

    commands = await rig.read(topics.XERO_COMMANDS, 2)
    assert sorted((c["type"], c["trigger_id"]) for c in commands) == [("CreateInvoice", "p1-s5"),
                                                                      ("CreateQuote", "p1-won")]


async def test_requests_name_their_triggers_and_only_a_replay_regenerates(rig):
    await rig.publish(rig.request("on_demand", DEMO_DEAL_ID, "manual-quote"),
                      rig.request("backfill", DEMO_DEAL_ID, "p1-s5"),
                      rig.request("replay", DEMO_DEAL_ID, "p1-won"))
    commands = await rig.read(topics.XERO_COMMANDS, 3)
    assert [(c["type"], c["trigger_id"], c.get("regenerate", False)) for c in commands] == [
        ("CreateQuote", "manual-quote", False), ("CreateInvoice", "p1-s5", False), ("CreateQuote", "p1-won", True)]


async def test_an_on_demand_invoice_switched_off_is_explained_on_the_deal(rig):
    await rig.publish(rig.request("on_demand", DEMO_DEAL_ID, "manual-invoice"))
    [failure] = await rig.read(topics.DOCUMENT_RESULTS, 1)
    assert (failure["type"], failure["code"], failure["trigger_id"], failure["kind"]) == (
        "DocumentFailed", "trigger_removed", "manual-invoice", "invoice")
    assert failure["message"] == ("Creating drafts from the deal is switched off in the app's settings, so no draft "
                                  "was made.")
    assert "Salespeople may create a draft invoice from a deal" in failure["fix"] and "On demand" in failure["fix"]
    assert "{" not in failure["message"] + failure["fix"]  # no template left unfilled
