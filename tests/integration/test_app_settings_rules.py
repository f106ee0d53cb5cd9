"""Customers, products and money on the real store, without Xero or Pipedrive connected (pickers are text inputs
with the reason): the whole section saves, each problem shows beside its input with nothing saved."""

import re

import pytest

from tests.integration.test_app_settings_support import field_error, open_browser, with_values

COMPANY = "7002"


@pytest.fixture
async def admin(gateway, mongo_db):
    browser = await open_browser(gateway, mongo_db, COMPANY)
    yield browser
    await browser.http.close()


async def test_the_whole_section_saves(admin):
    form = await admin.form("/app/rules")
    ticked_off = [(n, v) for n, v in form if not (n == "customer.create_missing" and v == "true")]
    status, _, location = await admin.post("/app/rules", with_values(
        ticked_off, customer__contact_from="person", products__unmatched="default_item",
        products__default_item_code="SERVICES", products__description_from="product_description",
        money__sales_account_code="260", money__default_tax_type="OUTPUT2",
        tax_types__0__rate="15", tax_types__0__tax_type="OUTPUT2",
        new_product__product_id="31", new_product__account_code="210"))
    assert (status, location) == (303, "/app/rules?saved=1")
    stored = await admin.settings()
    assert stored["customer"] == {"contact_from": "person", "create_missing": False, "tax_number_field": None}
    assert stored["products"] == {"unmatched": "default_item", "default_item_code": "SERVICES",
                                  "no_products": "single_line", "description_from": "product_description"}
    assert stored["money"] == {"sales_account_code": "260", "tax_types": {"15": "OUTPUT2"},
                               "default_tax_type": "OUTPUT2", "account_by_pipeline": {},
                               "account_by_product": {"31": "210"}}
    status, page = await admin.get(location)
    assert status == 200 and "Connect Xero to pick from your organisation" in page
    assert 'name="money.account_by_product.31" type="text" value="210"' in page


async def test_a_saved_form_posted_again_unchanged_stores_nothing(admin):
    await admin.post("/app/rules", with_values(await admin.form("/app/rules"), tax_types__0__rate="15",
                                               tax_types__0__tax_type="OUTPUT2"))
    before = await admin.settings()
    status, _, location = await admin.post("/app/rules", await admin.form("/app/rules"))
    assert (status, location) == (303, "/app/rules?saved=unchanged")
    assert "Nothing to save: no setting changed." in (await admin.get(location))[1]
    assert await admin.settings() == before


PROBLEMS = [
    ({"products__unmatched": "default_item"}, "products.default_item_code", "Choose the default item"),
    ({"money__sales_account_code": ""}, "money.sales_account_code", "Must not be empty"),
    ({"money__sales_account_code": "12345678901"}, "money.sales_account_code", "Must be 10 characters or fewer"),
    ({"tax_types__0__rate": "fifteen", "tax_types__0__tax_type": "OUTPUT2"}, "tax_types.0.rate",
     "'fifteen' is not a percentage: type a number"),
    ({"tax_types__0__rate": "-5", "tax_types__0__tax_type": "OUTPUT2"}, "tax_types.0.rate",
     "-5 is not a percentage between 0 and 100"),
    ({"tax_types__0__rate": "", "tax_types__0__tax_type": "OUTPUT2"}, "tax_types.0.rate", "Type the Pipedrive tax"),
    ({"tax_types__0__rate": "12.5", "tax_types__0__tax_type": ""}, "tax_types.0.tax_type",
     "Choose the Xero tax rate for 12.5%."),
    ({"new_product__product_id": "31"}, "new_product.account_code", "Choose the revenue account for this product."),
    ({"new_product__account_code": "210"}, "new_product.product_id", "Choose the product this account is for."),
]


@pytest.mark.parametrize(("changes", "field", "problem"), PROBLEMS, ids=[p[1] + ":" + p[2][:20] for p in PROBLEMS])
async def test_a_problem_is_shown_beside_its_input_and_nothing_is_saved(admin, changes, field, problem):
    status, page, _ = await admin.post("/app/rules", with_values(await admin.form("/app/rules"), **changes))
    assert status == 400, page
    assert problem in field_error(page, field)
    assert len(re.findall(r'class="field-error"', page)) == 1  # one message for one problem
    assert "Nothing was saved" in page and 'placeholder="15"' not in page
    assert await admin.settings() == {}


async def test_the_error_summary_names_the_field_and_the_row_keeps_what_was_typed(admin):
    status, page, _ = await admin.post("/app/rules", with_values(await admin.form("/app/rules"),
                                                                 tax_types__0__rate="-5", tax_types__0__tax_type="X"))
    assert status == 400
    assert "Tax rate 1 · Pipedrive tax %: -5 is not a percentage" in page.split('id="error-summary"', 1)[1]
    assert 'name="tax_types.0.rate" type="text" value="-5" aria-describedby="f-tax_types-0-rate-error"' in page


async def test_the_same_percentage_twice_is_refused(admin):
    form = with_values(await admin.form("/app/rules"), tax_types__0__rate="15", tax_types__0__tax_type="OUTPUT2")
    status, page, _ = await admin.post("/app/rules", [*form, ("tax_types.1.rate", "15"),
                                                      ("tax_types.1.tax_type", "NONE")])
    assert status == 400 and "already mapped above" in field_error(page, "tax_types.1.rate")
    assert await admin.settings() == {}


async def test_a_non_admin_post_is_refused_and_changes_nothing(gateway, mongo_db, admin):
    viewer = await open_browser(gateway, mongo_db, COMPANY, admin=False, user_id="12002", user_name="Sam Seller")
    try:
        status, page = await viewer.get("/app/rules")
        assert status == 200 and ">Save<" not in page
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        status, page, _ = await viewer.post("/app/rules", {"csrf": csrf, "version": "1",
                                                           "money.sales_account_code": "999"})
        assert status == 403
    finally:
        await viewer.http.close()
    assert await admin.settings() == {}
