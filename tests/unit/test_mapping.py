"""The pure mapping, as a table: a deal read from Pipedrive, the company's settings and the trigger that fired, and
either the draft we expect Xero to get or the problem a salesperson is told about.

Re-entry into a stage (``on_reentry``) is the ledger's business, not the mapper's, so it has no rows here."""

import re
from datetime import date
from typing import Any, NamedTuple

import pytest

from pdx_common.contracts import COMMAND, DealChanged
from pdx_mapper.domain.mapping import MappingProblem, build_command
from pdx_mapper.domain.templates import custom_field, render
from tests.unit.deals import (
    AROHA,
    BUDGET_KEY,
    DEAL_FIELDS,
    DUE_KEY,
    INVOICE,
    KIWI,
    PO_KEY,
    QUOTE,
    REGION_KEY,
    TODAY,
    D,
    deal,
    discount,
    item,
    org,
    person,
    settings,
    snap,
)

# A settings path such as "money.tax_types" or "on_reentry": what an admin never sees in the app.
SETTING_PATH = re.compile(r"\b(?:money|fields|products|customer|triggers)\.[a-z_]|\bon_reentry\b|app settings")
LINE = dict(item_code=None, account_code="200", discount_rate=None, discount_amount=None, tax_rate=None,
            tax_type=None, unmatched="description_only", default_item_code=None, create_item=None)
KIWI_CONTACT = dict(name="Kiwi Widgets Ltd", contact_number="pd-org-101", source="organization", source_id="101",
                    email="aroha@kiwiwidgets.example", phone="+64 21 555 0101",
                    address="12 Queen Street, Auckland 1010, New Zealand")
CONSULT = item("HR consulting (hours)", "CONSULT-HR", 10, 180, discount=10)
WIDGETS = item("Blue widget", "WIDGET-BLUE", 50, 25, product_id=302)
CONSULT_LINE = dict(description="HR consulting (hours)", quantity=10, unit_amount=180, item_code="CONSULT-HR",
                    discount_rate=10, tax_rate=15, tax_type="OUTPUT2")
WIDGET_LINE = dict(description="Blue widget", quantity=50, unit_amount=25, item_code="WIDGET-BLUE", tax_rate=15,
                   tax_type="OUTPUT2")
NZ_DEAL = deal(1001, "Kiwi Widgets HR consulting", 3300.5, "NZD")


class Refused(NamedTuple):
    code: str
    fix_says: str  # words the fix must contain, so it names what to change


def case(case_id: str, snapshot, company, trigger, expected) -> Any:
    return pytest.param(snapshot, company, trigger, expected, id=case_id)


def invoice(*lines: dict, **fields: Any) -> dict[str, Any]:
    return {"type": "CreateInvoice", "currency_code": "NZD", "line_amount_types": "Exclusive",
            "due_date": date(2025, 7, 14), "contact": KIWI_CONTACT, "lines": list(lines), **fields}


def quote(*lines: dict, **fields: Any) -> dict[str, Any]:
    return {"type": "CreateQuote", "currency_code": "NZD", "line_amount_types": "Exclusive",
            "expiry_date": date(2025, 7, 30), "contact": KIWI_CONTACT, "lines": list(lines), **fields}


CURRENCIES_AND_TAX = [
    case("an NZD deal with two exclusive GST products becomes an invoice due in 14 days",
         snap(NZ_DEAL, CONSULT, WIDGETS), settings(), INVOICE,
         invoice(CONSULT_LINE, WIDGET_LINE, reference="Kiwi Widgets HR consulting", deal_value=D("3300.5"))),
    case("a USD deal with a lower-case currency keeps an unmapped sales tax rate for the writer",
         snap(deal(1002, "Espresso grinders for Brooklyn", 2999.98, "usd"),
              item("Espresso grinder", "ESP-G1", 2, 1499.99, tax=8.875)),
         settings(), INVOICE,
         invoice(dict(description="Espresso grinder", quantity=2, unit_amount=D("1499.99"), item_code="ESP-G1",
                      tax_rate=D("8.875"), tax_type=None), currency_code="USD")),
    case("a EUR deal with inclusive VAT maps 19 percent to the configured tax type",
         snap(deal(1003, "Planungssoftware Jahreslizenz", 2975, "EUR"),
              item("Jahreslizenz Planungssoftware", "LIC-Y", 1, 2380, tax=19, tax_method="inclusive"),
              item("Onboarding-Workshop", "WS-1", 1, 595, tax=19, tax_method="inclusive", product_id=303)),
         settings(money={"tax_types": {"19": "OUTPUT"}}), INVOICE,
         invoice(dict(description="Jahreslizenz Planungssoftware", quantity=1, unit_amount=2380, item_code="LIC-Y",
                      tax_rate=19, tax_type="OUTPUT"),
                 dict(description="Onboarding-Workshop", quantity=1, unit_amount=595, item_code="WS-1", tax_rate=19,
                      tax_type="OUTPUT"),
                 currency_code="EUR", line_amount_types="Inclusive")),
    case("a GBP deal with inclusive VAT matches the tax key '20.0' to a rate of 20",
         snap(deal(1004, "Brand refresh for Hackney Bakers", 4800, "GBP"),
              item("Brand workshop day", "BRAND-DAY", 4, 1200, tax=20, tax_method="inclusive")),
         settings(money={"tax_types": {"20.0": "OUTPUT2"}}), INVOICE,
         invoice(dict(description="Brand workshop day", quantity=4, unit_amount=1200, item_code="BRAND-DAY",
                      tax_rate=20, tax_type="OUTPUT2"), currency_code="GBP", line_amount_types="Inclusive")),
    case("a GST rate of 15.0 read from Pipedrive matches the tax key '15'",
         snap(NZ_DEAL, item("Blue widget", "WIDGET-BLUE", 50, 25, tax=15.0)), settings(), INVOICE,
         invoice(WIDGET_LINE)),
    case("a zero-rated NZD export line maps the tax key '0'",
         snap(NZ_DEAL, item("Export widget", "WIDGET-EXP", 100, 19.5, tax=0)), settings(), INVOICE,
         invoice(dict(description="Export widget", quantity=100, unit_amount=D("19.5"), item_code="WIDGET-EXP",
                      tax_rate=0, tax_type="NONE"))),
    case("an AUD deal with no tax sends NoTax lines without a tax rate",
         snap(deal(1005, "Sydney fit-out design", 8800, "AUD"),
              item("Fit-out design package", "FITOUT", 1, 8800, tax=10, tax_method="none")),
         settings(), INVOICE,
         invoice(dict(description="Fit-out design package", quantity=1, unit_amount=8800, item_code="FITOUT"),
                 currency_code="AUD", line_amount_types="NoTax")),
    case("a JPY deal rounds its percentage deal discount to whole yen",
         snap(deal(1006, "Tatami for the Kyoto ryokan", 38826, "JPY"),
              item("Tatami mat", "TAT-6", 3, 12345, tax=10), discounts=(discount("percentage", 5, "Spring 5%"),)),
         settings(money={"tax_types": {"10": "OUTPUT"}}), INVOICE,
         invoice(dict(description="Tatami mat", quantity=3, unit_amount=12345, item_code="TAT-6", tax_rate=10,
                      tax_type="OUTPUT"),
                 dict(description="Spring 5%", quantity=1, unit_amount=-1852, tax_rate=10, tax_type="OUTPUT"),
                 currency_code="JPY")),
    case("a JPY deal without products becomes one whole-yen line from its value",
         snap(deal(1007, "Osaka showroom rental", 150000, "JPY")), settings(), INVOICE,
         invoice(dict(description="Osaka showroom rental", quantity=1, unit_amount=150000), currency_code="JPY")),
    case("products that mix inclusive and exclusive tax are refused",
         snap(NZ_DEAL, CONSULT, item("Blue widget", "WIDGET-BLUE", 50, 25, tax_method="inclusive")), settings(),
         INVOICE, Refused("mixed_tax_methods", "same tax method")),
    case("a deal without a currency is refused",
         snap(deal(1008, "Mystery deal", 100, None), WIDGETS), settings(), INVOICE, Refused("no_currency", "currency")),
]

DISCOUNTS_AND_AMOUNTS = [
    case("a percentage line discount of 12.5 becomes the line's discount rate",
         snap(NZ_DEAL, item("Blue widget", "WIDGET-BLUE", 50, 25, discount=12.5)), settings(), INVOICE,
         invoice({**WIDGET_LINE, "discount_rate": D("12.5")})),
    case("an amount line discount is rounded to cents as the line's discount amount",
         snap(NZ_DEAL, item("Blue widget", "WIDGET-BLUE", 50, 25, discount=33.333, discount_type="amount")),
         settings(), INVOICE, invoice({**WIDGET_LINE, "discount_amount": D("33.33")})),
    case("a line discount of 120 percent is refused",
         snap(NZ_DEAL, item("Blue widget", "WIDGET-BLUE", 50, 25, discount=120)), settings(), INVOICE,
         Refused("bad_discount", "at most 100%")),
    case("a deal-level amount discount becomes a negative line taxed like the first product",
         snap(NZ_DEAL, CONSULT, WIDGETS, discounts=(discount("amount", 250, "Loyalty discount"),)), settings(),
         INVOICE, invoice(CONSULT_LINE, WIDGET_LINE, dict(description="Loyalty discount", quantity=1, unit_amount=-250,
                                                          tax_rate=15, tax_type="OUTPUT2"))),
    case("a deal-level percentage discount applies to the lines after their own discounts",
         snap(NZ_DEAL, CONSULT, WIDGETS,
              item("Site visit", "VISIT", 2, 99.99, discount=20, discount_type="amount", product_id=304),
              discounts=(discount("percentage", 10, "10%"),)),
         settings(), INVOICE,
         invoice(CONSULT_LINE, WIDGET_LINE,
                 dict(description="Site visit", quantity=2, unit_amount=D("99.99"), item_code="VISIT",
                      discount_amount=20, tax_rate=15, tax_type="OUTPUT2"),
                 dict(description="10%", quantity=1, unit_amount=D("-305.00"), tax_rate=15, tax_type="OUTPUT2"))),
    case("disabled deal products are left off the invoice",
         snap(NZ_DEAL, item("Old widget", "WIDGET-OLD", 5, 20, enabled=False, product_id=305), WIDGETS), settings(),
         INVOICE, invoice(WIDGET_LINE)),
    case("quantities keep their decimals, like 2.5 hours",
         snap(NZ_DEAL, item("Payroll advice (hours)", "ADVICE-HR", 2.5, 145.50)), settings(), INVOICE,
         invoice(dict(description="Payroll advice (hours)", quantity=D("2.5"), unit_amount=D("145.5"),
                      item_code="ADVICE-HR", tax_rate=15, tax_type="OUTPUT2"))),
    case("unit prices keep four decimals and longer ones are rounded to four",
         snap(NZ_DEAL, item("SMS credits", "SMS", 1000, 0.1234), item("API calls", "API", 3, 0.333333, product_id=306)),
         settings(), INVOICE,
         invoice(dict(description="SMS credits", quantity=1000, unit_amount=D("0.1234"), item_code="SMS", tax_rate=15,
                      tax_type="OUTPUT2"),
                 dict(description="API calls", quantity=3, unit_amount=D("0.3333"), item_code="API", tax_rate=15,
                      tax_type="OUTPUT2"))),
]

PRODUCT_RULES = [
    case("with the description-only rule a product without a code becomes a described line",
         snap(NZ_DEAL, WIDGETS, item("Custom engraving", None, 50, 4, comments="Logo on the lid", product_id=307)),
         settings(), INVOICE,
         invoice(WIDGET_LINE, dict(description="Custom engraving - Logo on the lid", quantity=50, unit_amount=4,
                                   tax_rate=15, tax_type="OUTPUT2"))),
    case("with the default-item rule every line names the default item for unknown codes",
         snap(NZ_DEAL, WIDGETS, item("Custom engraving", "", 50, 4, product_id=307)),
         settings(products={"unmatched": "default_item", "default_item_code": "MISC"}), INVOICE,
         invoice({**WIDGET_LINE, "unmatched": "default_item", "default_item_code": "MISC"},
                 dict(description="Custom engraving", quantity=50, unit_amount=4, tax_rate=15, tax_type="OUTPUT2",
                      unmatched="default_item", default_item_code="MISC"))),
    case("with the create-item rule a coded product carries the item to create",
         snap(NZ_DEAL, item("Blue widget", "WIDGET-BLUE", 50, 25, description="A blue widget, 40 mm")),
         settings(products={"unmatched": "create_item"}), INVOICE,
         invoice({**WIDGET_LINE, "unmatched": "create_item",
                  "create_item": dict(code="WIDGET-BLUE", name="Blue widget", description="A blue widget, 40 mm",
                                      unit_price=25, account_code="200", tax_type="OUTPUT2")})),
    case("with the create-item rule a product without a code is refused",
         snap(NZ_DEAL, WIDGETS, item("Custom engraving", None, 50, 4, product_id=307)),
         settings(products={"unmatched": "create_item"}), INVOICE, Refused("product_without_code", "product code")),
    case("a deal without products becomes one line from its title and value",
         snap(deal(1009, "Annual retainer 2025", 4999.95, "NZD")), settings(money={"default_tax_type": "OUTPUT2"}),
         INVOICE, invoice(dict(description="Annual retainer 2025", quantity=1, unit_amount=D("4999.95"),
                               tax_type="OUTPUT2"), reference="Annual retainer 2025")),
    case("a deal without products is refused when the company wants products",
         snap(deal(1009, "Annual retainer 2025", 4999.95, "NZD")), settings(products={"no_products": "refuse"}),
         INVOICE, Refused("no_products", "Add the products")),
    case("a deal without products and without a value is refused",
         snap(deal(1010, "Handshake deal", None, "NZD")), settings(), INVOICE,
         Refused("no_products_no_value", "products or a value")),
]

CUSTOMERS = [
    case("the organisation is the customer and the person's primary email and phone are its contact details",
         snap(NZ_DEAL, WIDGETS, who=person(
             emails=[{"value": "old@kiwiwidgets.example", "primary": False, "label": "home"},
                     {"value": "accounts@kiwiwidgets.example", "primary": True, "label": "work"}],
             phones=[{"value": "09 555 0000", "primary": False, "label": "work"},
                     {"value": "+64 9 555 0199", "primary": True, "label": "work"}])),
         settings(), INVOICE,
         invoice(WIDGET_LINE, contact={**KIWI_CONTACT, "email": "accounts@kiwiwidgets.example",
                                       "phone": "+64 9 555 0199"})),
    case("with the person rule the person is the customer even when the deal has an organisation",
         snap(NZ_DEAL, WIDGETS), settings(customer={"contact_from": "person"}), INVOICE,
         invoice(WIDGET_LINE, contact=dict(name="Aroha Ngata", contact_number="pd-person-201", source="person",
                                           source_id="201", first_name="Aroha", last_name="Ngata",
                                           email="aroha@kiwiwidgets.example",
                                           address="4 Ponsonby Road, Auckland 1011"))),
    case("a person without an organisation is the customer, named from their full name",
         snap(NZ_DEAL, WIDGETS, who=person(202, "James O'Brien", org_id=None, emails=[], phones=[]), company=None),
         settings(), INVOICE,
         invoice(WIDGET_LINE, contact=dict(name="James O'Brien", contact_number="pd-person-202", source="person",
                                           first_name="James", last_name="O'Brien", email=None, phone=None,
                                           address=None))),
    case("an organisation without any person has no email or phone",
         snap(NZ_DEAL, WIDGETS, who=None, company=org(102, "Tūī Timber Co")), settings(), INVOICE,
         invoice(WIDGET_LINE, contact=dict(name="Tūī Timber Co", contact_number="pd-org-102", email=None, phone=None,
                                           address=None))),
    case("a deal with neither organisation nor person is refused",
         snap(NZ_DEAL, WIDGETS, who=None, company=None), settings(), INVOICE,
         Refused("no_customer", "Link an organisation or a person")),
    case("with the person rule a deal with only an organisation is refused",
         snap(NZ_DEAL, WIDGETS, who=None), settings(customer={"contact_from": "person"}), INVOICE,
         Refused("no_customer", "Customers, products & money and set Xero contact to The deal's organisation")),
    case("an organisation without a name is refused",
         snap(NZ_DEAL, WIDGETS, company=org(103, "  ")), settings(), INVOICE,
         Refused("customer_without_name", "a name")),
]

CUSTOM_FIELDS = [
    case("the reference reads a PO number by its field name from v2 deal fields",
         snap({**NZ_DEAL, "custom_fields": {PO_KEY: "PO-4471"}}, WIDGETS),
         settings(fields={"reference": "PO {deal.custom.PO number}"}), INVOICE,
         invoice(WIDGET_LINE, reference="PO PO-4471")),
    case("the reference reads a custom field by its 40-character key",
         snap({**NZ_DEAL, "custom_fields": {PO_KEY: "PO-4471"}}, WIDGETS, fields=[]),
         settings(fields={"reference": f"{{deal.custom.{PO_KEY}}}"}), INVOICE,
         invoice(WIDGET_LINE, reference="PO-4471")),
    case("a single-option custom field renders its option label",
         snap({**NZ_DEAL, "custom_fields": {REGION_KEY: 12}}, WIDGETS),
         settings(fields={"reference": "{deal.title} ({deal.custom.Region})"}), INVOICE,
         invoice(WIDGET_LINE, reference="Kiwi Widgets HR consulting (North Island)")),
    case("a money custom field renders its amount",
         snap({**NZ_DEAL, "custom_fields": {BUDGET_KEY: {"value": 5000, "currency": "NZD"}}}, WIDGETS),
         settings(fields={"reference": "Budget {deal.custom.Budget}"}), INVOICE,
         invoice(WIDGET_LINE, reference="Budget 5000")),
    case("unknown placeholders in the reference render empty",
         snap(NZ_DEAL, WIDGETS),
         settings(fields={"reference": "{deal.no_such_field}{deal.custom.No such field} {invoice.number}{deal.title}"}),
         INVOICE, invoice(WIDGET_LINE, reference="Kiwi Widgets HR consulting")),
    case("a reference of only unknown placeholders is left out",
         snap(NZ_DEAL, WIDGETS), settings(fields={"reference": "{deal.custom.PO number}"}), INVOICE,
         invoice(WIDGET_LINE, reference=None)),
    case("due days come from a numeric custom field",
         snap({**NZ_DEAL, "custom_fields": {DUE_KEY: 20}}, WIDGETS),
         settings(fields={"due_days_field": "Payment terms (days)"}), INVOICE,
         invoice(WIDGET_LINE, due_date=date(2025, 7, 20))),
    case("due days of 30.0 count as 30 days",
         snap({**NZ_DEAL, "custom_fields": {DUE_KEY: 30.0}}, WIDGETS),
         settings(fields={"due_days_field": "payment terms (days)"}), INVOICE,
         invoice(WIDGET_LINE, due_date=date(2025, 7, 30))),
    case("an empty due-days field falls back to the company's due days",
         snap({**NZ_DEAL, "custom_fields": {DUE_KEY: None}}, WIDGETS),
         settings(fields={"due_days_field": "Payment terms (days)", "due_days": 7}), INVOICE,
         invoice(WIDGET_LINE, due_date=date(2025, 7, 7))),
    case("a due-days field holding words is refused",
         snap({**NZ_DEAL, "custom_fields": {DUE_KEY: "two weeks"}}, WIDGETS),
         settings(fields={"due_days_field": "Payment terms (days)"}), INVOICE,
         Refused("bad_due_days", "whole number of days")),
    case("a fractional due-days field is refused",
         snap({**NZ_DEAL, "custom_fields": {DUE_KEY: 10.5}}, WIDGETS),
         settings(fields={"due_days_field": "Payment terms (days)"}), INVOICE,
         Refused("bad_due_days", "whole number of days")),
]

LONG_TITLE = "Supply and installation of acoustic ceiling panels, LED lighting and AV equipment for the Level 3 " \
             "boardroom at 1 Willis Street"
QUOTES = [
    case("a quote renders its title, summary and terms templates and expires in 30 days",
         snap(NZ_DEAL, CONSULT, WIDGETS), settings(fields={
             "quote_title": "Quote: {deal.title} for {org.name}",
             "quote_summary": "Prepared for {person.name} <{person.email}> at {org.address}",
             "quote_terms": "Prices in {deal.currency}, valid for 30 days."}), QUOTE,
         quote(CONSULT_LINE, WIDGET_LINE, reference="Kiwi Widgets HR consulting",
               title="Quote: Kiwi Widgets HR consulting for Kiwi Widgets Ltd",
               summary="Prepared for Aroha Ngata <aroha@kiwiwidgets.example> at 12 Queen Street, Auckland 1010, "
                       "New Zealand",
               terms="Prices in NZD, valid for 30 days.")),
    case("a quote title longer than 100 characters is cut to 100 and the quote expires after the set days",
         snap(deal(1011, LONG_TITLE, 18500, "NZD"), item("Boardroom fit-out", "FITOUT-BR", 1, 18500)),
         settings(fields={"quote_expiry_days": 45}), QUOTE,
         quote(dict(description="Boardroom fit-out", quantity=1, unit_amount=18500, item_code="FITOUT-BR",
                    tax_rate=15, tax_type="OUTPUT2"),
               title=LONG_TITLE[:100], reference=LONG_TITLE, expiry_date=date(2025, 8, 14))),
    case("a quote without summary or terms leaves them out",
         snap(NZ_DEAL, WIDGETS, who=AROHA, company=KIWI), settings(), QUOTE,
         quote(WIDGET_LINE, title="Kiwi Widgets HR consulting", summary=None, terms=None)),
    case("a quote from a lower-case eur deal without products is one line from its value",
         snap(deal(1012, "Messestand Planung", 12000, "eur")), settings(), QUOTE,
         quote(dict(description="Messestand Planung", quantity=1, unit_amount=12000), currency_code="EUR")),
]

CASES = CURRENCIES_AND_TAX + DISCOUNTS_AND_AMOUNTS + PRODUCT_RULES + CUSTOMERS + CUSTOM_FIELDS + QUOTES


def changed(snapshot) -> DealChanged:
    return DealChanged(company_id="acme", deal_id=str(snapshot.deal["id"]), event_id="evt-1", action="change",
                       host="evil.example", data={"stage_id": 5}, previous={"stage_id": 4})  # never trusted


def check_command(command, snapshot, company, trigger, expected: dict[str, Any]) -> None:
    expected = dict(expected)
    assert command.type == expected.pop("type")
    assert (command.company_id, command.deal_id, command.trigger_id, command.date) == (
        "acme", str(snapshot.deal["id"]), trigger.id, TODAY)
    assert command.deal_url == f"https://acme.pipedrive.com/deal/{snapshot.deal['id']}"
    assert command.settings_version == company.version
    contact = expected.pop("contact")
    assert command.contact.model_dump(include=set(contact)) == contact
    lines = [line.model_dump(include={"description", "quantity", "unit_amount", *LINE}) for line in command.line_items]
    assert lines == [{**LINE, **line} for line in expected.pop("lines")]
    for name, value in expected.items():
        assert getattr(command, name) == value, name
    assert COMMAND.validate_json(command.model_dump_json()) == command


@pytest.mark.parametrize(("snapshot", "company", "trigger", "expected"), CASES)
def test_a_deal_becomes_a_draft_or_a_problem_a_person_can_fix(snapshot, company, trigger, expected):
    if isinstance(expected, Refused):
        with pytest.raises(MappingProblem) as raised:
            build_command(snapshot, company, trigger, changed(snapshot), TODAY)
        problem = raised.value
        assert problem.code == expected.code
        for sentence in (problem.message, problem.fix):
            assert sentence[0].isupper() and sentence.endswith(".") and "{" not in sentence and "None" not in sentence
            assert not SETTING_PATH.search(sentence), sentence  # the admin sees labels, never the settings' paths
        assert expected.fix_says in problem.fix
        return
    check_command(build_command(snapshot, company, trigger, changed(snapshot), TODAY), snapshot, company, trigger,
                  expected)


def test_the_table_has_at_least_30_deals():
    assert len(CASES) >= 30


def test_the_deal_fields_fixture_has_the_v2_shape():
    assert all({"field_name", "field_code", "field_type"} <= set(f) for f in DEAL_FIELDS)


# --- templates.render ---------------------------------------------------------------------------------------------
def test_render_fills_deal_org_and_person_placeholders():
    snapshot = snap({**NZ_DEAL, "value": 1200.0}, who=person(phones=[{"value": "021 1", "primary": False},
                                                                     {"value": "021 2", "primary": False}]))
    assert render("{deal.title} #{deal.id}: {deal.value} {deal.currency} for {org.name}, {person.name} "
                  "({person.email}, {person.phone})", snapshot) == (
        "Kiwi Widgets HR consulting #1001: 1200 NZD for Kiwi Widgets Ltd, Aroha Ngata "
        "(aroha@kiwiwidgets.example, 021 1)")


def test_render_leaves_unknown_placeholders_empty_and_other_text_alone():
    snapshot = snap(NZ_DEAL, who=None, company=None)
    assert render("{org.name}{person.email}{xero.total}{deal.nope} {not a placeholder} {deal.title}", snapshot) == (
        "{not a placeholder} Kiwi Widgets HR consulting")
    assert render(None, snapshot) is None
    assert render("  {deal.nope}  ", snapshot) == ""


def test_render_reads_custom_fields_by_v1_name_and_key_and_in_webhook_shape():
    v1_fields = [{"key": PO_KEY, "name": "PO number", "field_type": "varchar"}]
    snapshot = snap({**NZ_DEAL, "custom_fields": {PO_KEY: {"type": "varchar", "value": "PO-9"}}}, fields=v1_fields)
    assert render("{deal.custom.po number}/{deal.custom." + PO_KEY + "}", snapshot) == "PO-9/PO-9"
    assert custom_field(snapshot, "PO number") == "PO-9"


def test_render_shows_option_labels_of_single_and_multiple_option_fields():
    options = [{"id": 1, "label": "Web"}, {"id": 2, "label": "Print"}, {"id": 3, "label": "Radio"}]
    fields = [{"field_name": "Channels", "field_code": "ch", "field_type": "set", "options": options},
              {"field_name": "Main channel", "field_code": "main", "field_type": "enum", "options": options}]
    for channels in ([1, 3], "1,3", [{"id": 1, "label": "Web"}, {"id": 3, "label": "Radio"}]):
        snapshot = snap({**NZ_DEAL, "custom_fields": {"ch": channels, "main": {"id": 2, "label": "Print"}}},
                        fields=fields)
        assert render("{deal.custom.Channels}; {deal.custom.Main channel}", snapshot) == "Web, Radio; Print"
