"""The gateway answers "duplicate" only for an event that is durably published: a claim becomes final after the
publish, a claim whose owner died is taken over, and the deal's stage event is kept by Pipedrive's timestamps."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pdx_common.contracts import DealChanged
from pdx_gateway.adapters.deal_events import MongoDealEvents
from pdx_gateway.adapters.mongo import MongoSeenEvents
from pdx_gateway.domain.webhook import PipedriveWebhook
from pdx_gateway.errors import Unavailable
from pdx_gateway.handlers import accept_deal_webhook


class RecordingPublisher:
    def __init__(self, fail_first: int = 0) -> None:
        self.published: list[DealChanged] = []
        self.fail_first = fail_first
        self.gate: asyncio.Event | None = None

    async def publish(self, message, topic: str, key: bytes) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("the broker does not answer")
        self.published.append(message)


def hook(event_id: str, *, action: str = "change", stage: int = 5, previous: int | None = 4,
         timestamp: str = "2026-11-27T10:00:00Z") -> PipedriveWebhook:
    return PipedriveWebhook.model_validate({
        "meta": {"id": event_id, "action": action, "entity": "deal", "entity_id": "42", "company_id": "7001",
                 "version": "2.0", "timestamp": timestamp},
        "data": {"id": 42, "stage_id": stage, "pipeline_id": 1},
        "previous": None if previous is None else {"stage_id": previous}})


@pytest.fixture
def seen(mongo_db) -> MongoSeenEvents:
    return MongoSeenEvents(mongo_db, lease_seconds=30)


@pytest.fixture
def stage_events(mongo_db) -> MongoDealEvents:
    return MongoDealEvents(mongo_db)


async def test_a_claim_whose_owner_died_before_publishing_is_taken_over(mongo_db, seen, stage_events):
    event_id = uuid.uuid4().hex
    # What a gateway killed (-9) between its claim and its publish leaves behind.
    await mongo_db.webhook_events.insert_one({"_id": f"7001:{event_id}", "deal_id": "42", "state": "publishing",
                                              "owner": "dead", "lease_until": datetime.now(UTC) - timedelta(seconds=1),
                                              "at": datetime.now(UTC)})
    publisher = RecordingPublisher()
    assert await accept_deal_webhook(hook(event_id), publisher, seen, stage_events) == "accepted"
    assert await accept_deal_webhook(hook(event_id), publisher, seen, stage_events) == "duplicate"
    assert [m.event_id for m in publisher.published] == [event_id]


async def test_a_failed_publish_is_published_by_the_next_delivery(seen, stage_events):
    event_id = uuid.uuid4().hex
    publisher = RecordingPublisher(fail_first=1)
    with pytest.raises(ConnectionError):
        await accept_deal_webhook(hook(event_id), publisher, seen, stage_events)
    assert await accept_deal_webhook(hook(event_id), publisher, seen, stage_events) == "accepted"
    assert [m.event_id for m in publisher.published] == [event_id]


async def test_a_retry_during_the_first_publish_waits_for_its_outcome_not_a_guess(mongo_db, seen, stage_events):
    event_id = uuid.uuid4().hex
    publisher = RecordingPublisher()
    publisher.gate = asyncio.Event()
    first = asyncio.create_task(accept_deal_webhook(hook(event_id), publisher, seen, stage_events))
    await _claimed(mongo_db, event_id)
    spy = BusySpy(seen)
    retry = asyncio.create_task(accept_deal_webhook(hook(event_id), publisher, spy, stage_events, busy_wait=60))
    await spy.saw_busy.wait()  # the retry found the claim held and is waiting for its outcome
    assert not retry.done()
    publisher.gate.set()
    assert await first == "accepted" and await retry == "duplicate"
    assert len(publisher.published) == 1


async def test_a_retry_while_another_delivery_publishes_too_long_is_asked_to_come_back(mongo_db, seen,
                                                                                      stage_events):
    event_id = uuid.uuid4().hex
    publisher = RecordingPublisher()
    publisher.gate = asyncio.Event()
    first = asyncio.create_task(accept_deal_webhook(hook(event_id), publisher, seen, stage_events))
    await _claimed(mongo_db, event_id)
    with pytest.raises(Unavailable):  # 503: Pipedrive tries again later; never "duplicate" before it is published
        await accept_deal_webhook(hook(event_id), publisher, seen, stage_events, busy_wait=0)
    publisher.gate.set()
    assert await first == "accepted"


async def test_an_older_stage_event_arriving_late_never_replaces_a_newer_one(stage_events):
    newer = hook(uuid.uuid4().hex, timestamp="2026-11-27T10:05:00Z")
    older = hook(uuid.uuid4().hex, action="create", stage=4, previous=None, timestamp="2026-11-27T10:00:00Z")
    publisher = RecordingPublisher()
    seen = _NoClaims()
    await accept_deal_webhook(newer, publisher, seen, stage_events)
    await accept_deal_webhook(older, publisher, seen, stage_events)
    assert (await stage_events.last_stage_event("7001", "42")).event_id == newer.meta.id
    newest = hook(uuid.uuid4().hex, stage=6, previous=5, timestamp="2026-11-27T10:09:00Z")
    await accept_deal_webhook(newest, publisher, seen, stage_events)
    assert (await stage_events.last_stage_event("7001", "42")).event_id == newest.meta.id


async def test_a_replay_re_runs_the_failed_trigger_whatever_arrived_last(mongo_db, stage_events):
    from pdx_gateway.errors import NothingToReplay
    from pdx_gateway.handlers import replay_deal

    publisher = RecordingPublisher()
    with pytest.raises(NothingToReplay):
        await replay_deal("7001", "42", publisher, stage_events)
    await mongo_db.deal_status.insert_one({"_id": "7001:42:p1-s5", "company_id": "7001", "deal_id": "42",
                                           "trigger_id": "p1-s5", "state": "failed", "at": datetime.now(UTC)})
    await accept_deal_webhook(hook(uuid.uuid4().hex, action="create", stage=4, previous=None), publisher,
                              _NoClaims(), stage_events)
    replay = await replay_deal("7001", "42", publisher, stage_events)
    assert replay.replay_triggers == ("p1-s5",) and publisher.published[-1] is replay


async def _claimed(mongo_db, event_id: str) -> None:
    """Until the first delivery holds the claim (it is then waiting on the publisher's gate)."""
    while await mongo_db.webhook_events.find_one({"_id": f"7001:{event_id}", "state": "publishing"}) is None:
        await asyncio.sleep(0.01)


class BusySpy:
    """The real claims, noting when a delivery found the claim held by another."""

    def __init__(self, seen: MongoSeenEvents) -> None:
        self._seen, self.saw_busy = seen, asyncio.Event()

    async def claim(self, company_id: str, event_id: str, deal_id: str, owner: str) -> str:
        claim = await self._seen.claim(company_id, event_id, deal_id, owner)
        if claim == "busy":
            self.saw_busy.set()
        return claim

    async def published(self, company_id: str, event_id: str, owner: str) -> None:
        await self._seen.published(company_id, event_id, owner)

    async def release(self, company_id: str, event_id: str, owner: str) -> None:
        await self._seen.release(company_id, event_id, owner)


class _NoClaims:
    async def claim(self, company_id: str, event_id: str, deal_id: str, owner: str) -> str:
        return "claimed"

    async def published(self, company_id: str, event_id: str, owner: str) -> None:
        return None

    async def release(self, company_id: str, event_id: str, owner: str) -> None:
        return None
