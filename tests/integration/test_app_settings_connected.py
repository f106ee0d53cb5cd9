"""The settings sections with the company's Pipedrive and Xero connected (both sandboxes, installed and connected
through the real OAuth flows): pickers by name from both sources, the trigger sentence naming the Xero organisation,
the preview of a real deal that writes nothing, and a Xero that does not answer leaving the page usable."""

import random
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from pdx_devstack.infra import free_port
from pdx_gateway.bootstrap import create_app
from pdx_sandbox.pipedrive import DEAL_EUR_ID, DEAL_NO_CONTACT_ID, DEAL_PERSON_ONLY_ID, DEMO_DEAL_ID, PipedriveState
from pdx_sandbox.pipedrive import create_app as pipedrive_app
from pdx_sandbox.xero import XeroState
from pdx_sandbox.xero import create_app as xero_app
from tests.integration.test_app_settings_support import AppBrowser, field_error, open_browser, with_values
from tests.integration.test_oauth_pipedrive import OAuthStack, oauth_settings, started
from tests.integration.test_oauth_xero import connect, xero_doc


@pytest.fixture
async def stack(infra, mongo_db) -> AsyncIterator[OAuthStack]:
    company_id = random.randint(10**6, 10**9)
    pd = PipedriveState(company_id=company_id, retry_delays=(0.05, 0.05, 0.05))
    xero = XeroState()
    pd_server, pd.base_url = await started(pipedrive_app(pd))
    xero_server, xero_url = await started(xero_app(xero))
    port = free_port()
    settings = oauth_settings(infra, mongo_db.name, port, pd.base_url, xero_url,
                              xero_api_url=f"{xero_url}/api.xro/2.0")
    gateway, gateway_url = await started(create_app(settings), port)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            s = OAuthStack(gateway_url, pd, pd.base_url, xero, xero_url, mongo_db, settings, http, str(company_id))
            await s.install()
            await connect(s)
            yield s
    finally:
        await gateway.close()
        await xero_server.close()
        await pd_server.close()


@pytest.fixture
async def admin(stack) -> AsyncIterator[AppBrowser]:
    browser = await open_browser(stack.gateway_url, stack.db, stack.company_id, user_name="Sandbox Admin")
    yield browser
    await browser.http.close()


async def organisation(stack) -> str:
    return (await xero_doc(stack))["tenant_name"]


async def test_triggers_pick_pipelines_and_stages_by_name_and_say_what_happens_in_which_organisation(stack, admin):
    status, page = await admin.get("/app/triggers")
    assert status == 200 and '<optgroup label="Sales" data-pipeline="1">' in page
    assert '<optgroup label="Renewals" data-pipeline="2">' in page
    assert ">Won</option>" in page and ">Quote requested</option>" in page and "Reconnect Pipedrive" not in page
    form = await admin.form("/app/triggers")
    # The stage alone names its pipeline (stage ids are unique across pipelines).
    status, page, _ = await admin.post("/app/triggers", with_values(form, triggers__0__stage_id="5"))
    assert status == 303, page
    assert (await admin.settings())["triggers"] == [
        {"pipeline_id": 1, "stage_id": 5, "action": "invoice", "enabled": True}]
    _, page = await admin.get("/app/triggers")
    assert (f"Deals entering <em>Won</em> in <em>Sales</em> become a DRAFT invoice\n  in <em>"
            f"{await organisation(stack)}</em>.") in page


async def test_history_names_pipelines_stages_and_accounts(admin):
    form = await admin.form("/app/triggers")
    await admin.post("/app/triggers", with_values(form, triggers__0__stage_id="5"))
    await admin.post("/app/rules", with_values(await admin.form("/app/rules"), money__account_by_pipeline__2="200"))
    status, page = await admin.get("/app/history")
    assert status == 200
    assert "Added: Deals entering Won in Sales become a DRAFT invoice." in page
    assert "Account for Renewals</td><td>(none)</td><td>200 · Sales</td>" in page


async def test_a_stage_of_another_pipeline_is_pointed_out_beside_the_stage(admin):
    form = await admin.form("/app/triggers")
    status, page, _ = await admin.post("/app/triggers", with_values(
        form, triggers__0__pipeline_id="1", triggers__0__stage_id="7"))
    assert status == 400
    assert "Quote requested is not a stage of the pipeline chosen" in field_error(page, "triggers.0.stage_id")
    stored = await admin.settings()
    assert stored["version"] == 1 and stored["triggers"] == []  # the defaults stored at install, untouched


async def test_rules_pick_from_xero_and_pipedrive(admin):
    status, page = await admin.get("/app/rules")
    assert status == 200 and "Connect Xero" not in page and "did not answer" not in page
    assert "200 · Sales" in page  # a revenue account by code and name
    assert "Account for Sales" in page and "Account for Renewals" in page  # a pipeline by name
    assert ">15% GST on Income</option>" in page and ">Exempt Income (0%)</option>" in page  # name and percentage
    form = await admin.form("/app/rules")
    status, page, _ = await admin.post("/app/rules", with_values(
        form, money__account_by_pipeline__2="200", tax_types__0__rate="15", tax_types__0__tax_type="OUTPUT2"))
    assert status == 303, page
    money = (await admin.settings())["money"]
    assert money["account_by_pipeline"] == {"2": "200"} and money["tax_types"] == {"15": "OUTPUT2"}


async def test_a_half_filled_product_account_is_pointed_out_by_the_products_name(admin):
    form = await admin.form("/app/rules")
    product = re.search(r'<option value="(\d+)">Setup fee</option>', (await admin.get("/app/rules"))[1])[1]
    status, page, _ = await admin.post("/app/rules", with_values(form, new_product__product_id=product))
    assert status == 400
    assert field_error(page, "new_product.account_code") == "Choose the revenue account for Setup fee."
    assert f'<option value="{product}" selected>Setup fee</option>' in page  # the choice stays
    assert (await admin.settings())["money"]["account_by_product"] == {}


async def test_mappings_list_custom_fields_tracking_categories_and_branding_themes(admin):
    status, page = await admin.get("/app/mappings")
    assert status == 200 and "Connect Xero" not in page and "Reconnect Pipedrive" not in page
    assert "{deal.custom.PO number}" in page  # the company's own custom field, by name
    assert "Invoice date (custom field)</option>" in page  # a custom date field for the document date
    assert "Invoice due days</option>" in page  # a numeric custom field for the due days
    assert ">Standard</option>" in page  # a branding theme
    assert '<option value="Region"' in page  # a tracking category
    # Fields to insert, by name; none that would come out as an id or a timestamp.
    assert '<option value="{deal.custom.PO number}">PO number (custom field)</option>' in page
    assert '<option value="{person.job_title}">Job title</option>' in page
    assert '<option value="{org.website}">Website</option>' in page
    assert "{person.owner_id}" not in page and "{person.org_id}" not in page and "{org.add_time}" not in page


async def test_mappings_refuse_a_fixed_tracking_option_xero_does_not_have_and_unknown_fields(admin):
    form = await admin.form("/app/mappings")
    status, page, _ = await admin.post("/app/mappings", with_values(
        form, fields__tracking__0__name="Region", fields__tracking__0__option="Atlantis",
        fields__quote_title="{deal.custom.No such field}"))
    assert status == 400
    assert field_error(page, "fields.tracking.0.option").startswith(
        "Atlantis is not an option of Region in Xero (its options: North Island, South Island)")
    assert field_error(page, "fields.quote_title") == ("{deal.custom.No such field} is not a field; pick one from "
                                                       "Insert a field.")
    status, _, _ = await admin.post("/app/mappings", with_values(
        form, fields__tracking__0__name="Region", fields__tracking__0__option="North Island",
        fields__quote_title="{deal.custom.po number} for {org.name}"))
    assert status == 303  # a field's name in another case is the same field


async def test_a_preview_shows_the_draft_and_writes_nothing(stack, admin):
    status, page = await admin.get(f"/app/preview?recent_deal={DEMO_DEAL_ID}&action=invoice")
    assert status == 200 and "DRAFT invoice for <em>Kiwi Widgets - HR rollout</em>" in page
    assert 'id="draft-lines"' in page and "Subtotal before tax" in page
    assert '<option value="1" selected>Kiwi Widgets - HR rollout (#1)</option>' in page  # recent deals by title
    lines = page.split('id="draft-lines"', 1)[1].split("</table>", 1)[0]
    assert "<td>15% GST on Income</td>" in lines  # the tax rate by Xero's name
    assert "<td>180.00</td>" in lines and "<td>1,620.00</td>" in lines  # money as money
    assert ">Discount<" in lines and ">Tracking<" not in lines  # a column every line leaves empty is left out
    assert re.search(r"<td>\d{1,2} [A-Z][a-z]{2} \d{4}</td>", page)  # dates as "30 Nov 2026"
    status, page = await admin.get(f"/app/preview?deal_id={DEMO_DEAL_ID}&action=quote")  # typed by number
    assert status == 200 and "DRAFT quote for <em>Kiwi Widgets - HR rollout</em>" in page
    tenant = (await xero_doc(stack))["tenant_id"]
    assert stack.xero.invoices(tenant) == [] and stack.xero.quotes(tenant) == []
    assert not [r for r in stack.xero.requests if r.path.startswith("/api.xro") and r.method != "GET"]


async def test_only_admins_preview_deals(stack):
    viewer = await open_browser(stack.gateway_url, stack.db, stack.company_id, admin=False, user_id="12002",
                                user_name="Sam Seller")
    try:
        status, page = await viewer.get(f"/app/preview?deal_id={DEMO_DEAL_ID}&action=invoice")
    finally:
        await viewer.http.close()
    assert status == 200 and "Only Pipedrive admins of this company can preview drafts" in page
    assert "Kiwi Widgets" not in page and 'id="draft-lines"' not in page
    assert 'href="/app/preview"' in page  # still in the navigation


async def test_a_preview_shows_no_draft_that_xero_would_refuse(stack, admin):
    # The NZ organisation has no 19% sales tax rate: the sync would refuse deal 3, so the preview does too.
    status, page = await admin.get(f"/app/preview?recent_deal={DEAL_EUR_ID}&action=invoice")
    assert status == 200 and "cannot become a draft" in page and 'id="draft-lines"' not in page
    assert page.count("no sales tax rate of 19%") == 1  # two lines with 19%: said once
    assert 'href="/app/rules#f-tax_types-0-rate"' in page
    assert "Brightside - integration project cannot become a draft" in page
    # An account, the default item and a tracking option Xero does not have.
    await stack.db.company_settings.update_one({"_id": stack.company_id}, {"$set": {
        "money.sales_account_code": "999", "products.unmatched": "default_item",
        "products.default_item_code": "NOPE", "fields.tracking": [{"name": "Region", "option": "Atlantis"}]}})
    status, page = await admin.get(f"/app/preview?deal_id={DEMO_DEAL_ID}&action=invoice")
    assert status == 200 and 'id="draft-lines"' not in page
    assert "The revenue account 999 is not an active revenue account" in page
    assert 'href="/app/rules#f-money-sales_account_code"' in page
    assert "Atlantis is not an option of the tracking category Region" in page
    assert 'href="/app/mappings#f-fields-tracking-0-option"' in page
    status, page = await admin.get(f"/app/preview?deal_id={DEAL_PERSON_ONLY_ID}&action=invoice")
    assert "The default item NOPE is not an item" in page  # TRAIN-DAY is no Xero item: sold as the default item
    assert 'href="/app/rules#f-products-default_item_code"' in page


async def test_a_deal_that_cannot_be_previewed_says_why_and_how_to_fix_it(admin):
    status, page = await admin.get("/app/preview?deal_id=999999&action=quote")
    assert status == 200 and "cannot become a draft" in page and "Pipedrive has no deal 999999" in page
    status, page = await admin.get("/app/preview?deal_id=" + "9" * 1000)
    assert status == 200 and "9" * 41 not in page  # a long typed number is not echoed in full
    assert "How to fix it:" in page
    status, page = await admin.get(f"/app/preview?deal_id={DEAL_NO_CONTACT_ID}&action=invoice")
    assert status == 200 and "cannot become a draft" in page and "How to fix it:" in page
    assert 'id="draft-lines"' not in page


async def test_a_xero_that_does_not_answer_leaves_the_section_usable_with_text_inputs(stack, admin):
    tenant = (await xero_doc(stack))["tenant_id"]
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.xero_url}/_sandbox/outage", json={"tenant_id": tenant, "status": 503,
                                                                        "count": 100}) as resp:
            assert resp.status == 200
    status, page = await admin.get("/app/rules")
    assert status == 200 and "Xero did not answer just now" in page
    assert 'name="money.sales_account_code" type="text" value="200"' in page


@pytest.mark.parametrize("path", ["/app/triggers", "/app/rules", "/app/mappings"])
async def test_a_non_admin_sees_every_section_with_its_pickers_read_only(stack, path):
    viewer = await open_browser(stack.gateway_url, stack.db, stack.company_id, admin=False, user_id="12002",
                                user_name="Sam Seller")
    try:
        status, page = await viewer.get(path)
    finally:
        await viewer.http.close()
    assert status == 200 and "View only" in page and 'type="submit"' not in page.split("<form", 2)[-1]
    selects = re.findall(r"<select [^>]*>", page)
    assert selects and all(" disabled" in tag for tag in selects)
