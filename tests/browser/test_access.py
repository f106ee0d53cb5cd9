"""Who may see and change what, from Pipedrive's host page: a regular user sees every section read-only; a forged,
expired or other company's token gets a clear error page, no session and none of the company's data; a keyboard
user reaches the settings with a visible focus."""

import pytest
from playwright.async_api import FrameLocator, Page, expect

from tests.browser.flows import NZ
from tests.browser.host import REGULAR_USER_ID, go_to, open_app, section_link

SECTIONS = ("Connections", "Triggers", "Customers, products & money", "Customers & products", "Field mappings",
            "Numbers on the deal", "Preview", "Sync log", "Usage", "History")


def editable(app: FrameLocator):
    """Controls a person could change or submit (hidden inputs are the form's plumbing)."""
    return app.locator("main").locator("input:not([type=hidden]):enabled, select:enabled, textarea:enabled, "
                                       "button:enabled")


async def test_a_regular_user_sees_every_section_read_only(stack, page: Page, screenshot) -> None:
    app = await open_app(page, stack, user_id=REGULAR_USER_ID)

    await expect(app.get_by_text("View only", exact=True)).to_be_visible()
    await expect(app.get_by_role("note")).to_contain_text("Only Pipedrive admins of this company can change")
    await expect(app.locator("#xero-org")).to_have_text(NZ)  # sees the settings...
    for section in SECTIONS:
        await go_to(app, section)
        await expect(app.get_by_role("heading", level=1)).to_be_visible()
        await expect(editable(app)).to_have_count(0)  # ...and can change none of them
    await go_to(app, "Preview")  # a preview shows any deal's customer and amounts: admins only
    await expect(app.get_by_role("note").filter(has_text="can preview drafts")).to_be_visible()
    await go_to(app, "Triggers")
    await expect(app.get_by_label("Pipeline").first).to_be_disabled()
    await expect(app.get_by_role("button", name="Save triggers")).to_have_count(0)
    await screenshot(page, "read-only")


@pytest.mark.parametrize("token", ["forged", "expired", "other_company"])
async def test_a_bad_token_gets_an_error_page_and_no_data(stack, page: Page, screenshot, token: str) -> None:
    app = await open_app(page, stack, token=token, initialised=False)

    await expect(app.get_by_role("heading", name="We could not confirm who you are", level=1)).to_be_visible()
    await expect(app.get_by_text("What to do:")).to_be_visible()
    await expect(app.get_by_text("Open the app again from Pipedrive")).to_be_visible()
    await expect(app.get_by_role("navigation", name="Sections")).to_have_count(0)
    await expect(app.locator("body")).not_to_contain_text("Demo Company")
    assert not [c for c in await page.context.cookies() if c["name"] == "pdx_app"]  # no session was made
    await screenshot(page, "error-page")


async def test_a_keyboard_user_skips_to_the_settings_and_sees_where_focus_is(stack, page: Page) -> None:
    app = await open_app(page, stack)

    await page.keyboard.press("Tab")  # from Pipedrive's page into the app's frame
    skip = app.get_by_role("link", name="Skip to the settings")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(app.locator("main")).to_be_focused()

    await page.keyboard.press("Tab")  # the first control of the section, with a visible focus ring
    focused = app.locator(":focus")
    await expect(focused).to_have_count(1)
    await expect(focused).to_have_css("outline-style", "solid")
    await section_link(app, "Field mappings").focus()
    await page.keyboard.press("Enter")
    await expect(section_link(app, "Field mappings")).to_have_attribute("aria-current", "page")
    await expect(app.get_by_label("Invoice reference")).to_be_visible()
