"""Customers & products from Pipedrive's host page: the admin switches on creating customers in Xero as soon as they
are added and picks the tax number field by name; the customers linked by real drafts are listed, a customer Xero
could not tell apart comes first with what to do, and the admin links it to the Xero contact found by a search.
The settings and the link are put back at the end (the stack is shared with the other browser tests)."""

from datetime import UTC, datetime

from playwright.async_api import Page, expect
from pymongo import AsyncMongoClient

from pdx_common.xero_links import MongoXeroLinks
from tests.browser.flows import (
    DRAFT_TIMEOUT_MS,
    NZ,
    NZ_TENANT_ID,
    accept_confirmations,
    connected_to_both,
    drafts_for_deal,
)
from tests.browser.host import go_to, open_app
from tests.e2e.helpers import create_deal, eventually, move

LENA = "pd-person-203"  # Lena Fischer of Brightside GmbH (pdx_sandbox.pipedrive.seed)


async def test_an_admin_sets_up_the_sync_and_links_the_right_xero_contact(stack, page: Page, screenshot) -> None:
    await accept_confirmations(page)
    app = await open_app(page, stack)
    await connected_to_both(page, app)
    # Two real drafts link their organisations' Xero contacts (created, or found by the app).
    for org_id, title in ((101, "Browser: Kiwi customer"), (103, "Browser: Brightside customer")):
        deal = await create_deal(stack, title=title, org_id=org_id, person_id=None)
        await move(stack, deal["id"], "Won")
        await eventually(lambda d=deal: drafts_for_deal(stack, d["id"]), timeout=DRAFT_TIMEOUT_MS / 1000)

    client = AsyncMongoClient(stack.infra.mongo_url, tz_aware=True)
    db = client[stack.options.mongo_db]
    assert stack.seeded
    company = stack.seeded.company_id
    # What the xero-writer records when a person's update finds two Xero contacts that could be her.
    await db.record_syncs.replace_one({"_id": MongoXeroLinks.key(company, NZ_TENANT_ID, "contact", LENA)}, {
        "company_id": company, "tenant_id": NZ_TENANT_ID, "kind": "contact", "key": LENA, "name": "Lena Fischer",
        "state": "ambiguous", "xero_id": None, "at": datetime.now(UTC),
        "message": "Xero has 2 contacts that could be 'Lena Fischer': 'Brightside GmbH' (lena@brightside.example), "
                   "'Lena Fischer (old)'.",
        "fix": "In the app's settings, open Customers & products and link the right Xero contact to Lena Fischer."},
        upsert=True)
    try:
        await go_to(app, "Customers & products")
        await expect(app.get_by_role("heading", name="Customers & products", level=1)).to_be_visible()
        await expect(app.get_by_text("archives nothing in Xero")).to_be_visible()
        await app.get_by_label("Create customers and products in Xero as soon as they are added in Pipedrive").check()
        await app.get_by_label("Tax number").select_option(label="Tax number (on each organisation)")
        await app.get_by_role("button", name="Save").click()
        await expect(app.get_by_role("status")).to_have_text("✓ Saved.")
        await expect(app.get_by_label("Tax number")).to_have_value(
            await app.get_by_role("option", name="Tax number (on each organisation)").get_attribute("value"))

        table = app.locator("table.customers")
        await expect(app.get_by_role("heading", name=f"Linked customers in {NZ}")).to_be_visible()
        rows = table.locator("tbody tr.customer")
        await expect(rows.first).to_contain_text("Lena Fischer")  # the problem first
        await expect(rows.first).to_contain_text("Needs you")
        await expect(rows.first).to_contain_text("What to do:")
        await expect(table.locator("tr#c-pd-org-101")).to_contain_text("Kiwi Widgets Ltd")
        await expect(table.locator("tr#c-pd-org-103")).to_contain_text("Brightside GmbH")
        await screenshot(page, "customers")

        await app.get_by_role("link", name="Link a Xero contact to Lena Fischer").click()
        await app.get_by_label("Search Xero contacts").fill("Brightside")
        await app.get_by_role("button", name="Search").click()
        found = app.get_by_role("group", name="Xero contacts found for “Brightside”")
        await expect(found).to_contain_text("Brightside GmbH")
        await app.get_by_role("button", name="Link this contact").click()  # nothing chosen: said beside the list
        await expect(app.locator("#f-xero_contact_id-error")).to_have_text(
            "⚠ Choose the Xero contact to link to Lena Fischer.")
        await expect(app.get_by_role("alert")).to_contain_text("Nothing was saved")
        await screenshot(page, "customers-link-nothing-chosen")

        await app.get_by_role("group", name="Xero contacts found for “Brightside”").get_by_label(
            "Brightside GmbH", exact=False).first.check()
        await app.get_by_role("button", name="Link this contact").click()
        await expect(app.get_by_role("status")).to_contain_text(
            "Lena Fischer is now linked to Brightside GmbH in Xero")
        lena = table.locator(f"tr#c-{LENA}")
        await expect(lena).to_contain_text("Linked by an admin")
        await expect(lena).not_to_contain_text("Needs you")
        await screenshot(page, "customers-linked")
    finally:
        await MongoXeroLinks(db).forget(company, NZ_TENANT_ID, "contact", LENA)
        await db.record_syncs.delete_one({"_id": MongoXeroLinks.key(company, NZ_TENANT_ID, "contact", LENA)})
        await client.close()
        await go_to(app, "Customers & products")
        await app.get_by_label("Create customers and products in Xero as soon as they are added in Pipedrive").uncheck()
        await app.get_by_label("Tax number").select_option(label="None: send no tax number")
        await app.get_by_role("button", name="Save").click()
        await expect(app.get_by_role("status")).to_have_text("✓ Saved.")
