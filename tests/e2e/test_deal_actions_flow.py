"""Issue 11 on the whole stack, as salespeople and admins do it: Replay from the activity's link after a fix, Replay
regenerating a draft after a mapping change (same document, same number), an approved invoice left alone, "Create draft
quote" from the panel, and a deal marked won with Pipedrive's Won button."""

import json
import time

from pdx_devstack.peek import sandbox_post
from tests.e2e.deal_actions import action_link, confirm, modal, open_link
from tests.e2e.helpers import (
    activities,
    admin,
    create_deal,
    edit_deal,
    eventually,
    invoices_for_deal,
    move,
    quotes,
    subjects,
)


async def _with_subject(stack, deal_id: int, prefix: str, count: int = 1) -> list[dict] | None:
    found = await activities(stack, deal_id)
    return found if sum(s.startswith(prefix) for s in subjects(found)) >= count else None


async def _patch_settings(stack, patch: dict) -> None:
    code, answer = await admin(stack, "settings", "patch", json.dumps(patch), "--company", stack.seeded.company_id)
    assert code == 0, answer


async def test_a_failure_fixed_in_pipedrive_is_replayed_from_the_activity_link_into_one_draft(stack):
    deal = await create_deal(stack, title="Replay me from the note", org_id=None, person_id=None)
    await move(stack, deal["id"], "Won")
    [failure] = await eventually(lambda: activities(stack, deal["id"]))
    assert failure["subject"].startswith("Xero draft invoice not created")
    assert "/api/" not in failure["note"]  # no operator's address reaches a salesperson
    link = action_link(failure["note"])

    page = await open_link(link)  # a GET shows what will happen and changes nothing
    assert "Replay me from the note" in page
    assert await invoices_for_deal(stack, deal["id"]) == []

    await edit_deal(stack, deal["id"], org_id=103)  # the fix, in Pipedrive
    status, _ = await confirm(link)
    assert status == 200

    done = await eventually(lambda: _with_subject(stack, deal["id"], "Draft invoice"))
    assert any(s.endswith("created in Xero") for s in subjects(done))
    [invoice] = await invoices_for_deal(stack, deal["id"])
    assert invoice["Status"] == "DRAFT"


async def test_replay_after_a_mapping_change_updates_the_same_draft_and_makes_no_second(stack):
    deal = await create_deal(stack, title="Regenerate after a fix")
    await move(stack, deal["id"], "Won")
    await eventually(lambda: _with_subject(stack, deal["id"], "Draft invoice"))
    [before] = await invoices_for_deal(stack, deal["id"])
    assert before["Reference"] == "Regenerate after a fix"

    await _patch_settings(stack, {"fields": {"reference": "PD-{deal.id} {deal.title}"}})
    try:
        status, answer = await modal(stack, "replay", deal["id"], submit=False)
        assert status == 200 and "update" in json.dumps(answer).lower()
        status, answer = await modal(stack, "replay", deal["id"], submit=True)
        assert status == 200 and answer["success"]["type"] == "snackbar", answer

        updated = await eventually(lambda: _with_subject(stack, deal["id"], f"Draft invoice {before['InvoiceNumber']}"
                                                         " updated"))
        assert any("updated in Xero" in s for s in subjects(updated))
        [after] = await invoices_for_deal(stack, deal["id"])
        assert after["InvoiceID"] == before["InvoiceID"] and after["InvoiceNumber"] == before["InvoiceNumber"]
        assert after["Reference"] == f"PD-{deal['id']} Regenerate after a fix"
    finally:
        await _patch_settings(stack, {"fields": {"reference": "{deal.title}"}})


async def test_an_approved_invoice_is_not_touched_by_replay_and_the_activity_says_why(stack):
    deal = await create_deal(stack, title="Approved before the replay")
    await move(stack, deal["id"], "Won")
    await eventually(lambda: _with_subject(stack, deal["id"], "Draft invoice"))
    [invoice] = await invoices_for_deal(stack, deal["id"])
    await sandbox_post(stack.urls["xero"], f"/_sandbox/invoices/{invoice['InvoiceID']}/approve",
                       {"tenant_id": stack.seeded.tenant_id})
    await edit_deal(stack, deal["id"], title="Renamed after approval")

    status, answer = await modal(stack, "replay", deal["id"], submit=True)
    assert status == 200, answer
    found = await eventually(lambda: _with_subject(stack, deal["id"], "Replay left it untouched"))
    note = next(a for a in found if a["subject"].startswith("Replay left it untouched"))
    assert note["subject"] == f"Replay left it untouched: Invoice {invoice['InvoiceNumber']} is approved in Xero " \
                              "(awaiting payment)"
    assert "open it in Xero" in note["note"]
    [after] = await invoices_for_deal(stack, deal["id"])
    assert after["Status"] == "AUTHORISED" and after["Reference"] == invoice["Reference"]
    assert after["UpdatedDateUTC"] == invoice["UpdatedDateUTC"] or after["LineItems"] == invoice["LineItems"]


async def test_create_draft_quote_from_the_panel_makes_one_quote_and_refuses_a_second(stack):
    deal = await create_deal(stack, title="Quote me on demand")  # in "Negotiations Started": no trigger there
    status, answer = await modal(stack, "create-quote", deal["id"], submit=False)
    assert status == 200, answer
    status, answer = await modal(stack, "create-quote", deal["id"], submit=True)
    assert status == 200 and answer["success"]["type"] == "snackbar", answer

    await eventually(lambda: _with_subject(stack, deal["id"], "Draft quote"))
    mine = [q for q in await quotes(stack) if f"/deal/{deal['id']}?" in (q.get("Url") or "")
            or q.get("Title") == "Quote me on demand"]
    assert len(mine) == 1 and mine[0]["Status"] == "DRAFT"

    # Pressed again in another opening of the modal: refused, naming the quote that exists.
    status, answer = await modal(stack, "create-quote", deal["id"], submit=True, issued_at=time.time() - 30)
    assert status == 400 and mine[0]["QuoteNumber"] in answer["error"]["message"], answer
    assert len([q for q in await quotes(stack) if q.get("Title") == "Quote me on demand"]) == 1


async def test_a_deal_marked_won_with_the_won_button_makes_one_draft_and_re_winning_makes_none(stack):
    await _patch_settings(stack, {"won_triggers": [{"pipeline_id": 2, "action": "invoice"}]})
    try:
        deal = await create_deal(stack, title="Won by the button", pipeline_id=2, stage="Renewal due",
                                 org_id=102, person_id=202)
        await edit_deal(stack, deal["id"], status="won")  # the Won button: status changes, the stage stays
        await eventually(lambda: _with_subject(stack, deal["id"], "Draft invoice"))
        await edit_deal(stack, deal["id"], status="open")
        await edit_deal(stack, deal["id"], status="won")
        await eventually(lambda: _with_subject(stack, deal["id"], "No Xero draft"))
        assert len(await invoices_for_deal(stack, deal["id"])) == 1
    finally:
        await _patch_settings(stack, {"won_triggers": []})
