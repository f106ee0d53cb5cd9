"""From a Pipedrive stage move to a DRAFT invoice in Xero and an activity on the deal, through every service."""


from pdx_devstack.peek import sandbox_post
from tests.e2e.helpers import activities, create_deal, events_for, eventually, invoices_for_deal, move


async def test_a_deal_moved_to_won_becomes_a_draft_invoice_and_an_activity(stack):
    await move(stack, 1, "Won")  # the seeded demo deal, as the README's demo command does

    [invoice] = await eventually(lambda: invoices_for_deal(stack, 1))
    assert invoice["Status"] == "DRAFT" and invoice["Type"] == "ACCREC"
    assert invoice["Contact"]["Name"] and invoice["CurrencyCode"] == "NZD"
    assert [line.get("ItemCode") for line in invoice["LineItems"]] == ["CONSULT-HR", "WIDGET-01"]

    [activity] = await eventually(lambda: activities(stack, 1))
    assert activity["subject"] == f"Draft invoice {invoice['InvoiceNumber']} created in Xero"
    assert invoice["InvoiceID"] in activity["note"]


async def test_one_event_delivered_four_times_makes_one_draft(stack):
    deal = await create_deal(stack, title="Delivered four times")
    await move(stack, deal["id"], "Won")
    event_id = (await eventually(lambda: events_for(stack, deal["id"])))[-1]["id"]
    await sandbox_post(stack.urls["pipedrive"], "/_sandbox/webhooks/redeliver", {"event_id": event_id, "times": 3})

    await eventually(lambda: activities(stack, deal["id"]))
    # A barrier instead of a pause: the deal re-enters Won, and its "no second draft" activity can only come after
    # everything the redeliveries could have caused (one deal's events, commands and results keep their order).
    await move(stack, deal["id"], "Negotiations Started")
    await move(stack, deal["id"], "Won")
    found = await eventually(lambda: _two(stack, deal["id"]))
    assert found[0]["subject"].startswith("Draft invoice") and found[1]["subject"].startswith("No Xero draft")
    assert len(await invoices_for_deal(stack, deal["id"])) == 1


async def _two(stack, deal_id: int) -> list[dict] | None:
    found = await activities(stack, deal_id)
    assert len(found) <= 2, found
    return found if len(found) == 2 else None
