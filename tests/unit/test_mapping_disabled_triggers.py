"""A switched-off trigger (``enabled: false``) behaves exactly like action "none": entering its stage makes nothing,
and a replay of it is explained as a failure a person can act on. Switching it back on keeps its id."""

from datetime import UTC, datetime

import pytest

from pdx_common import topics
from pdx_common.company_settings import CompanySettings, Trigger
from pdx_mapper.domain.triggers import fired_trigger
from pdx_mapper.handlers import handle_deal_changed
from tests.unit.test_mapper_handler import FakePublisher, FakeReader, FakeSettings, event


def company(action: str, enabled: bool) -> CompanySettings:
    return CompanySettings(triggers=(Trigger(pipeline_id=1, stage_id=5, action=action, enabled=enabled),))


@pytest.mark.parametrize(("action", "enabled", "fires"), [
    ("invoice", True, True), ("quote", True, True), ("none", True, False),
    ("invoice", False, False), ("quote", False, False), ("none", False, False),
])
async def test_entering_the_stage_of_a_switched_off_trigger_makes_nothing(action, enabled, fires):
    settings = company(action, enabled)
    assert (fired_trigger(event({"stage_id": 4}), settings) is not None) == fires
    publisher = FakePublisher()
    await handle_deal_changed(event({"stage_id": 4}), settings_repo=FakeSettings(settings), reader=FakeReader(),
                              publisher=publisher, now=datetime.now(UTC))
    assert [topic for topic, _ in publisher.published] == ([topics.XERO_COMMANDS] if fires else [])


@pytest.mark.parametrize(("action", "enabled", "says", "fix_says"), [
    ("invoice", False, "switched off", "open Triggers in the app's settings (Pipedrive: Settings > Apps > Xero "
                                       "drafts), tick Enabled"),
    ("none", True, "no longer set to make one", "add a trigger for the stage"),
    ("none", False, "no longer set to make one", "add a trigger for the stage"),
])
async def test_a_replay_of_a_switched_off_trigger_is_explained(action, enabled, says, fix_says):
    replay = event({"title": "old"}).model_copy(update={"replay_of": "r0", "replay_triggers": ("p1-s5",)})
    publisher = FakePublisher()
    await handle_deal_changed(replay, settings_repo=FakeSettings(company(action, enabled)), reader=FakeReader(),
                              publisher=publisher, now=datetime.now(UTC))
    [(topic, failure)] = publisher.published
    assert topic == topics.DOCUMENT_RESULTS
    assert (failure.code, failure.trigger_id, failure.stage, failure.kind) == ("trigger_removed", "p1-s5", "mapping",
                                                                               None)
    assert says in failure.message and fix_says in failure.fix
    assert "{" not in failure.message + failure.fix and failure.message.endswith(".")


async def test_switching_a_trigger_back_on_keeps_its_id_so_the_ledger_sees_the_same_draft():
    publisher = FakePublisher()
    await handle_deal_changed(event({"stage_id": 4}), settings_repo=FakeSettings(company("invoice", True)),
                              reader=FakeReader(), publisher=publisher, now=datetime.now(UTC))
    [(_, command)] = publisher.published
    assert command.trigger_id == company("invoice", False).triggers[0].id == "p1-s5"
