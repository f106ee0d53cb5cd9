import pytest

from pdx_common.company_settings import CompanySettings, Trigger
from pdx_common.contracts import DealChanged
from pdx_mapper.domain.triggers import fired_trigger

SETTINGS = CompanySettings(triggers=(Trigger(pipeline_id=1, stage_id=5, action="invoice"),
                                     Trigger(pipeline_id=2, stage_id=7, action="quote"),
                                     Trigger(pipeline_id=1, stage_id=3, action="none")))


def event(action: str, data: dict | None, previous: dict | None = None) -> DealChanged:
    return DealChanged(company_id="1", deal_id="9", event_id="e", action=action, data=data, previous=previous)


@pytest.mark.parametrize(("action", "data", "previous", "expected"), [
    ("change", {"stage_id": 5, "pipeline_id": 1}, {"stage_id": 4}, "p1-s5"),
    ("change", {"stage_id": "7", "pipeline_id": "2"}, {"stage_id": "6"}, "p2-s7"),
    ("create", {"stage_id": 5, "pipeline_id": 1}, None, "p1-s5"),  # created directly in the stage
    ("change", {"stage_id": 5, "pipeline_id": 1}, {"title": "old"}, None),  # edited while in the stage
    ("change", {"stage_id": 5, "pipeline_id": 1}, {"stage_id": 5}, None),
    ("change", {"stage_id": 4, "pipeline_id": 1}, {"stage_id": 5}, None),  # left the stage
    ("change", {"stage_id": 5, "pipeline_id": 2}, {"stage_id": 4}, None),  # same stage id, other pipeline
    ("change", {"stage_id": 3, "pipeline_id": 1}, {"stage_id": 2}, None),  # a "none" trigger
    ("delete", None, None, None),
])
def test_a_trigger_fires_only_when_the_deal_enters_its_stage(action, data, previous, expected):
    trigger = fired_trigger(event(action, data, previous), SETTINGS)
    assert (trigger.id if trigger else None) == expected
