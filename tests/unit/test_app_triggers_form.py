"""The triggers form read into settings: blank rows left out, ticked rows removed, a stage naming its pipeline, a
stage of another pipeline and the same stage twice pointed out beside the stage."""

from datetime import UTC, datetime

from multidict import MultiDict

from pdx_gateway.adapters.pipedrive_catalog import Stage
from pdx_gateway.app_ui.catalog import Source
from pdx_gateway.app_ui.triggers import _duplicates, _Names, _posted_triggers, timezone_options

STAGES = Source([Stage(5, "Won", 1), Stage(7, "Quote requested", 2)])


def row(index: int, pipeline: str, stage: str, action: str = "invoice", enabled: bool = True,
        remove: bool = False) -> list[tuple[str, str]]:
    fields = [(f"triggers.{index}.pipeline_id", pipeline), (f"triggers.{index}.stage_id", stage),
              (f"triggers.{index}.action", action), (f"triggers.{index}.enabled", "false")]
    fields += [(f"triggers.{index}.enabled", "true")] if enabled else []
    fields += [(f"triggers.{index}.remove", "false")] + ([(f"triggers.{index}.remove", "true")] if remove else [])
    return fields


def test_rows_in_order_without_the_blank_new_row_or_a_removed_one():
    form = MultiDict(row(0, "1", "5") + row(1, "2", "7", "quote", enabled=False) + row(2, "1", "5", remove=True)
                     + row(3, "", ""))
    triggers, errors = _posted_triggers(form, STAGES)
    assert triggers == [{"pipeline_id": "1", "stage_id": "5", "action": "invoice", "enabled": True},
                        {"pipeline_id": "2", "stage_id": "7", "action": "quote", "enabled": False}]
    assert errors == {}


def test_a_stage_alone_names_its_pipeline():
    triggers, errors = _posted_triggers(MultiDict(row(0, "", "7")), STAGES)
    assert triggers[0]["pipeline_id"] == "2" and errors == {}


def test_a_stage_of_another_pipeline_or_a_pipeline_without_a_stage_is_pointed_out():
    _, errors = _posted_triggers(MultiDict(row(0, "1", "7") + row(1, "2", "")), STAGES)
    assert errors["triggers.0.stage_id"].startswith("Quote requested is not a stage of the pipeline chosen")
    assert errors["triggers.1.stage_id"] == "Choose the stage that makes the draft."


def test_without_pipedrive_a_stage_needs_its_pipeline_typed():
    _, errors = _posted_triggers(MultiDict(row(0, "", "7")), Source(None, "Reconnect Pipedrive"))
    assert errors == {"triggers.0.pipeline_id": "Choose the pipeline this stage belongs to."}


def test_the_same_stage_twice_is_said_beside_the_second():
    errors = _duplicates([{"stage_id": "5"}, {"stage_id": "7"}, {"stage_id": "5"}])
    assert list(errors) == ["triggers.2.stage_id"]


def test_time_zones_are_common_cities_by_offset_and_a_stored_other_zone_stays():
    november = datetime(2026, 11, 30, tzinfo=UTC)
    options = timezone_options("Pacific/Auckland", november)
    labels = dict(options)
    assert labels["Pacific/Auckland"] == "(UTC+13:00) Auckland" and labels["Asia/Kolkata"] == "(UTC+05:30) Kolkata"
    assert labels["America/New_York"] == "(UTC-05:00) New York"
    assert "Africa/Asmera" not in labels and not any(name.startswith("Etc/") for name in labels)
    offsets = [label.split(")")[0] for _, label in options]
    assert offsets.index("(UTC-05:00") < offsets.index("(UTC+00:00") < offsets.index("(UTC+13:00")
    assert dict(timezone_options("Africa/Asmera", november))["Africa/Asmera"] == "(UTC+03:00) Asmera"


def test_a_sentence_without_a_stage_names_no_stage():
    names = _Names(Source([]), STAGES)
    sentence = names.sentence({"pipeline_id": "1", "stage_id": None, "action": "invoice"}, None)
    assert sentence["stage"] is None and sentence["pipeline"] == "pipeline 1"  # the page: "No stage chosen yet"
