"""Money Xero cannot take (NaN, Infinity, beyond its precision or magnitude, a negative quantity) is a problem a
person is told about on the deal, never an exception that is retried and never a silent default."""

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdx_common.contracts import DealChanged
from pdx_devstack.fuzz_inputs import quiet_hypothesis
from pdx_mapper.domain.mapping import MappingProblem, build_command
from pdx_mapper.domain.templates import render
from tests.unit.deals import INVOICE, TODAY, D, deal, discount, item, snap
from tests.unit.deals import settings as company_settings

quiet_hypothesis()

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
NZ_DEAL = deal(1001, "Kiwi Widgets HR consulting", 3300.5, "NZD")


def changed(deal_id: int = 1001) -> DealChanged:
    return DealChanged(company_id="acme", deal_id=str(deal_id), event_id="evt-1", action="change",
                       data={"stage_id": 5}, previous={"stage_id": 4})


def widget(**fields: Any) -> dict[str, Any]:
    return {**item("Blue widget", "WIDGET-BLUE", 50, 25), **fields}


def refused(snapshot) -> MappingProblem:
    with pytest.raises(MappingProblem) as raised:
        build_command(snapshot, company_settings(), INVOICE, changed(), TODAY)
    return raised.value


@pytest.mark.parametrize(("snapshot", "code", "names"), [
    pytest.param(snap(NZ_DEAL, widget(quantity=float("nan"))), "not_a_number", "quantity", id="NaN quantity"),
    pytest.param(snap(NZ_DEAL, widget(quantity="Infinity")), "not_a_number", "quantity", id="Infinity quantity"),
    pytest.param(snap(NZ_DEAL, widget(quantity=float("-inf"))), "not_a_number", "quantity", id="-inf quantity"),
    pytest.param(snap(NZ_DEAL, widget(quantity="lots")), "not_a_number", "quantity", id="text quantity"),
    pytest.param(snap(NZ_DEAL, widget(quantity=True)), "not_a_number", "quantity", id="boolean quantity"),
    pytest.param(snap(NZ_DEAL, widget(quantity=-2)), "negative_quantity", "quantity", id="negative quantity"),
    pytest.param(snap(NZ_DEAL, widget(quantity=2.123456)), "quantity_too_precise", "4 decimals",
                 id="quantity finer than 4 dp"),
    pytest.param(snap(NZ_DEAL, widget(quantity=1e13)), "amount_too_large", "quantity", id="huge quantity"),
    pytest.param(snap(NZ_DEAL, widget(item_price=float("nan"))), "not_a_number", "price", id="NaN price"),
    pytest.param(snap(NZ_DEAL, widget(item_price=1e26)), "amount_too_large", "price", id="price of 1e26"),
    pytest.param(snap(NZ_DEAL, widget(quantity=10**6, item_price=10**7)), "amount_too_large", "Blue widget",
                 id="a line over a trillion"),
    pytest.param(snap(NZ_DEAL, widget(quantity=9000, item_price=10**8), widget(quantity=9000, item_price=10**8,
                                                                                product_id=302)),
                 "amount_too_large", "quantities or prices", id="a total over a trillion"),
    pytest.param(snap(NZ_DEAL, widget(discount=1e30)), "bad_discount", "at most 100%", id="discount of 1e30%"),
    pytest.param(snap(NZ_DEAL, widget(discount=1e30, discount_type="amount")), "amount_too_large", "discount",
                 id="discount amount of 1e30"),
    pytest.param(snap(NZ_DEAL, widget(discount="NaN")), "not_a_number", "discount", id="NaN discount"),
    pytest.param(snap(NZ_DEAL, widget(tax=float("inf"))), "not_a_number", "tax rate", id="infinite tax rate"),
    pytest.param(snap(NZ_DEAL, widget(tax=150)), "bad_tax_rate", "between 0 and 100", id="tax rate of 150%"),
    pytest.param(snap(NZ_DEAL, widget(), discounts=(discount("amount", 1e30, "Huge"),)), "amount_too_large",
                 "deal discount", id="deal discount amount of 1e30"),
    pytest.param(snap(NZ_DEAL, widget(), discounts=(discount("percentage", float("nan"), "Odd"),)),
                 "not_a_number", "deal discount", id="NaN deal discount"),
    pytest.param(snap(NZ_DEAL, widget(), discounts=(discount("percentage", 250, "Too much"),)), "bad_discount",
                 "between 0 and 100", id="deal discount of 250%"),
    pytest.param(snap(deal(1001, "Big deal", 1e26, "NZD")), "amount_too_large", "value", id="deal value of 1e26"),
    pytest.param(snap(deal(1001, "Big deal", 1e26, "NZD"), widget()), "amount_too_large", "value",
                 id="deal value of 1e26 with products"),
    pytest.param(snap(deal(1001, "Odd deal", float("nan"), "NZD")), "not_a_number", "value", id="NaN deal value"),
])
def test_money_xero_cannot_take_is_an_explained_problem(snapshot, code: str, names: str) -> None:
    problem = refused(snapshot)
    assert problem.code == code
    assert names in problem.message + problem.fix
    for sentence in (problem.message, problem.fix):
        assert sentence[0].isupper() and sentence.endswith(".") and "None" not in sentence
    assert "replay the deal" in problem.fix


def test_amounts_just_inside_the_limits_are_kept_exactly() -> None:
    command = build_command(snap(NZ_DEAL, widget(quantity="2.1234", item_price="999999999.9999")), company_settings(),
                            INVOICE, changed(), TODAY)
    line = command.line_items[0]
    assert (line.quantity, line.unit_amount) == (D("2.1234"), D("999999999.9999"))


def test_a_zero_quantity_is_a_line_xero_accepts() -> None:
    command = build_command(snap(NZ_DEAL, widget(quantity=0)), company_settings(), INVOICE, changed(), TODAY)
    assert command.line_items[0].quantity == 0


NUMBERS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.decimals(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.sampled_from(["NaN", "-Infinity", "1e999999999", "1e-999999999", "0x10",
                                                           " 12 ", "1_000", "", "١٢"]))


@PROPERTY
@given(quantity=NUMBERS, price=NUMBERS, line_discount=NUMBERS, tax=NUMBERS, deal_value=NUMBERS,
       deal_discount=NUMBERS, discount_type=st.sampled_from(["percentage", "amount"]))
def test_any_number_from_pipedrive_becomes_a_draft_or_a_problem_never_an_exception(
        quantity, price, line_discount, tax, deal_value, deal_discount, discount_type) -> None:
    line = widget(quantity=quantity, item_price=price, discount=line_discount, tax=tax, discount_type=discount_type)
    snapshot = snap(deal(1001, "Fuzzed", deal_value, "NZD"), line,
                    discounts=(discount(discount_type, deal_discount, "Deal discount"),))
    try:
        command = build_command(snapshot, company_settings(), INVOICE, changed(), TODAY)
    except MappingProblem as problem:
        assert problem.message.endswith(".") and problem.fix.endswith(".")
        return
    for drafted in command.line_items:
        assert drafted.quantity.is_finite() and drafted.unit_amount.is_finite() and drafted.quantity >= 0
        assert drafted.quantity == drafted.quantity.quantize(Decimal("0.0001"))
        assert abs(drafted.unit_amount) < Decimal("1e12")


@pytest.mark.parametrize(("value", "shown"), [(1200.0, "1200"), (0.5, "0.5"), (float("nan"), ""),
                                              (float("inf"), ""), (1e26, "1e+26")])
def test_templates_show_numbers_as_pipedrive_holds_them(value: float, shown: str) -> None:
    assert render("{deal.value}", snap({**NZ_DEAL, "value": value})) == shown
