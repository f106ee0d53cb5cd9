"""The sections' script (static/sections.js) in Debian's Chromium, driven by Playwright, against the gateway with
both sandboxes connected: the trigger sentence follows the chosen options, "Insert a field" appends a placeholder.
The pages work without the script; these tests check what it adds."""

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, async_playwright, expect

from pdx_gateway.app_ui.session import COOKIE, MongoAppSessions
from tests.integration.test_app_settings_connected import stack  # noqa: F401  (the connected stack fixture)

CHROMIUM = os.environ.get("PDX_CHROMIUM") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]



@pytest.fixture
async def page(stack) -> AsyncIterator[Page]:  # noqa: F811
    token, _ = await MongoAppSessions(stack.db, ttl_seconds=600).create(
        company_id=stack.company_id, user_id="12001", user_name="Sandbox Admin", is_admin=True,
        company_domain="demo", embedded=None)
    # Not a skip: ./dev test installs Chromium, so a missing one is a broken set-up, said plainly.
    assert os.access(CHROMIUM, os.X_OK), f"no Chromium at {CHROMIUM}: run the tests with ./dev test, which installs it"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = await browser.new_context()
            await context.add_cookies([{"name": COOKIE, "value": token, "url": f"{stack.gateway_url}/app/"}])
            opened = await context.new_page()
            opened.set_default_timeout(20_000)
            yield opened
        finally:
            await browser.close()


async def test_the_new_trigger_sentence_follows_the_chosen_options(stack, page):  # noqa: F811
    await page.goto(f"{stack.gateway_url}/app/triggers")
    new = page.locator("fieldset.trigger-new")
    sentence = new.locator("[data-sentence]")
    await expect(sentence).to_be_hidden()
    await new.get_by_label("Pipeline").select_option(label="Sales")
    await new.get_by_label("Stage").select_option(label="Won")
    await expect(sentence).to_be_visible()
    await expect(sentence).to_contain_text("Deals entering Won in Sales become a DRAFT invoice in ")
    await new.get_by_label("Document").select_option(label="Quote")
    await expect(sentence).to_contain_text("become a DRAFT quote")
    await new.get_by_label("Enabled").uncheck()
    await expect(sentence).to_contain_text("Switched off: deals entering Won in Sales make nothing.")
    await new.get_by_label("Pipeline").select_option(label="Renewals")  # Won is not Renewals' stage: emptied
    await expect(sentence).to_contain_text("No stage chosen yet")
    assert "None" not in await sentence.inner_text()


async def test_insert_a_field_appends_its_placeholder(stack, page):  # noqa: F811
    await page.goto(f"{stack.gateway_url}/app/mappings")
    reference = page.locator("#f-fields-reference")
    await reference.fill("PO")
    await page.locator("#f-fields-reference-insert").select_option(label="PO number (custom field)")
    await expect(reference).to_have_value("PO {deal.custom.PO number}")
    await expect(page.locator("#f-fields-reference-insert")).to_have_value("")
