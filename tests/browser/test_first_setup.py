"""An admin sets the app up from Pipedrive's host page, as the product promises: connects Xero (Xero's consent page
in a new window, two organisations, one chosen), adds a trigger by picking the pipeline and stage by name, maps the
invoice reference to a custom field, previews the draft (nothing written), and a deal moved into the stage becomes a
DRAFT invoice whose Reference is that field's value. The history says who changed what."""

from playwright.async_api import FrameLocator, Page, expect

from pdx_sandbox.pipedrive.seed import PO_NUMBER_FIELD_KEY
from tests.browser.flows import DRAFT_TIMEOUT_MS, NZ, accept_confirmations, connected_to_both, drafts_for_deal
from tests.browser.host import go_to, open_app
from tests.e2e.helpers import create_deal, eventually, move

PO_NUMBER = "PO-BROWSER-7781"
REFERENCE = "{deal.custom.PO number}"


async def test_an_admin_connects_adds_a_trigger_maps_the_reference_and_a_moved_deal_gets_it(stack, page: Page,
                                                                                            screenshot) -> None:
    await accept_confirmations(page)
    app = await open_app(page, stack)

    await connected_to_both(page, app, use=NZ)
    await expect(app.get_by_role("status")).to_contain_text(f"Xero is connected to {NZ}")
    await expect(app.locator("#xero-org")).to_have_text(NZ)
    await screenshot(page, "connections")

    await add_trigger(app, pipeline="Sales", stage="Proposal Made", document="Invoice")
    await expect(app.locator(".sentence").filter(has_text="Proposal Made")).to_have_text(
        f"Deals entering Proposal Made in Sales become a DRAFT invoice in {NZ}.")
    await screenshot(page, "triggers")

    await map_reference(app, REFERENCE)
    await screenshot(page, "mappings")

    deal = await create_deal(stack, title="Browser: reference from the PO number", stage="Contact Made",
                             custom_fields={PO_NUMBER_FIELD_KEY: PO_NUMBER})
    await preview(app, deal)
    await expect(app.get_by_role("heading", name=f"DRAFT invoice for {deal['title']} in {NZ}")).to_be_visible()
    await expect(app.get_by_role("row", name="Reference")).to_contain_text(PO_NUMBER)
    await screenshot(page, "preview")
    assert await drafts_for_deal(stack, deal["id"]) == []  # a preview writes nothing

    await move(stack, deal["id"], "Proposal Made")
    [draft] = await eventually(lambda: drafts_for_deal(stack, deal["id"]), timeout=DRAFT_TIMEOUT_MS / 1000)
    assert draft["Status"] == "DRAFT" and draft["Type"] == "ACCREC"
    assert draft["Reference"] == PO_NUMBER

    await go_to(app, "History")
    latest = app.locator("ol.history > li").first
    await expect(latest).to_contain_text("Sandbox Admin")
    await expect(latest.get_by_role("row").filter(has_text="Invoice reference")).to_contain_text(REFERENCE)
    await expect(app.locator("ol.history > li").nth(1)).to_contain_text(
        "Added: Deals entering Proposal Made in Sales become a DRAFT invoice.")
    await screenshot(page, "history")


async def add_trigger(app: FrameLocator, *, pipeline: str, stage: str, document: str) -> None:
    await go_to(app, "Triggers")
    new = app.get_by_role("group", name="Add a trigger")
    await new.get_by_label("Pipeline").select_option(label=pipeline)
    await new.get_by_label("Stage").select_option(label=stage)
    await new.get_by_label("Document").select_option(label=document)
    await app.get_by_role("button", name="Save triggers").click()
    await expect(app.get_by_role("status")).to_have_text("✓ Saved.")


async def map_reference(app: FrameLocator, template: str) -> None:
    await go_to(app, "Field mappings")
    await expect(app.get_by_role("cell", name=template, exact=True)).to_be_visible()  # offered among the placeholders
    await app.get_by_label("Invoice reference").fill(template)
    await app.get_by_role("button", name="Save").click()
    await expect(app.get_by_role("status")).to_have_text("✓ Saved.")
    await expect(app.get_by_label("Invoice reference")).to_have_value(template)


async def preview(app: FrameLocator, deal: dict) -> None:
    """Pick the deal by its title among the recently changed deals, as an admin would."""
    await go_to(app, "Preview")
    await app.get_by_label("Deal", exact=True).select_option(label=f"{deal['title']} (#{deal['id']})")
    await app.get_by_label("Document").select_option(label="Invoice")
    await app.get_by_role("button", name="Preview").click()
