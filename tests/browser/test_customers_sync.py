"""Customers & products from Pipedrive's host page: the admin switches on creating customers in Xero as soon as they
are added and picks the tax number field by name; the customers linked by real drafts are listed, a customer Xero
could not tell apart comes first with what to do, and the admin links it to the Xero contact found by a search: the
contact that already stands for her organisation is shown so and refused, the one standing for nobody is linked.
The settings and the link are put back at the end (the stack is shared with the other browser tests)."""

import shutil
from datetime import UTC, datetime

import aiohttp
import pytest
from playwright.async_api import Page, expect
from pymongo import AsyncMongoClient

from pdx_common.connections import ConnectionStore
from pdx_common.crypto import TokenCipher
from pdx_common.xero_links import MongoXeroLinks
from pdx_devstack.peek import sandbox_get, sandbox_post
from tests.browser.conftest import SCREENSHOTS, screenshot_folder
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
OLD_LENA = "Lena Fischer (old)"  # a contact made in Xero by hand: it stands for nobody


@pytest.fixture(autouse=True)
def fresh_screenshots(request: pytest.FixtureRequest) -> None:
    """An earlier run's pictures (a failed.png, an older wording) go first: the folder holds this run's only."""
    shutil.rmtree(SCREENSHOTS / screenshot_folder(request.node.name), ignore_errors=True)


async def contact_made_in_xero(stack, db, name: str) -> None:
    """A contact someone added in Xero itself (once: Xero's names are unique), through Xero's API with the company's
    own connection."""
    contacts = await sandbox_get(stack.urls["xero"], f"/_sandbox/tenants/{NZ_TENANT_ID}/contacts")
    if any(c.get("Name") == name and c.get("ContactStatus", "ACTIVE") == "ACTIVE" for c in contacts):
        return
    store = ConnectionStore(db, TokenCipher(stack.token_key))
    token = store.decrypt(await store.get("xero", stack.seeded.company_id), "access_token")
    async with aiohttp.ClientSession() as http, http.put(
            f"{stack.urls['xero']}/api.xro/2.0/Contacts", json={"Contacts": [{"Name": name}]},
            headers={"Authorization": f"Bearer {token}", "xero-tenant-id": NZ_TENANT_ID,
                     "Accept": "application/json"}) as resp:
        assert resp.status == 200, await resp.text()


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
    await contact_made_in_xero(stack, db, OLD_LENA)
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
        # Her organisation's contact is shown as Organisation 103's.
        await expect(found.locator(".field-radio", has_text="Brightside GmbH")).to_contain_text(
            "Already Organisation 103 in Pipedrive")
        await app.get_by_role("button", name="Link this contact").click()  # nothing chosen: said beside the list
        await expect(app.locator("#f-xero_contact_id-error")).to_have_text(
            "⚠ Choose the Xero contact to link to Lena Fischer.")
        await expect(app.get_by_role("alert")).to_contain_text("Nothing was saved")
        await screenshot(page, "customers-link-nothing-chosen")

        await found.get_by_label("Brightside GmbH", exact=False).check()
        await app.get_by_role("button", name="Link this contact").click()  # another record's contact: refused
        await expect(app.locator("#f-xero_contact_id-error")).to_contain_text(
            "Brightside GmbH already stands for Organisation 103 in Pipedrive")
        await expect(app.locator("#f-xero_contact_id-error")).to_contain_text(
            "Choose a contact that stands for nobody else")
        await expect(found.get_by_label("Brightside GmbH", exact=False)).to_be_checked()  # the choice kept
        await screenshot(page, "customers-link-refused")

        await app.get_by_label("Search Xero contacts").fill("Lena")
        await app.get_by_role("button", name="Search").click()
        found = app.get_by_role("group", name="Xero contacts found for “Lena”")
        await expect(found.locator(".field-radio", has_text=OLD_LENA)).to_be_visible()
        await expect(found.locator(".field-radio", has_text=OLD_LENA)).not_to_contain_text("Already")
        await app.get_by_role("group", name="Xero contacts found for “Lena”").get_by_label(
            OLD_LENA, exact=False).check()
        await app.get_by_role("button", name="Link this contact").click()
        await expect(app.get_by_role("status")).to_contain_text(
            f"Lena Fischer is now linked to {OLD_LENA} in Xero. The app sends Lena Fischer's details from Pipedrive "
            "to that contact within a minute")
        lena = table.locator(f"tr#c-{LENA}")
        await expect(lena).to_contain_text("Linked by an admin")
        await expect(lena).to_contain_text(OLD_LENA)
        await expect(lena).not_to_contain_text("Needs you")
        await screenshot(page, "customers-linked")
    finally:
        await MongoXeroLinks(db).forget(company, NZ_TENANT_ID, "contact", LENA)
        await db.record_syncs.delete_one({"_id": MongoXeroLinks.key(company, NZ_TENANT_ID, "contact", LENA)})
        await db.record_changes.delete_one({"_id": f"{company}:person:203"})  # the sync the link queued
        await client.close()
        await go_to(app, "Customers & products")
        await app.get_by_label("Create customers and products in Xero as soon as they are added in Pipedrive").uncheck()
        await app.get_by_label("Tax number").select_option(label="None: send no tax number")
        await app.get_by_role("button", name="Save").click()
        await expect(app.get_by_role("status")).to_have_text("✓ Saved.")


async def test_an_admin_sees_that_pipedrive_is_not_sending_changes_and_tries_again(stack, page: Page,
                                                                                   screenshot) -> None:
    """A company installed before people, organisations and products had webhooks: the page says Pipedrive is not
    sending their changes; Try again fails once (Pipedrive refuses), says why, then works."""
    assert stack.seeded
    company = stack.seeded.company_id
    client = AsyncMongoClient(stack.infra.mongo_url, tz_aware=True)
    db = client[stack.options.mongo_db]
    await db.companies.update_one({"_id": company}, {"$unset": {
        "webhook_ids.person": "", "webhook_ids.organization": "", "webhook_ids.product": "", "webhooks_state": ""}})
    await sandbox_post(stack.urls["pipedrive"], "/_sandbox/faults", {
        "status": 403, "paths": ["/api/v1/webhooks"], "methods": ["POST"], "count": 1})
    try:
        app = await open_app(page, stack)
        await go_to(app, "Customers & products")
        warning = app.locator("#webhooks-warning")
        await expect(warning).to_contain_text(
            "Pipedrive is not sending this app changes of people, organisations and products, so Xero is not updated "
            "when they change. Reconnect Pipedrive under Connections, or press Try again.")
        await screenshot(page, "customers-not-sending")

        await warning.get_by_role("button", name="Try again").click()
        await expect(app.get_by_role("alert")).to_contain_text(
            "Pipedrive still does not send changes of people, organisations and products: Pipedrive refused the "
            "app's request to add them (403).")
        await expect(warning).to_contain_text("(Pipedrive refused the app's request to add them (403), ")
        await screenshot(page, "customers-try-again-refused")

        await warning.get_by_role("button", name="Try again").click()
        await expect(app.get_by_role("status")).to_have_text(
            "✓ Pipedrive now sends this app changes of people, organisations and products.")
        await expect(app.locator("#webhooks-warning")).to_have_count(0)
        await screenshot(page, "customers-sending-again")
        doc = await db.companies.find_one({"_id": company})
        assert {"deal", "person", "organization", "product"} <= doc["webhook_ids"].keys()
    finally:
        async with aiohttp.ClientSession() as http, http.delete(f"{stack.urls['pipedrive']}/_sandbox/faults"):
            pass
        await client.close()
