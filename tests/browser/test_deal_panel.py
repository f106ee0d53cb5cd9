"""A salesperson on the deal, in the Pipedrive sandbox's deal page against the whole stack: a failure's activity
carries a Replay link and the app's panel shows the failure with Replay; the panel's "Create draft quote" JSON modal
opens with its summary and, on submit, says so in a snackbar, and the quote is made.

Screenshots land in .local/screenshots/<test>/ (or PDX_SCREENSHOTS): deal-failure.png, deal-quote-modal.png,
deal-quote-snackbar.png.
"""

import re
from urllib.parse import urlencode

from playwright.async_api import Page, expect

from pdx_devstack.peek import sandbox_post
from pdx_devstack.stack import Stack
from tests.browser.flows import DRAFT_TIMEOUT_MS
from tests.browser.host import ADMIN_USER_ID, NAVIGATION_TIMEOUT_MS
from tests.e2e.helpers import activities, create_deal, eventually, move, subjects

MODALS = {"Replay": "replay", "Create draft invoice": "create-invoice", "Create draft quote": "create-quote"}


async def register_deal_extensions(stack: Stack) -> None:
    """As in Developer Hub: the crm-card's JSON panel (signed with the panel's JWT secret) and the gateway's JSON
    modals (signed with the app's client secret, the default) on the deal's details view."""
    await sandbox_post(stack.urls["pipedrive"], "/_sandbox/app", {
        "panel_url": f"{stack.urls['crm-card']}/panel", "panel_jwt_secret": stack.panel_secret,
        "modals": {name: f"{stack.urls['gateway']}/deal/modal/{action}" for name, action in MODALS.items()}})


def deal_page(stack: Stack, deal_id: int) -> str:
    assert stack.seeded is not None
    query = urlencode({"company_id": stack.seeded.company_id, "user_id": ADMIN_USER_ID})
    return f"{stack.urls['pipedrive']}/host/deal/{deal_id}?{query}"


async def test_a_failure_shows_a_replay_link_in_its_activity_and_in_the_panel(stack, page: Page, screenshot):
    await register_deal_extensions(stack)
    deal = await create_deal(stack, title="Browser: no customer to invoice", org_id=None, person_id=None)
    await move(stack, deal["id"], "Won")
    await eventually(lambda: activities(stack, deal["id"]), timeout=DRAFT_TIMEOUT_MS / 1000)

    await page.goto(deal_page(stack, deal["id"]), timeout=NAVIGATION_TIMEOUT_MS)
    await expect(page.get_by_role("heading", name="Browser: no customer to invoice")).to_be_visible()
    failure = page.locator(".activity").filter(has_text="Xero draft invoice not created")
    await expect(failure).to_be_visible()
    replay = failure.get_by_role("link", name="Replay this deal")
    signed = f"{stack.urls['gateway']}/deal/replay?company_id={stack.seeded.company_id}&deal_id={deal['id']}&expires="
    await expect(replay).to_have_attribute("href", re.compile(re.escape(signed) + r"\d+&sig=[0-9a-f]{64}$"))
    await expect(replay).to_have_attribute("target", "_blank")
    panel = page.locator("#app-panel")
    failed = panel.locator(".panel-object").filter(has_text="Not created:")
    await expect(failed).to_be_visible()
    await expect(failed.get_by_role("link", name="Replay")).to_have_attribute("target", "_blank")
    await expect(panel.locator(".panel-object").first).to_contain_text("Not created:")  # the failure comes first
    await screenshot(page, "deal-failure")


async def test_create_draft_quote_from_the_panel_opens_the_modal_and_confirms_in_a_snackbar(stack, page: Page,
                                                                                          screenshot):
    await register_deal_extensions(stack)
    deal = await create_deal(stack, title="Browser: quote me from the panel")  # no trigger in its stage

    await page.goto(deal_page(stack, deal["id"]), timeout=NAVIGATION_TIMEOUT_MS)
    await expect(page.locator("body")).to_have_attribute("data-deal-script", "ready")
    await page.get_by_text("Actions ▾").click()
    await page.get_by_role("menuitem", name="Create draft quote").click()
    dialog = page.get_by_role("dialog", name="Create draft quote")
    await expect(dialog).to_be_visible()
    await expect(page.locator("body")).to_have_attribute("data-modal-state", "ready")
    await expect(dialog.locator(".block[data-block='summary']")).to_contain_text("Browser: quote me from the panel")
    await screenshot(page, "deal-quote-modal")

    await dialog.get_by_role("button", name="Create draft quote").click()
    snackbar = page.locator("#app-snackbar")
    await expect(snackbar).to_be_visible()
    await expect(dialog).to_be_hidden()
    await screenshot(page, "deal-quote-snackbar")
    made = await eventually(lambda: _quote_activity(stack, deal["id"]), timeout=DRAFT_TIMEOUT_MS / 1000)
    assert any(s.startswith("Draft quote") for s in made)


async def _quote_activity(stack: Stack, deal_id: int) -> list[str] | None:
    found = subjects(await activities(stack, deal_id))
    return found if any(s.startswith("Draft quote") for s in found) else None
