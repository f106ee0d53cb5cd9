"""What a deal action says it will do: an approved invoice is left alone (said up front), and a deal that has an
invoice from any trigger is not invoiced again on demand unless the admin allows more."""

from pdx_common.company_settings import CompanySettings
from pdx_gateway.deal_actions import plan

SETTINGS = CompanySettings(triggers=[{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}])
MADE = {"state": "created", "trigger_id": "p1-s5", "kind": "invoice", "number": "INV-0001", "xero_id": "x1"}


def test_replay_says_an_approved_invoice_is_left_untouched():
    steps = plan.replay_plan([{**MADE, "xero_status": "AUTHORISED"}], SETTINGS, {5: "Won"}, has_stage_move=True).steps
    assert [s.text for s in steps] == ["Invoice INV-0001 is approved in Xero (awaiting payment), so Replay leaves it "
                                       "untouched: Replay only updates drafts. Change it in Xero itself."]


def test_replay_of_a_draft_updates_it():
    [step] = plan.replay_plan([{**MADE, "xero_status": "DRAFT"}], SETTINGS, {5: "Won"}, has_stage_move=True).steps
    assert step.text.startswith("Draft invoice INV-0001 will be updated")


def test_create_invoice_is_refused_when_a_trigger_already_invoiced_the_deal():
    refusal = plan.create_refusal("invoice", SETTINGS, [MADE], xero_connected=True)
    assert refusal is not None and "INV-0001" in refusal.message and "made by the app" in refusal.message
    assert "allow it under Triggers" in (refusal.fix or "")


def test_a_quote_may_still_be_created_beside_an_invoice():
    assert plan.create_refusal("quote", SETTINGS, [MADE], xero_connected=True) is None


def test_with_more_than_once_another_invoice_is_made_and_said_so():
    more = SETTINGS.model_copy(update={"on_demand": SETTINGS.on_demand.model_copy(update={"more_than_once": True})})
    assert plan.create_refusal("invoice", more, [MADE], xero_connected=True) is None
    made = plan.create_plan("invoice", more, [MADE], "Demo Company (NZ)", None)
    assert made.steps[-1].text == "This deal already has invoice INV-0001 in Xero; this makes another."
