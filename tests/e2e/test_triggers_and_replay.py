"""Triggers in two pipelines, a failure explained on the deal, fixed and replayed, re-entry, bulk replay."""

from pdx_sandbox.pipedrive import PipedriveState
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


async def test_a_deal_entering_the_quote_stage_of_the_renewals_pipeline_becomes_a_draft_quote(stack):
    deal = await create_deal(stack, title="Renewal 2027", pipeline_id=2, stage="Renewal due", org_id=102,
                             person_id=202)
    await move(stack, deal["id"], "Quote requested")

    [activity] = await eventually(lambda: activities(stack, deal["id"]))
    assert activity["subject"].startswith("Draft quote QU-") and activity["subject"].endswith("created in Xero")
    number = activity["subject"].split()[2]
    [quote] = [q for q in await quotes(stack) if q["QuoteNumber"] == number]
    assert quote["Status"] == "DRAFT" and quote["Title"] == "Renewal 2027"
    assert await invoices_for_deal(stack, deal["id"]) == []


async def test_a_failure_is_explained_on_the_deal_then_fixed_and_replayed(stack):
    company = stack.seeded.company_id
    deal = await create_deal(stack, title="Nobody to invoice", org_id=None, person_id=None)
    await move(stack, deal["id"], "Won")

    [failure] = await eventually(lambda: activities(stack, deal["id"]))
    assert failure["subject"].startswith("Xero draft invoice not created: The deal has no customer")
    assert "Link an organisation or a person to the deal" in failure["note"] and "replay" in failure["note"]
    code, status = await admin(stack, "status", "--company", company, "--deal", str(deal["id"]))
    assert code == 0 and [s["state"] for s in status] == ["failed"]

    await edit_deal(stack, deal["id"], org_id=103)  # the fix, in Pipedrive; not a stage move, so nothing fires
    code, answer = await admin(stack, "replay", "--company", company, "--deal", str(deal["id"]))
    assert code == 0 and answer["replayed"] == str(deal["id"])

    done = await eventually(lambda: _has_subject(stack, deal["id"], "Draft invoice"))
    assert subjects(done)[0].startswith("Xero draft invoice not created")
    [invoice] = await invoices_for_deal(stack, deal["id"])
    assert invoice["Status"] == "DRAFT"


async def test_re_entering_the_stage_makes_no_second_draft_and_says_so(stack):
    deal = await create_deal(stack, title="In and out of Won")
    await move(stack, deal["id"], "Won")
    await eventually(lambda: _has_subject(stack, deal["id"], "Draft invoice"))
    await move(stack, deal["id"], "Negotiations Started")
    await move(stack, deal["id"], "Won")

    found = await eventually(lambda: _has_subject(stack, deal["id"], "No Xero draft"))
    assert "already has draft invoice INV-" in found[-1]["subject"] + found[-1]["note"]
    assert len(await invoices_for_deal(stack, deal["id"])) == 1


async def test_replay_failed_replays_every_failed_deal_of_the_company(stack):
    company = stack.seeded.company_id
    deals = [await create_deal(stack, title=f"Yen deal {n}", currency="JPY") for n in (1, 2)]
    for deal in deals:
        await move(stack, deal["id"], "Won")
    for deal in deals:
        [failure] = await eventually(lambda d=deal: activities(stack, d["id"]))
        assert "JPY" in failure["subject"] + failure["note"] and "Currencies" in failure["note"]

    for deal in deals:
        await edit_deal(stack, deal["id"], currency="NZD")
    code, answer = await admin(stack, "replay-failed", "--company", company)
    assert code == 0 and {str(d["id"]) for d in deals} <= set(answer["replayed"])
    for deal in deals:
        await eventually(lambda d=deal: _has_subject(stack, d["id"], "Draft invoice"))
        assert len(await invoices_for_deal(stack, deal["id"])) == 1


async def test_settings_changed_through_the_cli_steer_the_next_draft(stack):
    company = stack.seeded.company_id
    code, before = await admin(stack, "settings", "get", "--company", company)
    assert code == 0
    code, _ = await admin(stack, "settings", "patch", '{"customer": {"contact_from": "person"}}', "--company", company)
    assert code == 0
    try:
        deal = await create_deal(stack, title="Invoice the person", org_id=104, person_id=204)
        await move(stack, deal["id"], "Won")
        await eventually(lambda: _has_subject(stack, deal["id"], "Draft invoice"))
        [invoice] = await invoices_for_deal(stack, deal["id"])
        person = (await _person(stack, 204))["name"]
        assert invoice["Contact"]["Name"] == person
    finally:
        await admin(stack, "settings", "patch", '{"customer": {"contact_from": "organization_then_person"}}',
                    "--company", company)


async def _has_subject(stack, deal_id: int, prefix: str) -> list[dict] | None:
    found = await activities(stack, deal_id)
    return found if any(s.startswith(prefix) for s in subjects(found)) else None


async def _person(stack, person_id: int) -> dict:
    return PipedriveState().persons[person_id]  # the sandbox's seed, as the running sandbox has it
