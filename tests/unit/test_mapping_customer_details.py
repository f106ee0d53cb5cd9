"""A draft's customer carries what the sync sends too (one mapping, ``domain.records``): the structured address, the
tax number from the chosen field, the organisation's contact person; the command names the deal's pipeline; and a
customer value longer than Xero accepts fails the draft, naming it, instead of being cut or refused by Xero."""

from dataclasses import replace

import pytest

from pdx_common.contracts import COMMAND, DealChanged, PostalAddress
from pdx_mapper.domain.mapping import MappingProblem, build_command
from tests.unit.deals import INVOICE, TODAY, deal, item, org, person, settings, snap

TAX_KEY = "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
ORG_FIELDS = [{"field_name": "GST number", "field_code": TAX_KEY, "field_type": "varchar", "is_custom_field": True}]
QUEEN = {"value": "Unit 3, 12 Queen Street, Auckland 1010, New Zealand", "street_number": "12",
         "route": "Queen Street", "subpremise": "Unit 3", "locality": "Auckland", "admin_area_level_1": "Auckland",
         "postal_code": "1010", "country": "New Zealand"}
NZ_DEAL = deal(1001, "Kiwi Widgets HR consulting", 3300.5, "NZD", pipeline_id=2)
WIDGETS = item("Blue widget", "WIDGET-BLUE", 50, 25)


def kiwi(**extra):
    return {**org(), "address": QUEEN, "custom_fields": {TAX_KEY: "123-456-789"}, **extra}


def command(snapshot, company=None):
    event = DealChanged(company_id="acme", deal_id=str(snapshot.deal["id"]), event_id="evt-1", action="change",
                        data={"stage_id": 5}, previous={"stage_id": 4})
    built = build_command(snapshot, company or settings(customer={"tax_number_field": "GST number"}), INVOICE,
                          event, TODAY)
    assert COMMAND.validate_json(built.model_dump_json()) == built
    return built


def with_org(company_record, who=None):
    return replace(snap(NZ_DEAL, WIDGETS, who=who or person(), company=company_record), org_fields=ORG_FIELDS)


def test_an_organisation_customer_has_its_structured_address_tax_number_and_contact_person():
    contact = command(with_org(kiwi())).contact
    assert contact.postal == PostalAddress(line1="12 Queen Street, Unit 3", city="Auckland", region="Auckland",
                                           postal_code="1010", country="New Zealand")
    assert contact.address == QUEEN["value"]
    assert (contact.tax_number, contact.person_id, contact.email) == ("123-456-789", "201",
                                                                      "aroha@kiwiwidgets.example")


def test_without_a_chosen_field_there_is_no_tax_number_and_without_a_person_no_person_id():
    built = command(snap(NZ_DEAL, WIDGETS, who=None, company=kiwi()), settings())
    assert (built.contact.tax_number, built.contact.person_id, built.contact.email) == (None, None, None)


def test_a_person_customer_has_the_postal_address_and_their_own_tax_number():
    who = person(postal_address={"street_number": "3", "route": "Cuba Street", "locality": "Wellington",
                                 "postal_code": "6011", "country": "New Zealand"},
                 custom_fields={TAX_KEY: 555})
    built = command(snap(NZ_DEAL, WIDGETS, who=who, company=None),
                    settings(customer={"tax_number_field": TAX_KEY}))
    assert built.contact.postal == PostalAddress(line1="3 Cuba Street", city="Wellington", postal_code="6011",
                                                 country="New Zealand")
    assert (built.contact.tax_number, built.contact.person_id) == ("555", None)


def test_the_command_names_the_deal_s_pipeline():
    assert command(with_org(kiwi())).pipeline_id == 2
    assert command(snap(deal(1002, "No pipeline", 10, "NZD", pipeline_id=None), WIDGETS)).pipeline_id is None
    assert "pipeline_id" not in command(snap(deal(1003, "x", 10, "NZD", pipeline_id=None), WIDGETS)).model_dump(
        mode="json")


TOO_LONG = [
    pytest.param(kiwi(custom_fields={TAX_KEY: "1" * 64}), None, "tax number of Kiwi Widgets Ltd", 64, 50,
                 id="tax number"),
    pytest.param(kiwi(address={**QUEEN, "postal_code": "9" * 51}), None, "postal code of Kiwi Widgets Ltd", 51, 50,
                 id="postal code"),
    pytest.param(kiwi(address={**QUEEN, "route": "R" * 600}), None, "street address of Kiwi Widgets Ltd", 611,
                 500, id="street"),
    pytest.param(kiwi(address={**QUEEN, "country": "C" * 60}), None, "country of Kiwi Widgets Ltd", 60, 50,
                 id="country"),
    pytest.param(kiwi(), person(phones=[{"value": "0" * 51, "primary": True}]),
                 "phone number of Kiwi Widgets Ltd's contact person", 51, 50, id="the contact person's phone"),
    pytest.param(kiwi(), person(emails=[{"value": "a" * 250 + "@x.example", "primary": True}]),
                 "email address of Kiwi Widgets Ltd's contact person", 260, 255, id="the contact person's email"),
]


@pytest.mark.parametrize(("company_record", "who", "names", "length", "limit"), TOO_LONG)
def test_a_customer_value_longer_than_xero_accepts_fails_the_draft_naming_it(company_record, who, names, length,
                                                                             limit):
    with pytest.raises(MappingProblem) as raised:
        command(with_org(company_record, who))
    problem = raised.value
    assert problem.code == "customer_value_too_long"
    assert problem.message == f"The {names} is {length} characters long; Xero accepts at most {limit}."
    assert problem.fix == f"Shorten the {names} in Pipedrive to {limit} characters or fewer, then replay the deal."


def test_a_person_s_long_last_name_is_named_as_theirs():
    who = person(last_name="L" * 256, first_name="Aroha")
    with pytest.raises(MappingProblem) as raised:
        command(snap(NZ_DEAL, WIDGETS, who=who, company=None), settings())
    assert raised.value.message == "The last name of Aroha Ngata is 256 characters long; Xero accepts at most 255."


def test_a_long_name_is_still_cut_to_255_not_refused():
    assert command(with_org(kiwi(name="K" * 300))).contact.name == "K" * 255
