"""From a Pipedrive stage move to a DRAFT invoice in Xero and an activity on the deal, through every service."""

import asyncio

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
    await asyncio.sleep(3)  # room for a second draft or activity to appear, if the redeliveries made one
    assert len(await invoices_for_deal(stack, deal["id"])) == 1
    assert len(await activities(stack, deal["id"])) == 1
