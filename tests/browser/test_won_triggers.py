"""An admin adds a "When a deal is marked won" trigger from Pipedrive's host page: the pipeline picked by name, the
sentence saying what it does as the choices change, the on-demand choices beside it; one that would make a second
invoice beside a stage trigger's is refused beside its document, as is a second one for the same pipeline beside its
pipeline; removed again at the end (the stack is shared with the other browser tests)."""

import re

from playwright.async_api import Page, expect

from tests.browser.host import go_to, open_app


async def test_an_admin_adds_a_won_trigger_and_sees_what_it_does(stack, page: Page, screenshot) -> None:
    app = await open_app(page, stack)
    await go_to(app, "Triggers")
    new = app.get_by_role("group", name="Add a won trigger")
    sentence = new.locator("[data-won-sentence]")
    organisation = await sentence.get_attribute("data-organisation")
    where = f"in {organisation}." if organisation else "in Xero, once Xero is connected."

    await new.get_by_label("Pipeline").select_option(label="Sales")
    await expect(sentence).to_have_text(f"Deals marked won in Sales become a DRAFT invoice {where}")
    await new.get_by_label("Document").select_option(label="Quote")
    await expect(sentence).to_have_text(f"Deals marked won in Sales become a DRAFT quote {where}")
    await new.get_by_label("Document").select_option(label="Invoice")
    await expect(app.get_by_label("Salespeople may create a draft invoice from a deal")).to_be_checked()
    await expect(app.get_by_label("Allow more than one per deal")).not_to_be_checked()
    await app.get_by_role("button", name="Save triggers").click()
    # Sales already makes an invoice when a deal enters Won: a deal moved there and marked won would get two.
    await expect(app.locator("#f-won_triggers-0-action-error")).to_contain_text("would get two invoices")
    await expect(app.get_by_role("alert")).to_contain_text("Nothing was saved")
    await screenshot(page, "won-trigger-two-invoices")

    kept = app.get_by_role("group", name="Won trigger 1")  # kept as typed, to be corrected
    await kept.get_by_label("Pipeline").select_option(label="Renewals")
    await app.get_by_role("button", name="Save triggers").click()
    await expect(app.get_by_role("status")).to_have_text("✓ Saved.")

    saved = app.get_by_role("group", name="Won trigger 1")
    await expect(saved.locator("[data-won-sentence]")).to_have_text(
        f"Deals marked won in Renewals become a DRAFT invoice {where}")
    await screenshot(page, "won-trigger")

    try:
        again = app.get_by_role("group", name="Add a won trigger")
        await again.get_by_label("Pipeline").select_option(label="Renewals")
        await app.get_by_role("button", name="Save triggers").click()
        error = app.locator("#f-won_triggers-1-pipeline_id-error")
        await expect(error).to_contain_text("already has a \"deal marked won\" trigger above")
        await expect(app.get_by_role("alert")).to_contain_text("Nothing was saved")
        await screenshot(page, "won-trigger-twice")
    finally:
        await go_to(app, "Triggers")
        await app.get_by_role("group", name="Won trigger 1").get_by_label(
            re.compile("Remove this trigger")).check()
        await app.get_by_role("button", name="Save triggers").click()
        await expect(app.get_by_role("status")).to_have_text("✓ Saved.")
    await expect(app.get_by_text("No pipeline makes a draft when a deal is marked won.")).to_be_visible()
