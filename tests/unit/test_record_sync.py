"""The master-data sync's pure mapping, as tables: a Pipedrive organisation, person or product as read (v2 shapes)
and the company's settings, and the Xero contact or item the writer is asked to make it look like."""

from decimal import Decimal
from typing import Any

import pytest

from pdx_common.company_settings import CompanySettings
from pdx_common.contracts import SYNC_RECORDS, PostalAddress, SyncRecords
from pdx_mapper.domain.records import contact_sync, item_sync, postal_address, too_long

TAX_KEY = "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
ORG_FIELDS = [{"field_name": "Name", "field_code": "name", "field_type": "varchar", "is_custom_field": False},
              {"field_name": "GST number", "field_code": TAX_KEY, "field_type": "varchar", "is_custom_field": True}]
QUEEN_STREET = {"value": "12 Queen Street, Auckland 1010, New Zealand", "street_number": "12",
                "route": "Queen Street", "subpremise": None, "sublocality": None, "locality": "Auckland",
                "admin_area_level_1": "Auckland", "admin_area_level_2": None, "postal_code": "1010",
                "country": "New Zealand", "formatted_address": "12 Queen Street, Auckland 1010, New Zealand"}


def settings(**parts: Any) -> CompanySettings:
    return CompanySettings.model_validate({"money": {"tax_types": {"15": "OUTPUT2", "0": "NONE"}}, **parts})


def org(**extra: Any) -> dict[str, Any]:
    return {"id": 101, "name": "Kiwi Widgets Ltd", "address": QUEEN_STREET, "is_deleted": False,
            "custom_fields": {}, **extra}


def person(**extra: Any) -> dict[str, Any]:
    return {"id": 201, "name": "Aroha Ngata", "first_name": "Aroha", "last_name": "Ngata", "org_id": 101,
            "emails": [{"value": "aroha@kiwi.example", "primary": False, "label": "home"},
                       {"value": "accounts@kiwi.example", "primary": True, "label": "work"}],
            "phones": [{"value": "+64 9 555 0101", "primary": True, "label": "work"}],
            "postal_address": {"value": "4 Ponsonby Road, Auckland 1011", "street_number": "4",
                               "route": "Ponsonby Road", "locality": "Auckland", "postal_code": "1011",
                               "country": "New Zealand"},
            "custom_fields": {}, **extra}


def product(**extra: Any) -> dict[str, Any]:
    return {"id": 302, "name": "Widget", "code": "WIDGET-01", "description": "A blue widget, 40 mm", "unit": "pcs",
            "tax": 15, "is_deleted": False,
            "prices": [{"product_id": 302, "currency": "NZD", "price": 25, "cost": 0},
                       {"product_id": 302, "currency": "usd", "price": 15.5, "cost": 0}], **extra}


# --- addresses ----------------------------------------------------------------------------------------------------
ADDRESSES = [
    pytest.param(QUEEN_STREET, PostalAddress(line1="12 Queen Street", city="Auckland", region="Auckland",
                                             postal_code="1010", country="New Zealand"), id="components"),
    pytest.param({"value": "Apt 1, 123 Main St, Sunnyvale", "street_number": "123", "route": "Main St",
                  "subpremise": "Apt 1", "sublocality": "Downtown", "locality": "Sunnyvale",
                  "admin_area_level_1": "CA", "postal_code": "94085", "country": "USA"},
                 PostalAddress(line1="123 Main St, Apt 1", line2="Downtown", city="Sunnyvale", region="CA",
                               postal_code="94085", country="USA"), id="a suite and a neighbourhood"),
    pytest.param({"value": "PO Box 99, Wellington", "street_number": None, "route": None, "locality": None},
                 PostalAddress(line1="PO Box 99, Wellington"), id="typed without components: the text as line 1"),
    pytest.param("Level 2, 1 Willis Street", PostalAddress(line1="Level 2, 1 Willis Street"), id="a plain string"),
    pytest.param({"value": "Auckland, New Zealand", "locality": "Auckland", "country": "New Zealand"},
                 PostalAddress(city="Auckland", country="New Zealand"), id="a city without a street"),
    pytest.param({"value": None, "street_number": 7, "route": "Torstrasse", "postal_code": 10119},
                 PostalAddress(line1="7 Torstrasse", postal_code="10119"), id="numbers as text"),
    pytest.param(None, None, id="no address"),
    pytest.param({"value": "", "route": "  "}, None, id="an empty address"),
]


@pytest.mark.parametrize(("address", "expected"), ADDRESSES)
def test_an_address_becomes_a_structured_postal_address(address, expected):
    assert postal_address(address) == expected


# --- contacts -----------------------------------------------------------------------------------------------------
def test_an_organisation_syncs_its_name_and_address_only():
    sync = contact_sync("organization", org(), None, settings())
    assert sync.fields == ("Name", "Addresses") and sync.create is False
    contact = sync.contact
    assert (contact.name, contact.contact_number, contact.source, contact.source_id) == (
        "Kiwi Widgets Ltd", "pd-org-101", "organization", "101")
    assert contact.postal == PostalAddress(line1="12 Queen Street", city="Auckland", region="Auckland",
                                           postal_code="1010", country="New Zealand")
    assert contact.address == QUEEN_STREET["value"]  # the one line, for writers of the previous release
    assert (contact.email, contact.phone, contact.person_id, contact.tax_number) == (None, None, None, None)


@pytest.mark.parametrize("chosen", ["GST number", "gst NUMBER", TAX_KEY])
def test_the_tax_number_comes_from_the_chosen_field_by_name_or_key(chosen):
    record = org(custom_fields={TAX_KEY: " 123-456-789 "})
    sync = contact_sync("organization", record, ORG_FIELDS, settings(customer={"tax_number_field": chosen}))
    assert sync.contact.tax_number == "123-456-789"
    assert sync.fields == ("Name", "Addresses", "TaxNumber")


def test_a_chosen_tax_number_field_left_empty_clears_the_tax_number_in_xero():
    sync = contact_sync("organization", org(custom_fields={TAX_KEY: None}), ORG_FIELDS,
                        settings(customer={"tax_number_field": "GST number"}))
    assert sync.contact.tax_number is None and "TaxNumber" in sync.fields


def test_a_person_syncs_every_contact_field_with_the_primary_email_and_phone():
    sync = contact_sync("person", person(), None, settings(sync={"create_on_add": True}))
    assert sync.fields == ("Name", "FirstName", "LastName", "EmailAddress", "Phones", "Addresses")
    assert sync.create is True
    assert sync.contact.model_dump(include={"name", "contact_number", "source", "first_name", "last_name", "email",
                                            "phone"}) == {
        "name": "Aroha Ngata", "contact_number": "pd-person-201", "source": "person", "first_name": "Aroha",
        "last_name": "Ngata", "email": "accounts@kiwi.example", "phone": "+64 9 555 0101"}
    assert sync.contact.postal == PostalAddress(line1="4 Ponsonby Road", city="Auckland", postal_code="1011",
                                                country="New Zealand")


def test_a_person_without_first_and_last_name_is_split_from_the_full_name():
    sync = contact_sync("person", person(name="James O'Brien", first_name=None, last_name=None, emails=[],
                                         phones=[], postal_address=None), None, settings())
    contact = sync.contact
    assert (contact.first_name, contact.last_name, contact.email, contact.phone, contact.postal) == (
        "James", "O'Brien", None, None, None)


def test_a_record_without_a_name_cannot_be_a_contact():
    assert contact_sync("organization", org(name="  "), None, settings()) is None


def test_a_name_longer_than_xero_s_is_cut_and_a_long_value_is_found():
    long_name = "N" * 300
    sync = contact_sync("organization", org(name=long_name, address={"postal_code": "9" * 60}), None, settings())
    assert sync.contact.name == "N" * 255
    assert [(t.words, t.length, t.limit) for t in too_long(sync.contact)] == [("postal code", 60, 50)]


# --- items --------------------------------------------------------------------------------------------------------
def test_a_product_becomes_its_item_with_every_price_tax_type_and_account():
    company = settings(money={"tax_types": {"15": "OUTPUT2"}, "account_by_product": {"302": "210"}},
                       sync={"create_on_add": True})
    sync = item_sync(product(), company)
    assert sync.item.model_dump() == {"code": "WIDGET-01", "name": "Widget", "description": "A blue widget, 40 mm",
                                      "unit_price": None, "account_code": "210", "tax_type": "OUTPUT2"}
    assert sync.prices == {"NZD": Decimal("25"), "USD": Decimal("15.5")}
    assert (sync.product_id, sync.create) == ("302", True)


def test_an_unmapped_tax_rate_and_an_unknown_product_use_the_defaults():
    sync = item_sync(product(id=399, tax=8.875, prices=[{"currency": "NZD", "price": None}]), settings())
    assert (sync.item.tax_type, sync.item.account_code, sync.prices) == (None, "200", {})


def test_a_product_without_a_code_cannot_be_an_item():
    assert item_sync(product(code=None), settings()) is None
    assert item_sync(product(code="   "), settings()) is None


def test_item_code_name_and_description_are_cut_to_xero_s_limits():
    sync = item_sync(product(code="C" * 40, name="W" * 80, description="d" * 5000), settings())
    assert (len(sync.item.code), len(sync.item.name), len(sync.item.description)) == (30, 50, 4000)


def test_fifty_contacts_and_fifty_items_fit_one_command_and_round_trip():
    company = settings()
    command = SyncRecords(company_id="7001",
                          contacts=tuple(contact_sync("organization", org(id=n), None, company) for n in range(50)),
                          items=tuple(item_sync(product(id=n, code=f"P-{n}"), company) for n in range(50)))
    assert SYNC_RECORDS.validate_json(command.model_dump_json()) == command
