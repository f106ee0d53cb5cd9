"""The settings issue 10 added, as tables over the pure mapping: where a line's description comes from, which revenue
account a line goes to (product, then pipeline, then the default), the branding theme of invoices and quotes, and the
company's time zone for a date field that holds a time."""

from typing import Any

import pytest

from pdx_mapper.domain.mapping import MappingProblem, build_command
from tests.unit.deals import INVOICE, QUOTE, TODAY, deal, discount, item, settings, snap
from tests.unit.test_mapping import NZ_DEAL, changed

WORKSHOP = dict(name="Brand workshop", code="WS-1", quantity=1, price=1200)
THEME = "dabc7637-62c1-4941-8a6e-ee44fa5090e7"


def workshop(**extra: Any):
    return item(WORKSHOP["name"], WORKSHOP["code"], WORKSHOP["quantity"], WORKSHOP["price"], **extra)


@pytest.mark.parametrize(("source", "comments", "description", "expected"), [
    ("name_and_comments", "2 days on site", "Facilitated workshop", "Brand workshop - 2 days on site"),
    ("name_and_comments", "", "Facilitated workshop", "Brand workshop"),
    ("name_and_comments", "   ", None, "Brand workshop"),
    ("name", "2 days on site", "Facilitated workshop", "Brand workshop"),
    ("product_description", "2 days on site", "Facilitated workshop, materials included",
     "Facilitated workshop, materials included"),
    ("product_description", "2 days on site", None, "Brand workshop"),  # empty source: the name
    ("product_description", "2 days on site", "  ", "Brand workshop"),
    ("comments", "2 days on site", "Facilitated workshop", "2 days on site"),
    ("comments", "", "Facilitated workshop", "Brand workshop"),
    ("comments", None, "Facilitated workshop", "Brand workshop"),
])
def test_a_line_description_comes_from_the_chosen_source(source, comments, description, expected):
    line = workshop(comments=comments, description=description)
    company = settings(products={"description_from": source})
    command = build_command(snap(NZ_DEAL, line), company, INVOICE, changed(snap(NZ_DEAL, line)), TODAY)
    assert [li.description for li in command.line_items] == [expected]


def test_the_default_description_is_todays_name_and_comments():
    line = workshop(comments="Half day")
    command = build_command(snap(NZ_DEAL, line), settings(), INVOICE, changed(snap(NZ_DEAL, line)), TODAY)
    assert command.line_items[0].description == "Brand workshop - Half day"


def test_a_long_product_description_is_cut_to_what_xero_holds():
    line = workshop(description="x" * 5000)
    company = settings(products={"description_from": "product_description"})
    command = build_command(snap(NZ_DEAL, line), company, INVOICE, changed(snap(NZ_DEAL, line)), TODAY)
    assert command.line_items[0].description == "x" * 4000


PIPELINE_1 = NZ_DEAL  # deals.deal() puts a deal in pipeline 1


@pytest.mark.parametrize(("money", "expected"), [
    ({}, ["200", "200"]),
    ({"sales_account_code": "260"}, ["260", "260"]),
    ({"account_by_pipeline": {"1": "210"}}, ["210", "210"]),
    ({"account_by_pipeline": {"2": "210"}}, ["200", "200"]),  # another pipeline's account
    ({"account_by_product": {"301": "220"}}, ["220", "200"]),
    ({"account_by_product": {"301": "220"}, "account_by_pipeline": {"1": "210"}}, ["220", "210"]),
    ({"account_by_product": {"302": "230", "301": "220"}, "account_by_pipeline": {"1": "210"},
      "sales_account_code": "260"}, ["220", "230"]),
])
def test_a_line_account_is_its_products_else_its_pipelines_else_the_default(money, expected):
    lines = (workshop(product_id=301), item("Blue widget", "WIDGET-BLUE", 50, 25, product_id=302))
    command = build_command(snap(PIPELINE_1, *lines), settings(money=money), INVOICE,
                            changed(snap(PIPELINE_1, *lines)), TODAY)
    assert [li.account_code for li in command.line_items] == expected


@pytest.mark.parametrize(("pipeline_id", "expected"), [(1, "210"), ("1", "210"), ({"id": 1}, "210"), (3, "200"),
                                                       (None, "200")])
def test_a_deal_without_products_and_a_deal_discount_use_the_pipelines_account(pipeline_id, expected):
    money = {"account_by_pipeline": {"1": "210"}, "account_by_product": {"301": "220"}}
    valued = deal(1101, "Retainer, June", 900, "NZD", pipeline_id=pipeline_id)
    command = build_command(snap(valued), settings(money=money), INVOICE, changed(snap(valued)), TODAY)
    assert [li.account_code for li in command.line_items] == [expected]

    discounted = snap(deal(1102, "Workshop", 1200, "NZD", pipeline_id=pipeline_id), workshop(product_id=301),
                      discounts=(discount("amount", 100, "Loyalty"),))
    command = build_command(discounted, settings(money=money), INVOICE, changed(discounted), TODAY)
    assert [li.account_code for li in command.line_items] == ["220", expected]  # the product's, then the deal's


def test_an_item_created_in_xero_gets_its_products_account():
    money = {"account_by_product": {"301": "220"}, "account_by_pipeline": {"1": "210"}}
    line = workshop(product_id=301)
    company = settings(money=money, products={"unmatched": "create_item"})
    command = build_command(snap(NZ_DEAL, line), company, INVOICE, changed(snap(NZ_DEAL, line)), TODAY)
    assert command.line_items[0].create_item.account_code == "220"


@pytest.mark.parametrize("trigger", [INVOICE, QUOTE], ids=["invoice", "quote"])
@pytest.mark.parametrize(("theme", "expected"), [(THEME, THEME), (None, None), ("", None)])
def test_the_branding_theme_goes_on_invoices_and_quotes(trigger, theme, expected):
    company = settings(fields={"branding_theme_id": theme})
    command = build_command(snap(NZ_DEAL, workshop()), company, trigger, changed(snap(NZ_DEAL, workshop())), TODAY)
    assert command.type == ("CreateInvoice" if trigger is INVOICE else "CreateQuote")
    assert command.branding_theme_id == expected


@pytest.mark.parametrize(("zone", "value", "expected"), [
    ("Pacific/Auckland", "2025-06-29T22:14:03Z", "2025-06-30"),  # 10:14 on the 30th in Auckland
    ("UTC", "2025-06-29T22:14:03Z", "2025-06-29"),
    ("America/New_York", "2025-06-30T02:00:00Z", "2025-06-29"),  # 22:00 on the 29th in New York
    ("Pacific/Auckland", "2025-06-29 22:14:03", "2025-06-30"),  # an older field's time, also UTC
    ("Pacific/Auckland", "2025-06-29T22:14:03+02:00", "2025-06-30"),
    ("Pacific/Auckland", "2025-06-29", "2025-06-29"),  # a date is a date in every zone
    ("Pacific/Auckland", "2025-06-29Tlate", "2025-06-29"),
])
def test_a_date_field_holding_a_time_is_dated_on_the_companys_clock(zone, value, expected):
    won = deal(1103, "Won on a Monday", 1200, "NZD", won_time=value)
    company = settings(timezone=zone, fields={"date_field": "won_time"})
    command = build_command(snap(won), company, INVOICE, changed(snap(won)), TODAY)
    assert command.date.isoformat() == expected


@pytest.mark.parametrize("value", ["soon", "29/06/2025", "2025-13-40T00:00:00Z"])
def test_a_date_field_holding_no_date_is_a_problem(value):
    won = deal(1104, "Odd date", 1200, "NZD", won_time=value)
    with pytest.raises(MappingProblem) as raised:
        build_command(snap(won), settings(fields={"date_field": "won_time"}), INVOICE, changed(snap(won)), TODAY)
    assert raised.value.code == "bad_date_field"
    assert "choose another Document date in the app's settings (Pipedrive: Settings > Apps > Xero drafts) under " \
           "Field mappings" in raised.value.fix
