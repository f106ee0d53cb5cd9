"""The failure note on the deal tells the salesperson where a replay happens in words, never as an API call."""

from html import unescape

import pytest

from pdx_common.contracts import DocumentFailed, DocumentParked
from pdx_crmcard.domain import activities

FAILED = DocumentFailed(company_id="7001", deal_id="42", stage="mapping", code="no_customer",
                        message="The deal has no customer.", fix="Link a person to the deal in Pipedrive.")


@pytest.mark.parametrize("hint", ["POST /api/companies/{company_id}/deals/{deal_id}/replay on the gateway",
                                  "GET /api/x", "", "  "])
def test_an_api_call_as_the_replay_hint_becomes_the_sync_log_in_words(hint):
    note = unescape(activities.failed(FAILED, hint).note)
    assert "/api/" not in note and "POST" not in note
    assert "Replay:</b> once fixed, ask an admin to replay it in the app's Sync log (Pipedrive: Settings > " \
           "Apps > Xero drafts > Sync log).</p>" in note


def test_a_plain_replay_hint_set_by_the_operator_is_kept():
    note = activities.failed(FAILED, "ask Ann in accounts to replay deal {deal_id}").note
    assert "once fixed, ask Ann in accounts to replay deal 42.</p>" in note


def test_the_waiting_note_names_the_connections_section():
    parked = DocumentParked(company_id="7001", deal_id="42", command_id="c1", trigger_id="p1-s5", kind="invoice",
                            reason="Xero is disconnected.")
    assert "Xero drafts &gt; Connections &gt; Reconnect Xero" in activities.parked(parked).note
