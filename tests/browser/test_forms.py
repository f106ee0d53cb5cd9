"""Saving settings from Pipedrive's host page: a value the settings model refuses comes back beside its field in plain
words and nothing is saved; a form someone else saved meanwhile is refused instead of overwriting their change."""

from playwright.async_api import Browser, FrameLocator, Page, expect

from tests.browser.host import go_to, new_context, open_app


def field_error(app: FrameLocator, field_id: str):
    """The error shown beside an input (the app's inputs are ``f-<dotted name with dashes>``)."""
    return app.locator(f"#{field_id}-error.field-error")


async def history_versions(app: FrameLocator) -> int:
    await go_to(app, "History")
    return await app.locator("ol.history > li").count()


async def test_a_refused_value_is_shown_beside_its_field_and_nothing_is_saved(stack, page: Page, screenshot) -> None:
    app = await open_app(page, stack)
    versions = await history_versions(app)
    await go_to(app, "Field mappings")
    due = app.get_by_label("Due after (days)")
    before = await due.input_value()

    await due.fill("400")
    await app.get_by_label("Quote title").fill("Changed along with a bad value")
    await app.get_by_role("button", name="Save").click()

    await expect(field_error(app, "f-fields-due_days")).to_be_visible()
    await expect(field_error(app, "f-fields-due_days")).to_contain_text("365")
    await expect(due).to_have_attribute("aria-invalid", "true")
    await expect(due).to_have_value("400")  # the admin's input stays, to be corrected
    await expect(app.get_by_role("alert")).to_contain_text("Nothing was saved")
    await expect(app.get_by_role("alert")).to_be_focused()  # keyboard and screen-reader users land on it
    await expect(app.get_by_role("status")).to_have_count(0)  # no "✓ Saved."
    await expect(app.locator(".field-error")).to_have_count(1)
    await screenshot(page, "validation-error")

    await go_to(app, "Field mappings")  # as stored: neither value was saved
    await expect(app.get_by_label("Due after (days)")).to_have_value(before)
    await expect(app.get_by_label("Quote title")).not_to_have_value("Changed along with a bad value")
    assert await history_versions(app) == versions


async def test_a_stale_form_is_refused_instead_of_overwriting_anothers_change(stack, browser: Browser, page: Page,
                                                                               screenshot) -> None:
    mine = await open_app(page, stack)
    await go_to(mine, "Customers, products & money")
    await expect(mine.get_by_label("Line description")).to_be_visible()

    other_context = await new_context(browser)  # another admin's browser, with a session of its own
    try:
        other_page = await other_context.new_page()
        theirs = await open_app(other_page, stack)
        await go_to(theirs, "Customers, products & money")
        await theirs.get_by_label("Line description").select_option(label="Product name only")
        await theirs.get_by_role("button", name="Save").click()
        await expect(theirs.get_by_role("status")).to_have_text("✓ Saved.")
    finally:
        await other_context.close()

    await mine.get_by_label("Deals without products").select_option(label="Make no draft; the deal says why")
    await mine.get_by_role("button", name="Save").click()

    await expect(mine.get_by_role("alert")).to_contain_text("changed by someone else")
    await expect(mine.get_by_role("alert")).to_contain_text("Nothing was saved")
    await expect(mine.get_by_label("Deals without products")).to_have_value("refuse")  # my change, still below
    await screenshot(page, "stale-form")

    await mine.get_by_role("link", name="Reload to see their change").click()
    await expect(mine.get_by_label("Line description")).to_have_value("name")  # theirs kept
    await expect(mine.get_by_label("Deals without products")).to_have_value("single_line")  # mine not saved
    await screenshot(page, "rules")
