"""The Sync log from Pipedrive's host page: a failed deal shows why and what to do; after the fix in Pipedrive, Replay
makes the draft and the log says so. Usage counts the drafts made."""

import re

from playwright.async_api import FrameLocator, Page, expect

from tests.browser.flows import DRAFT_TIMEOUT_MS, accept_confirmations, connected_to_both, drafts_for_deal, log_row
from tests.browser.host import go_to, open_app
from tests.e2e.helpers import create_deal, edit_deal, eventually, move

DRAFT_TIMEOUT_S = DRAFT_TIMEOUT_MS / 1000


async def test_the_log_shows_a_failure_and_replay_after_the_fix_makes_the_draft(stack, page: Page,
                                                                              screenshot) -> None:
    await accept_confirmations(page)
    app = await open_app(page, stack)
    await connected_to_both(page, app)
    deal = await create_deal(stack, title="Browser: nobody to invoice", org_id=None, person_id=None)
    await move(stack, deal["id"], "Won")

    failed = await log_row(app, deal["id"], "Failed")
    await expect(failed).to_contain_text("no customer")
    await expect(failed).to_contain_text("What to do:")
    await screenshot(page, "log-failed")

    await edit_deal(stack, deal["id"], org_id=103)  # the fix, in Pipedrive: an organisation to invoice
    await failed.get_by_role("button", name=f"Replay deal {deal['id']}").click()
    await expect(app.get_by_role("status")).to_contain_text(f"Replay started for deal {deal['id']}")

    [draft] = await eventually(lambda: drafts_for_deal(stack, deal["id"]), timeout=DRAFT_TIMEOUT_S)
    created = await log_row(app, deal["id"], "Created")
    await expect(created).to_contain_text(f"Draft invoice {draft['InvoiceNumber']}")
    await expect(created.get_by_role("link", name="Open in", exact=False)).to_be_visible()
    await app.get_by_role("navigation", name="Show outcomes").get_by_role("link", name="Created").click()
    await expect(app.get_by_role("link", name="Created")).to_have_attribute("aria-current", "page")
    await screenshot(page, "log")


async def test_usage_counts_a_new_draft_this_month(stack, page: Page, screenshot) -> None:
    await accept_confirmations(page)
    app = await open_app(page, stack)
    await connected_to_both(page, app)
    await go_to(app, "Usage")
    before = await drafts_this_month(app)

    deal = await create_deal(stack, title="Browser: counted in usage")
    await move(stack, deal["id"], "Won")
    await eventually(lambda: drafts_for_deal(stack, deal["id"]), timeout=DRAFT_TIMEOUT_S)

    async def counted() -> bool:  # metering counts it from the writer's event: look again until it has
        await go_to(app, "Usage")
        return await drafts_this_month(app) > before

    await eventually(counted, timeout=DRAFT_TIMEOUT_S, every=1.0)
    await expect(app.get_by_role("heading", name="This month", level=2, exact=False)).to_be_visible()
    await expect(app.get_by_role("heading", name="Earlier months", level=2)).to_be_visible()
    await screenshot(page, "usage")


async def drafts_this_month(app: FrameLocator) -> int:
    """From the sentence an admin reads: "No drafts made yet this month." or "3 drafts made: 2 invoices and ..."."""
    sentence = await app.locator(".sentence").inner_text()
    found = re.match(r"(\d+) drafts? made", sentence)
    assert found or sentence.startswith("No drafts made"), sentence
    return int(found.group(1)) if found else 0
