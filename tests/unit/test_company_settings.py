"""The settings model issue 10 extended: switched-off triggers, description source, accounts per pipeline and per
product, branding theme; plain errors that name the setting; stored documents of older versions still read."""

import pytest
from pydantic import ValidationError

from pdx_common.company_settings import CompanySettings, Trigger, stored_settings

THEME = "dabc7637-62c1-4941-8a6e-ee44fa5090e7"


def test_the_defaults_are_todays_behaviour():
    settings = CompanySettings()
    assert settings.products.description_from == "name_and_comments"
    assert settings.money.account_by_pipeline == {} and settings.money.account_by_product == {}
    assert settings.fields.branding_theme_id is None
    assert Trigger(pipeline_id=1, stage_id=5, action="invoice").enabled is True


@pytest.mark.parametrize(("action", "enabled", "makes"), [
    ("invoice", True, "invoice"), ("quote", True, "quote"), ("none", True, "none"),
    ("invoice", False, "none"), ("quote", False, "none"), ("none", False, "none"),
])
def test_a_switched_off_trigger_makes_nothing_and_keeps_its_id(action, enabled, makes):
    trigger = Trigger(pipeline_id=1, stage_id=5, action=action, enabled=enabled)
    assert (trigger.makes, trigger.id) == (makes, "p1-s5")


def test_a_switched_off_trigger_still_holds_its_stage():
    with pytest.raises(ValidationError, match="two triggers"):
        CompanySettings.model_validate({"triggers": [
            {"pipeline_id": 1, "stage_id": 5, "action": "invoice", "enabled": False},
            {"pipeline_id": 1, "stage_id": 5, "action": "quote"}]})


def error(data: dict) -> tuple[str, str]:
    """(field, message) of the one error: the field as the settings app names its inputs ("money.x")."""
    with pytest.raises(ValidationError) as raised:
        CompanySettings.model_validate(data)
    [only] = raised.value.errors()
    return ".".join(str(part) for part in only["loc"]), only["msg"]


@pytest.mark.parametrize(("data", "field", "says"), [
    ({"money": {"account_by_pipeline": {"x": "200"}}}, "money.account_by_pipeline",
     "money.account_by_pipeline has 'x', which is not a pipeline id"),
    ({"money": {"account_by_pipeline": {"0": "200"}}}, "money.account_by_pipeline", "not a pipeline id"),
    ({"money": {"account_by_pipeline": {"-3": "200"}}}, "money.account_by_pipeline", "not a pipeline id"),
    ({"money": {"account_by_pipeline": {"03": "200"}}}, "money.account_by_pipeline", "not a pipeline id"),
    ({"money": {"account_by_pipeline": {" 3": "200"}}}, "money.account_by_pipeline", "not a pipeline id"),
    ({"money": {"account_by_product": {"1.5": "200"}}}, "money.account_by_product",
     "money.account_by_product has '1.5', which is not a product id"),
    ({"money": {"account_by_product": {"7": ""}}}, "money.account_by_product",
     "money.account_by_product['7'] is '': name a Xero account code of 1 to 10 characters"),
    ({"money": {"account_by_product": {"7": "12345678901"}}}, "money.account_by_product", "1 to 10 characters"),
    ({"money": {"account_by_pipeline": {"7": " 200"}}}, "money.account_by_pipeline", "1 to 10 characters"),
    ({"money": {"account_by_pipeline": {"7": 200}}}, "money.account_by_pipeline.7", "valid string"),
    ({"products": {"description_from": "sku"}}, "products.description_from", "name_and_comments"),
    ({"fields": {"branding_theme_id": "Standard; drop"}}, "fields.branding_theme_id",
     "fields.branding_theme_id 'Standard; drop' is not a Xero branding theme id"),
    ({"fields": {"branding_theme_id": "a" * 65}}, "fields.branding_theme_id", "not a Xero branding theme id"),
    ({"fields": {"branding_theme_id": "abc"}}, "fields.branding_theme_id", "not a Xero branding theme id"),
    ({"fields": {"branding_theme_id": THEME + "0"}}, "fields.branding_theme_id", "not a Xero branding theme id"),
    ({"fields": {"branding_theme_id": f" {THEME}"}}, "fields.branding_theme_id", "not a Xero branding theme id"),
    ({"triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice", "enabled": "maybe"}]},
     "triggers.0.enabled", "boolean"),
])
def test_a_bad_value_is_refused_in_words_that_name_the_setting(data, field, says):
    where, message = error(data)
    assert where == field and says in message


@pytest.mark.parametrize(("data", "read"), [
    ({"money": {"account_by_pipeline": {"3": "210", "12": "TRAIN-REV"}, "account_by_product": {"9001": "220"}}},
     lambda s: (s.money.account_by_pipeline, s.money.account_by_product)
     == ({"3": "210", "12": "TRAIN-REV"}, {"9001": "220"})),
    ({"fields": {"branding_theme_id": THEME}}, lambda s: s.fields.branding_theme_id == THEME),
    ({"fields": {"branding_theme_id": THEME.upper()}}, lambda s: s.fields.branding_theme_id == THEME.upper()),
    ({"fields": {"branding_theme_id": THEME.replace("-", "")}},
     lambda s: s.fields.branding_theme_id == THEME.replace("-", "")),
    ({"fields": {"branding_theme_id": ""}}, lambda s: s.fields.branding_theme_id is None),
    ({"fields": {"branding_theme_id": None}}, lambda s: s.fields.branding_theme_id is None),
    ({"products": {"description_from": "product_description"}},
     lambda s: s.products.description_from == "product_description"),
])
def test_good_values_are_kept(data, read):
    assert read(CompanySettings.model_validate(data))


def test_a_stored_document_from_before_these_settings_still_reads():
    old = {"version": 4, "timezone": "Pacific/Auckland",
           "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}],
           "products": {"unmatched": "default_item", "default_item_code": "MISC"},
           "money": {"sales_account_code": "260"}, "fields": {"reference": "{deal.title}"}}
    settings = stored_settings(old)
    assert settings.triggers[0].enabled and settings.triggers[0].makes == "invoice"
    assert settings.products.description_from == "name_and_comments" and settings.fields.branding_theme_id is None
    assert settings.money.account_by_pipeline == {} and settings.money.sales_account_code == "260"


def test_a_stored_document_drops_settings_it_no_longer_knows_inside_triggers_too():
    stored = {"triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "quote", "enabled": False, "retired": 1}],
              "money": {"account_by_product": {"9": "220"}, "retired": True}}
    settings = stored_settings(stored)
    assert settings.triggers == (Trigger(pipeline_id=1, stage_id=5, action="quote", enabled=False),)
    assert settings.money.account_by_product == {"9": "220"}
    with pytest.raises(ValidationError):  # the API stays strict
        CompanySettings.model_validate(stored)


def test_settings_round_trip_through_json():
    settings = CompanySettings.model_validate({
        "triggers": [{"pipeline_id": 2, "stage_id": 7, "action": "quote", "enabled": False}],
        "products": {"description_from": "comments"}, "money": {"account_by_pipeline": {"2": "210"}},
        "fields": {"branding_theme_id": THEME}})
    assert CompanySettings.model_validate_json(settings.model_dump_json()) == settings
    assert stored_settings(settings.model_dump(mode="json")) == settings
