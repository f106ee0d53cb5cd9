"""What the deal is told when a Replay cannot update its draft: the state in Xero, and what to do there."""

import pytest

from pdx_writer.domain.explain import Explanation
from pdx_writer.domain.regenerate import event_id, not_updated_reason, untouched_reason

INVOICE_STATES = ["SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"]
QUOTE_STATES = ["SENT", "ACCEPTED", "DECLINED", "INVOICED", "DELETED"]


@pytest.mark.parametrize(("kind", "number", "status"), [("invoice", "INV-0007", s) for s in INVOICE_STATES]
                         + [("quote", "QU-0003", s) for s in QUOTE_STATES] + [("invoice", "INV-0007", "ARCHIVED")])
def test_every_state_past_draft_says_why_and_what_to_do(kind: str, number: str, status: str) -> None:
    reason = untouched_reason(kind, number, status)
    assert reason.startswith(f"{kind.title()} {number} ") and ", so Replay left it untouched: " in reason
    assert "Xero" in reason.split("untouched: ")[1] and reason.endswith(".")
    assert status not in reason or status == "ARCHIVED"  # Xero's words for people, not its codes


def test_the_approved_invoice_reason_reads_as_promised() -> None:
    assert untouched_reason("invoice", "INV-0007", "AUTHORISED") == (
        "Invoice INV-0007 is approved in Xero (awaiting payment), so Replay left it untouched: an approved invoice "
        "is changed in Xero itself. To change it, open it in Xero and choose Invoice options > Edit (possible while "
        "no payment is recorded), or void it there and create a new invoice in Xero.")
    assert untouched_reason("invoice", "INV-0007", "PAID")[:64] == (
        "Invoice INV-0007 is paid in Xero, so Replay left it untouched: a")


def test_a_refused_update_says_the_draft_is_unchanged_and_how_to_fix() -> None:
    exp = Explanation("unknown_item", "Xero has no item with code 'X-1'.", "Create the item in Xero, then replay.")
    assert not_updated_reason("quote", "QU-0003", exp) == (
        "Draft quote QU-0003 was not updated in Xero and is unchanged. Xero has no item with code 'X-1'. "
        "Create the item in Xero, then replay.")


def test_announcements_of_one_command_share_an_id() -> None:
    assert event_id("7001:42:p1-s5", "c1", "updated") == event_id("7001:42:p1-s5", "c1", "updated")
    assert event_id("7001:42:p1-s5", "c1", "updated") != event_id("7001:42:p1-s5", "c2", "updated")
    assert event_id("7001:42:p1-s5", "c1", "updated") != event_id("7001:42:p1-s5", "c1", "skipped")
