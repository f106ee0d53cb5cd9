"""Numbers back on the deal never loop into a trigger: our own API move of a paid deal into the pipeline's paid
stage fires nothing, even where the settings' rule (a paid stage is never a trigger stage) was bypassed; a person's
move into that stage, or an API move into another stage, fires as ever."""

from datetime import UTC, datetime

import pytest

from pdx_common.company_settings import CompanySettings, DealFields, PaidStage, Trigger, WonTrigger
from pdx_common.contracts import DealChanged
from pdx_mapper.domain.triggers import fired_trigger, fired_triggers, moved_when_paid
from pdx_mapper.handlers import handle_deal_changed
from tests.unit.test_mapper_handler import FakePublisher, FakeReader, FakeSettings

PAID = DealFields(paid_stages=(PaidStage(pipeline_id=1, stage_id=6), PaidStage(pipeline_id=2, stage_id=9)))
# Built without validation: a paid stage that is also a trigger stage (the settings refuse it; the mapper must too).
BYPASSED = CompanySettings.model_construct(**{
    **CompanySettings().__dict__, "deal_fields": PAID,
    "triggers": (Trigger(pipeline_id=1, stage_id=6, action="invoice"),
                 Trigger(pipeline_id=1, stage_id=5, action="quote"),
                 Trigger(pipeline_id=2, stage_id=6, action="quote")),
    "won_triggers": (WonTrigger(pipeline_id=1, action="invoice"),)})


def moved(stage_id: int, source: str | None, *, pipeline_id: int = 1, won: bool = False) -> DealChanged:
    data = {"id": 9, "stage_id": stage_id, "pipeline_id": pipeline_id, "status": "won" if won else "open",
            "title": "Kiwi rollout", "value": 100, "currency": "NZD", "org_id": 1}
    previous = {"stage_id": 4, **({"status": "open"} if won else {})}
    return DealChanged(company_id="7", deal_id="9", event_id="e1", action="change", data=data, previous=previous,
                       change_source=source)


@pytest.mark.parametrize(("what", "event", "fired"), [
    ("our move into the paid stage", moved(6, "api"), []),
    ("our move into the paid stage that also marks it won", moved(6, "api", won=True), []),
    ("a person's move into the paid stage", moved(6, "app"), ["p1-s6"]),
    ("an API move into another trigger stage", moved(5, "api"), ["p1-s5"]),
    ("an API move into the same stage number of a pipeline paid elsewhere", moved(6, "api", pipeline_id=2),
     ["p2-s6"]),
])
def test_our_own_move_into_the_paid_stage_fires_nothing(what, event, fired):
    assert [trigger_id for _, trigger_id in fired_triggers(event, BYPASSED)] == fired, what


def test_the_guard_needs_a_paid_stage_for_the_pipeline():
    assert moved_when_paid(moved(6, "api"), BYPASSED)
    assert not moved_when_paid(moved(6, "api", pipeline_id=3), BYPASSED)
    assert not moved_when_paid(moved(6, "api"), CompanySettings())
    assert fired_trigger(moved(6, "api"), BYPASSED) is None


async def test_the_mapper_publishes_nothing_for_our_move():
    repo, publisher = FakeSettings(BYPASSED), FakePublisher()
    await handle_deal_changed(moved(6, "api"), settings_repo=repo, reader=FakeReader(), publisher=publisher,
                              now=datetime(2026, 11, 30, tzinfo=UTC))
    assert publisher.published == []
