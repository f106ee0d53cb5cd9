"""Stable demo data: pipelines, stages, organisations, persons, products, custom fields and deals.

Ids are fixed so tests and the local run can name them. Amounts are chosen so every rounding path shows up:
percentage and amount discounts, exclusive/inclusive/no tax, a disabled line, deal-level discounts.
"""

import hashlib
from typing import TYPE_CHECKING, Any

from pdx_sandbox.pipedrive.store import iso

if TYPE_CHECKING:
    from pdx_sandbox.pipedrive.state import PipedriveState

USER_ID = 12001  # the company's admin, who installed the app (its OAuth tokens are this user's)
REGULAR_USER_ID = 12002  # a regular user: not an admin
INACTIVE_USER_ID = 12003  # a deactivated user (active_flag false)
SALES_PIPELINE_ID, RENEWALS_PIPELINE_ID = 1, 2
STAGE_LEAD_IN, STAGE_CONTACT_MADE, STAGE_PROPOSAL_MADE, STAGE_NEGOTIATIONS, STAGE_WON = 1, 2, 3, 4, 5
STAGE_RENEWAL_DUE, STAGE_QUOTE_REQUESTED, STAGE_RENEWED = 6, 7, 8

ORG_KIWI, ORG_ACME, ORG_BRIGHTSIDE, ORG_THAMES = 101, 102, 103, 104
PERSON_AROHA, PERSON_JOHN, PERSON_LENA, PERSON_OLIVER, PERSON_MIA = 201, 202, 203, 204, 205
PRODUCT_CONSULT_HR, PRODUCT_WIDGET, PRODUCT_SUPPORT_YR = 301, 302, 303
PRODUCT_NO_CODE, PRODUCT_EMPTY_CODE, PRODUCT_TRAINING = 304, 305, 306

PO_NUMBER_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:po_number").hexdigest()
DUE_DAYS_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:invoice_due_days").hexdigest()
REGION_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:region").hexdigest()  # enum: North Island (31), South Island (32)
INVOICE_DATE_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:invoice_date").hexdigest()  # date
QUOTE_TERMS_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:quote_terms").hexdigest()  # text
PERSON_CUSTOMER_NUMBER_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:person:customer_number").hexdigest()  # varchar
ORG_TAX_NUMBER_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:org:tax_number").hexdigest()  # varchar
ORG_ACCOUNT_MANAGER_FIELD_KEY = hashlib.sha1(b"pdx-sandbox:org:account_manager").hexdigest()  # enum
REGION_NORTH, REGION_SOUTH = 31, 32

# id, name, email, admin, active
USERS = [
    (USER_ID, "Sandbox Admin", "admin@demo.example", True, True),
    (REGULAR_USER_ID, "Sam Seller", "sam@demo.example", False, True),
    (INACTIVE_USER_ID, "Former Employee", "former@demo.example", False, False),
]

DEMO_DEAL_ID = 1  # Sales, NZD, org + person, 2 coded products, stage 4 (Negotiations Started), ready for Won
DEAL_USD_ID = 2  # USD, amount discount, tax none, deal-level 5 % discount
DEAL_EUR_ID = 3  # EUR, tax inclusive, a product without code, a disabled line
DEAL_GBP_RENEWAL_ID = 4  # Renewals pipeline, GBP, deal-level amount discount
DEAL_NO_PRODUCTS_ID = 5  # value only
DEAL_NO_CONTACT_ID = 6  # no person, no organisation
DEAL_PERSON_ONLY_ID = 7  # a person without an organisation
DEAL_ALREADY_WON_ID = 8  # already in Won, status won

PIPELINES = [(SALES_PIPELINE_ID, "Sales"), (RENEWALS_PIPELINE_ID, "Renewals")]
STAGES = [
    (1, SALES_PIPELINE_ID, "Lead In", 10), (2, SALES_PIPELINE_ID, "Contact Made", 25),
    (3, SALES_PIPELINE_ID, "Proposal Made", 50), (4, SALES_PIPELINE_ID, "Negotiations Started", 75),
    (5, SALES_PIPELINE_ID, "Won", 100), (6, RENEWALS_PIPELINE_ID, "Renewal due", 50),
    (7, RENEWALS_PIPELINE_ID, "Quote requested", 75), (8, RENEWALS_PIPELINE_ID, "Renewed", 100),
]


def _address(street_number: str, route: str, locality: str, postal_code: str, area: str, country: str) -> dict:
    value = f"{street_number} {route}, {locality} {postal_code}, {country}"
    return {"value": value, "country": country, "admin_area_level_1": area, "admin_area_level_2": None,
            "locality": locality, "sublocality": None, "route": route, "street_number": street_number,
            "subpremise": None, "postal_code": postal_code, "formatted_address": value}


ORGANIZATIONS = [
    (ORG_KIWI, "Kiwi Widgets Ltd", _address("12", "Queen Street", "Auckland", "1010", "Auckland", "New Zealand")),
    (ORG_ACME, "Acme Corporation", _address("500", "Market Street", "San Francisco", "94105", "CA", "USA")),
    (ORG_BRIGHTSIDE, "Brightside GmbH", _address("7", "Torstrasse", "Berlin", "10119", "Berlin", "Germany")),
    (ORG_THAMES, "Thames Consulting Ltd", _address("1", "Bankside", "London", "SE1 9JA", "England", "UK")),
]

PERSONS = [
    (PERSON_AROHA, "Aroha", "Ngata", ORG_KIWI, ["aroha@kiwiwidgets.example", "accounts@kiwiwidgets.example"],
     "+64 9 555 0101", None),
    (PERSON_JOHN, "John", "Smith", ORG_ACME, ["john.smith@acme.example"], "+1 415 555 0102", None),
    (PERSON_LENA, "Lena", "Fischer", ORG_BRIGHTSIDE, ["lena@brightside.example"], "+49 30 5550103", None),
    (PERSON_OLIVER, "Oliver", "Brown", ORG_THAMES, ["oliver.brown@thames.example"], "+44 20 5550 0104", None),
    (PERSON_MIA, "Mia", "Chen", None, ["mia.chen@example.com"], "+64 21 555 0105",
     _address("3", "Cuba Street", "Wellington", "6011", "Wellington", "New Zealand")),
]

# id, name, code, unit, tax %, prices {currency: price}
PRODUCTS = [
    (PRODUCT_CONSULT_HR, "HR consulting (hour)", "CONSULT-HR", "hour", 15,
     {"NZD": 180, "USD": 110, "EUR": 100, "GBP": 90}),
    (PRODUCT_WIDGET, "Widget", "WIDGET-01", "pcs", 15, {"NZD": 25, "USD": 15, "EUR": 14, "GBP": 12}),
    (PRODUCT_SUPPORT_YR, "Annual support plan", "SUPPORT-YR", "year", 15,
     {"NZD": 1800, "USD": 1200, "EUR": 1000, "GBP": 900}),
    (PRODUCT_NO_CODE, "Custom integration work", None, "", 19, {"EUR": 2500}),
    (PRODUCT_EMPTY_CODE, "Setup fee", "", "", 15, {"NZD": 99.99}),
    (PRODUCT_TRAINING, "Training day", "TRAIN-DAY", "day", 0, {"NZD": 900, "USD": 600}),
]

# key, name, field_type, options ({id, label} for enum and set fields)
DEAL_FIELDS: list[tuple[str, str, str, list[dict] | None]] = [
    (PO_NUMBER_FIELD_KEY, "PO number", "varchar", None),
    (DUE_DAYS_FIELD_KEY, "Invoice due days", "double", None),
    (REGION_FIELD_KEY, "Region", "enum", [{"id": REGION_NORTH, "label": "North Island"},
                                          {"id": REGION_SOUTH, "label": "South Island"}]),
    (INVOICE_DATE_FIELD_KEY, "Invoice date", "date", None),
    (QUOTE_TERMS_FIELD_KEY, "Quote terms", "text", None),
]
PERSON_FIELDS: list[tuple[str, str, str, list[dict] | None]] = [
    (PERSON_CUSTOMER_NUMBER_FIELD_KEY, "Customer number", "varchar", None),
]
ORGANIZATION_FIELDS: list[tuple[str, str, str, list[dict] | None]] = [
    (ORG_TAX_NUMBER_FIELD_KEY, "Tax number", "varchar", None),
    (ORG_ACCOUNT_MANAGER_FIELD_KEY, "Account manager", "enum", [{"id": 41, "label": "Aroha"},
                                                               {"id": 42, "label": "Sam"}]),
]


def _line(product_id: int, quantity: float, item_price: float, tax: float, tax_method: str, *,
          discount: float = 0, discount_type: str = "percentage", is_enabled: bool = True) -> dict[str, Any]:
    return {"product_id": product_id, "quantity": quantity, "item_price": item_price, "tax": tax,
            "tax_method": tax_method, "discount": discount, "discount_type": discount_type, "is_enabled": is_enabled}


# id, title, currency, stage, person, org, lines, deal-level discounts, custom fields, extra fields
DEALS: list[tuple] = [
    (DEMO_DEAL_ID, "Kiwi Widgets - HR rollout", "NZD", STAGE_NEGOTIATIONS, PERSON_AROHA, ORG_KIWI,
     [_line(PRODUCT_CONSULT_HR, 10, 180, 15, "exclusive", discount=10),
      _line(PRODUCT_WIDGET, 50, 25, 15, "exclusive")],
     [], {PO_NUMBER_FIELD_KEY: "PO-4471", DUE_DAYS_FIELD_KEY: 20}, {}),
    (DEAL_USD_ID, "Acme - widget order", "USD", STAGE_PROPOSAL_MADE, PERSON_JOHN, ORG_ACME,
     [_line(PRODUCT_WIDGET, 100, 15, 0, "none", discount=100, discount_type="amount"),
      _line(PRODUCT_SUPPORT_YR, 1, 1200, 0, "none")],
     [("5% loyalty", 5, "percentage")], {PO_NUMBER_FIELD_KEY: "ACME-PO-889"}, {}),
    (DEAL_EUR_ID, "Brightside - integration project", "EUR", STAGE_CONTACT_MADE, PERSON_LENA, ORG_BRIGHTSIDE,
     [_line(PRODUCT_CONSULT_HR, 5, 100, 19, "inclusive"),
      _line(PRODUCT_NO_CODE, 1, 2500, 19, "inclusive", discount=250, discount_type="amount"),
      _line(PRODUCT_CONSULT_HR, 2, 100, 19, "inclusive", is_enabled=False)],
     [], {DUE_DAYS_FIELD_KEY: 30}, {}),
    (DEAL_GBP_RENEWAL_ID, "Thames - support renewal", "GBP", STAGE_RENEWAL_DUE, PERSON_OLIVER, ORG_THAMES,
     [_line(PRODUCT_SUPPORT_YR, 1, 900, 20, "exclusive")],
     [("Renewal credit", 50, "amount")], {}, {}),
    (DEAL_NO_PRODUCTS_ID, "Kiwi Widgets - retainer (no products)", "NZD", STAGE_LEAD_IN, PERSON_AROHA, ORG_KIWI,
     [], [], {}, {"value": 5000}),
    (DEAL_NO_CONTACT_ID, "Walk-in sale (no contact)", "NZD", STAGE_NEGOTIATIONS, None, None,
     [_line(PRODUCT_WIDGET, 4, 25, 15, "exclusive"), _line(PRODUCT_EMPTY_CODE, 1, 99.99, 15, "exclusive")],
     [], {}, {}),
    (DEAL_PERSON_ONLY_ID, "Mia Chen - training", "NZD", STAGE_NEGOTIATIONS, PERSON_MIA, None,
     [_line(PRODUCT_TRAINING, 2, 900, 0, "exclusive")], [], {DUE_DAYS_FIELD_KEY: 7}, {}),
    (DEAL_ALREADY_WON_ID, "Kiwi Widgets - first order", "NZD", STAGE_WON, PERSON_AROHA, ORG_KIWI,
     [_line(PRODUCT_WIDGET, 20, 25, 15, "exclusive")], [], {PO_NUMBER_FIELD_KEY: "PO-4100"}, {"status": "won"}),
]


def seed(state: "PipedriveState") -> None:
    """Fill an empty state with the demo company."""
    for user_id, name, email, admin, active in USERS:
        state.add_user(user_id, name, email, admin=admin, active=active)
    for pipeline_id, name in PIPELINES:
        state.add_pipeline(pipeline_id, name)
    for stage_id, pipeline_id, name, probability in STAGES:
        state.add_stage(stage_id, pipeline_id, name, probability)
    for org_id, name, address in ORGANIZATIONS:
        state.add_organization(org_id, name, address)
    for person_id, first, last, org_id, emails, phone, postal in PERSONS:
        state.add_person(person_id, first, last, org_id, emails, phone, postal)
    for product_id, name, code, unit, tax, prices in PRODUCTS:
        state.add_product(product_id, name, code, unit, tax, prices)
    for entity, fields in (("deal", DEAL_FIELDS), ("person", PERSON_FIELDS), ("organization", ORGANIZATION_FIELDS)):
        for key, name, field_type, options in fields:
            state.add_field(entity, key, name, field_type, options)
    for deal_id, title, currency, stage_id, person_id, org_id, lines, discounts, custom, extra in DEALS:
        deal = state.insert_deal({"id": deal_id, "title": title, "currency": currency, "stage_id": stage_id,
                                  "person_id": person_id, "org_id": org_id, "custom_fields": custom, **extra})
        created = iso(state.clock.time() - 7 * 86400)  # a week old, so updated_since filters have something to skip
        deal.update(add_time=created, update_time=created, stage_change_time=created)
        for line in lines:
            state.insert_deal_product(deal["id"], dict(line))
        for description, amount, kind in discounts:
            state.insert_deal_discount(deal["id"], description, amount, kind)
        state.recompute_value(deal["id"])
