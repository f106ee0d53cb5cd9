"""Connections, from Pipedrive's host page: switch the Xero organisation (new drafts go to the other one), disconnect
(a deal that reaches a trigger meanwhile waits) and connect again (the waiting deal becomes its draft)."""

from playwright.async_api import Page, expect

from pdx_devstack.peek import sandbox_post
from tests.browser.flows import (
    DRAFT_TIMEOUT_MS,
    NZ,
    UK,
    accept_confirmations,
    connect_xero,
    connected_to_both,
    disconnect_xero,
    drafts_for_deal,
    log_row,
    xero_status,
)
from tests.browser.host import go_to, open_app
from tests.e2e.helpers import create_deal, eventually, move

DRAFT_TIMEOUT_S = DRAFT_TIMEOUT_MS / 1000
GBP_LINE = {"product_id": 301, "quantity": 2, "item_price": 90, "tax": 20, "tax_method": "exclusive"}


async def test_switching_the_organisation_sends_new_drafts_to_the_other_one(stack, page: Page, screenshot) -> None:
    await accept_confirmations(page)
    app = await open_app(page, stack)
    await connected_to_both(page, app, use=NZ)

    await app.get_by_label(UK).check()
    await app.get_by_role("button", name="Use this organisation").click()

    await expect(app.get_by_role("status")).to_contain_text(f"Organisation changed. New drafts go to {UK}")
    await expect(xero_status(app)).to_contain_text(f"Connected. New drafts go to {UK}")
    await expect(app.get_by_label(f"{UK} (current)")).to_be_checked()
    await screenshot(page, "connections-switched")
    deal = await create_deal(stack, title="Browser: after the switch", currency="GBP", org_id=104, person_id=204,
                             products=[GBP_LINE])
    await move(stack, deal["id"], "Won")
    [draft] = await eventually(lambda: drafts_for_deal(stack, deal["id"], UK), timeout=DRAFT_TIMEOUT_S)
    assert draft["Status"] == "DRAFT" and draft["CurrencyCode"] == "GBP"
    assert await drafts_for_deal(stack, deal["id"], NZ) == []

    await app.get_by_label(NZ).check()  # back to where the other tests expect the company
    await app.get_by_role("button", name="Use this organisation").click()
    await expect(xero_status(app)).to_contain_text(f"Connected. New drafts go to {NZ}")


async def test_a_deal_won_while_disconnected_waits_and_becomes_a_draft_after_connecting(stack, page: Page,
                                                                                       screenshot) -> None:
    asked = await accept_confirmations(page)
    app = await open_app(page, stack)
    await connected_to_both(page, app, use=NZ)

    await disconnect_xero(app)
    assert asked and "Disconnect Xero?" in asked[-1]
    await expect(app.get_by_role("status")).to_contain_text("Xero is disconnected")
    await expect(app.get_by_role("button", name="Connect Xero")).to_be_visible()
    await screenshot(page, "connections-disconnected")
    deal = await create_deal(stack, title="Browser: won while Xero was disconnected")
    await move(stack, deal["id"], "Won")

    await log_row(app, deal["id"], "Waiting")
    assert await drafts_for_deal(stack, deal["id"]) == []
    await screenshot(page, "log-waiting")

    await go_to(app, "Connections")
    await connect_xero(page, app, select=(NZ, UK), use=NZ)
    [draft] = await eventually(lambda: drafts_for_deal(stack, deal["id"]), timeout=DRAFT_TIMEOUT_S)
    assert draft["Status"] == "DRAFT"


async def test_a_revoked_grant_is_shown_and_reconnecting_makes_the_waiting_draft(stack, page: Page,
                                                                                 screenshot) -> None:
    await accept_confirmations(page)
    app = await open_app(page, stack)
    await connected_to_both(page, app, use=NZ)
    await sandbox_post(stack.urls["xero"], "/_sandbox/revoke-all", {})  # the user removes the app in Xero

    deal = await create_deal(stack, title="Browser: won after Xero revoked the grant")
    await move(stack, deal["id"], "Won")
    await log_row(app, deal["id"], "Waiting")
    await go_to(app, "Connections")
    await expect(xero_status(app)).to_contain_text("Disconnected")
    await expect(xero_status(app)).to_contain_text("nothing is lost")
    await screenshot(page, "connections-revoked")

    # The organisation chosen before is still granted, so Xero's window needs no second choice.
    await connect_xero(page, app, select=(NZ, UK), use=NZ, button="Reconnect Xero", choose=False)
    [draft] = await eventually(lambda: drafts_for_deal(stack, deal["id"]), timeout=DRAFT_TIMEOUT_S)
    assert draft["Status"] == "DRAFT"
    await log_row(app, deal["id"], "Created")
