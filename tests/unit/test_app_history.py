"""History in words: a change's section and label as the sections show them, names for ids, values cut short."""

from pdx_gateway.adapters.pipedrive_catalog import Pipeline, Product, Stage
from pdx_gateway.adapters.xero_catalog import Account, TaxRate
from pdx_gateway.app_ui.catalog import Source
from pdx_gateway.app_ui.history import Names, _changed, cut, describe, value

NAMES = Names({"pipelines": Source([Pipeline(2, "Renewals")]), "stages": Source([Stage(5, "Won", 1)]),
               "accounts": Source([Account("200", "Sales")]), "products": Source([Product(31, "Setup fee", None)]),
               "tax_rates": Source([TaxRate("OUTPUT2", "15% GST on Income", None)])})


def test_paths_read_as_the_sections_label_them():
    assert describe("fields.due_days", NAMES) == ("Field mappings", "Due after (days)", "fields.due_days")
    assert describe("money.account_by_pipeline.2", NAMES)[:2] == ("Customers, products & money", "Account for Renewals")
    assert describe("money.account_by_product.31", NAMES)[1] == "Account for Setup fee"
    assert describe("money.tax_types[12.5]", NAMES)[1] == "Tax rate for 12.5%"
    assert describe("money.tax_types.15", NAMES)[1] == "Tax rate for 15%"
    assert describe("fields.tracking.1.option", NAMES)[1] == "Tracking category 2 · Option"
    assert describe("on_reentry", NAMES)[:2] == ("Triggers", "When a deal enters the stage again")


def test_values_read_as_names_and_words():
    assert value("account", "200", NAMES) == "200 · Sales"
    assert value("tax", "OUTPUT2", NAMES) == "15% GST on Income"
    assert value("customer.contact_from", "person", NAMES) == "The deal's contact person"
    assert value("text", True, NAMES) == "On" and value("text", None, NAMES) == "(none)"
    assert value("account", "999", NAMES) == "999"  # not in Xero: the code itself


def test_a_trigger_reads_as_its_sentence():
    assert NAMES.trigger({"pipeline_id": 1, "stage_id": 5, "action": "quote"}) == (
        "Deals entering Won in pipeline 1 become a DRAFT quote")
    assert NAMES.trigger({"pipeline_id": 2, "stage_id": 5, "action": "invoice", "enabled": False}).startswith(
        "Switched off")


def test_long_values_are_cut():
    assert cut("x" * 200) == "x" * 119 + "…" and cut("short") == "short"


def test_a_changed_trigger_says_what_changed():
    won = {"pipeline_id": 1, "stage_id": 5, "action": "invoice", "enabled": True}
    assert _changed(won, {**won, "action": "quote"}, NAMES.trigger) == (
        "Changed: Deals entering Won in pipeline 1 now become a DRAFT quote (was: invoice).")
    assert _changed(won, {**won, "enabled": False}, NAMES.trigger) == (
        "Switched off: deals entering Won in pipeline 1 make nothing.")
    assert _changed({**won, "enabled": False}, won, NAMES.trigger).startswith("Switched on: Deals entering Won")
