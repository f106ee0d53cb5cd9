"""The settings' one save path, its pure parts: what changed between two documents, and problems in plain words."""

import pytest
from pydantic import ValidationError

from pdx_common.company_settings import CompanySettings
from pdx_gateway.settings_changes import Change, SettingsInvalid, diff, plain, problems_of, validated

DEFAULTS = CompanySettings().model_dump(mode="json")


def changed(**sections) -> dict:
    document = {**DEFAULTS}
    for name, value in sections.items():
        document[name] = {**document[name], **value} if isinstance(value, dict) else value
    return document


DIFFS = [
    ("nothing", DEFAULTS, []),
    ("one setting", changed(fields={"due_days": 30}), [Change("fields.due_days", 14, 30)]),
    ("null to text", changed(products={"default_item_code": "SERVICES"}),
     [Change("products.default_item_code", None, "SERVICES")]),
    ("a trigger added", changed(triggers=[{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}]),
     [Change("triggers.0", None, {"pipeline_id": 1, "stage_id": 5, "action": "invoice"})]),
    ("a mapping added, keyed by a percentage with a dot", changed(money={"tax_types": {"12.5": "OUTPUT"}}),
     [Change("money.tax_types[12.5]", None, "OUTPUT")]),
    ("a top-level choice", changed(on_reentry="new_draft"), [Change("on_reentry", "no_second_draft", "new_draft")]),
]


@pytest.mark.parametrize(("new", "expected"), [d[1:] for d in DIFFS], ids=[d[0] for d in DIFFS])
def test_diff_names_each_changed_setting_by_its_dotted_path(new, expected):
    assert diff(DEFAULTS, new) == expected


def test_diff_follows_into_a_list_so_one_field_of_one_trigger_reads_as_that_field():
    before = [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}, {"pipeline_id": 2, "stage_id": 7,
                                                                       "action": "quote"}]
    after = [{"pipeline_id": 1, "stage_id": 5, "action": "quote"}]
    assert diff({"triggers": before}, {"triggers": after}) == [
        Change("triggers.0.action", "invoice", "quote"), Change("triggers.1", before[1], None)]


def test_diff_sees_a_removed_key():
    assert diff({"money": {"tax_types": {"15": "OUTPUT2", "0": "NONE"}}},
                {"money": {"tax_types": {"15": "OUTPUT2"}}}) == [Change("money.tax_types.0", "NONE", None)]


WORDING = [
    ("Input should be greater than or equal to 0", "must be 0 or more"),
    ("Input should be greater than 0", "must be more than 0"),
    ("Input should be less than or equal to 365", "must be 365 or less"),
    ("String should have at most 255 characters", "must be 255 characters or fewer"),
    ("String should have at least 1 character", "must not be empty"),
    ("Input should be a valid integer, unable to parse string as an integer", "must be a whole number"),
    ("Input should be a valid boolean, unable to interpret input", "must be yes or no"),
    ("Input should be 'invoice', 'quote' or 'none'", "must be one of the choices in the list"),
    ("Extra inputs are not permitted", "is not a setting (check its spelling)"),
    ("Tuple should have at most 2 items after validation, not 3", "can have at most 2 entries"),
    ("Value error, stage 5 of pipeline 1 has two triggers", "stage 5 of pipeline 1 has two triggers"),
    ("Value error, products.unmatched is 'default_item' but products.default_item_code is empty",
     "choose the default item: products Xero doesn't know are sold as that item"),
    ("Something pydantic says that we have no rewording for", "Something pydantic says that we have no rewording for"),
]


@pytest.mark.parametrize(("message", "expected"), WORDING, ids=[w[1] for w in WORDING])
def test_pydantic_wording_becomes_plain_words(message, expected):
    assert plain(message) == expected


def test_problems_keep_the_api_wording_and_add_the_plain_one_per_dotted_field():
    with pytest.raises(ValidationError) as caught:
        CompanySettings.model_validate({"fields": {"due_days": -1}, "triggers": [{"pipeline_id": 1}]})
    problems = {p.field: p for p in problems_of(caught.value)}
    assert problems["fields.due_days"].message == "Input should be greater than or equal to 0"
    assert problems["fields.due_days"].plain == "must be 0 or more"
    assert problems["fields.due_days"].as_api() == {"field": "fields.due_days",
                                                    "problem": "Input should be greater than or equal to 0"}
    assert problems["triggers.0.stage_id"].plain == "must be filled in"


def test_a_problem_with_the_whole_document_is_named_settings():
    trigger = {"pipeline_id": 1, "stage_id": 5, "action": "invoice"}
    with pytest.raises(SettingsInvalid) as caught:
        validated({"triggers": [trigger, {**trigger, "action": "quote"}]})
    assert [(p.field, p.plain) for p in caught.value.problems] == [
        ("(settings)", "stage 5 of pipeline 1 has two triggers")]
