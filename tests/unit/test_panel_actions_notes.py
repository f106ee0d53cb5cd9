"""Replay from the deal: a failure's activity carries a signed Replay link (escaped, never an API path), a Replay's
update in place reads as one, and the deal panel shows a failure first with its fix and Replay, within Pipedrive's
limits."""

from datetime import date
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from pdx_common.contracts import DocumentFailed, DocumentSkipped, DocumentUpdated
from pdx_common.signed_links import verify
from pdx_crmcard.domain import activities, panel
from pdx_crmcard.domain.panel_limits import problems
from pdx_crmcard.links import DealLinks

KEY = "a-link-signing-key-of-at-least-32-characters"
NOW = 1_800_000_000
FAILED = DocumentFailed(company_id="7001", deal_id="42", trigger_id="p1-s5", kind="invoice", stage="mapping",
                        code="product_code_required", message="Product code required for “Widget <b>”.",
                        fix="Add a product code to the product in Pipedrive.")


def links(base: str | None = "https://gw.example/") -> DealLinks:
    return DealLinks(base, KEY, ttl_seconds=86400, clock=lambda: NOW)


def test_the_replay_link_is_signed_for_the_company_and_deal_and_expires() -> None:
    url = links().replay("7001", "42")
    assert url is not None and url.startswith("https://gw.example/deal/replay?")
    query = dict(parse_qsl(urlsplit(url).query))
    assert verify(KEY, "deal-replay", query, ("company_id", "deal_id"), NOW) == {"company_id": "7001",
                                                                                  "deal_id": "42"}
    assert query["expires"] == str(NOW + 86400)
    with pytest.raises(Exception, match="not valid"):
        verify(KEY, "deal-create-invoice", query, ("company_id", "deal_id"), NOW)  # not another action's link


@pytest.mark.parametrize(("base", "key"), [(None, KEY), ("https://gw.example", None), ("", KEY)])
def test_without_an_address_or_key_there_is_no_link(base, key) -> None:
    assert DealLinks(base, key, ttl_seconds=3600).replay("7001", "42") is None


def test_a_failure_note_links_to_replay_and_escapes_everything() -> None:
    url = links().replay("7001", "42")
    note = activities.failed(FAILED, "POST /api/companies/{company_id}/deals/{deal_id}/replay", url).note
    assert f'Once fixed, <a href="{url.replace("&", "&amp;")}">Replay this deal</a>.' in note
    assert "Widget &lt;b&gt;" in note and "<b>”" not in note
    assert "/api/" not in note and "POST" not in note


@pytest.mark.parametrize("url", [None, "javascript:alert(1)"])
def test_without_a_usable_link_the_note_names_the_sync_log(url) -> None:
    note = unescape(activities.failed(FAILED, "", url).note)
    assert "once fixed, ask an admin to replay it in the app's Sync log" in note and "<a " not in note


def updated_event(**fields) -> DocumentUpdated:
    values = {"company_id": "7001", "deal_id": "42", "command_id": "c2", "trigger_id": "p1-s5", "kind": "invoice",
              "tenant_id": "t", "xero_id": "x1", "number": "INV-0007", "total": Decimal("1725"),
              "currency_code": "NZD", "status": "DRAFT", "xero_url": "https://go.xero.com/inv/x1",
              "contact_name": "Kiwi <Widgets>", "issue_date": date(2026, 11, 30), **fields}
    return DocumentUpdated(**values)


def test_an_update_in_place_says_updated_with_the_number_customer_total_and_link() -> None:
    text = activities.updated(updated_event())
    assert text.subject == "Draft invoice INV-0007 updated in Xero"
    assert "<b>INV-0007</b> for Kiwi &lt;Widgets&gt;, total NZD 1,725.00" in text.note
    assert "nothing was sent to the customer" in text.note
    assert '<a href="https://go.xero.com/inv/x1">Open the draft in Xero</a>' in text.note


@pytest.mark.parametrize(("reason", "subject"), [
    # The writer's words (pdx_writer.domain.regenerate).
    ("Invoice INV-0007 is approved in Xero (awaiting payment), so Replay left it untouched: an approved invoice is "
     "changed in Xero itself. To change it, open it in Xero and choose Invoice options > Edit.",
     "Replay left it untouched: Invoice INV-0007 is approved in Xero (awaiting payment)"),
    ("Draft invoice INV-0008 was not updated in Xero and is unchanged. The account code 999 is not in Xero. Choose "
     "another.", "Draft invoice INV-0008 not updated: The account code 999 is not in Xero"),
    ("Draft quote QU-0002 could not be found in Xero any more, so nothing was updated. Replay does not make a second "
     "quote.", "Not updated: Draft quote QU-0002 could not be found in Xero any more, so nothing was updated"),
    ("The deal's trigger already made its draft.", "No Xero draft: The deal's trigger already made its draft"),
])
def test_a_skip_after_a_replay_says_no_draft_was_updated(reason, subject) -> None:
    skipped = DocumentSkipped(company_id="7001", deal_id="42", trigger_id="p1-s5", source_event_id="e", reason=reason)
    assert activities.skipped(skipped).subject == subject


FAILURE_RECORD = {"trigger_id": "p1-s5", "state": "failed", "code": "product_code_required",
                  "message": "Product code required. The line “Widget” has none.", "fix": "Add a code. " * 40}


def doc(n: int) -> dict:
    return {"_id": f"k{n}", "kind": "invoice", "xero_id": f"id-{n}", "number": f"INV-{n:04}", "status": "DRAFT",
            "date": f"2026-10-{n:02}", "total": "10.00", "amount_due": "10.00", "currency": "NZD", "contact_id": "c"}


def test_the_panel_shows_a_failure_first_with_its_fix_and_replay_within_pipedrives_limits() -> None:
    url = links().replay("7001", "42")
    failure = panel.failure_object(FAILURE_RECORD, url)
    view = panel.PanelView(title="Kiwi", documents=[doc(n) for n in range(1, 15)], today=date(2026, 11, 30),
                           settings_url="https://x.pipedrive.com/s", deal_id="42", failures=[failure])
    body = panel.render(view)
    assert problems(body) == []
    first = body["data"][0]
    assert first["header"] == "Not created: Product code required"
    assert first["replay"] == {"label": "Replay this deal", "value": url, "external": True}
    assert len(first["fix"]) <= panel.TEXT_LIMIT and first["fix"].startswith("Add a code.")
    assert len(body["data"]) == panel.MAX_OBJECTS
    assert body["data"][1]["id"] == "summary" and "Showing 8 of 14 documents" in body["data"][1]["note"]


def test_a_failure_shows_above_a_message_panel_and_without_links_says_where_to_replay() -> None:
    failure = panel.failure_object(FAILURE_RECORD, None)
    body = panel.with_failures(panel.message("not-in-xero", "Not in Xero yet", "No contact.", "https://x/s"),
                               [failure])
    assert problems(body) == []
    assert [o["id"] for o in body["data"]] == ["failed-p1-s5", "not-in-xero"]
    assert "replay" not in failure and failure["fix"].endswith("ask an admin to replay it in the app's Sync log.")


@pytest.mark.parametrize("value", [{"value": "javascript:x", "external": True}, {"value": "https://x"},
                                   {"value": "https://x", "external": True, "target": "_top"}])
def test_a_link_field_must_be_a_url_with_external(value) -> None:
    body = {"data": [{"id": "f", "header": "Not created", "replay": value}]}
    assert problems(body) != []


def test_a_long_message_heads_the_failure_by_its_first_clause_and_a_fix_naming_replay_is_not_repeated() -> None:
    record = {"trigger_id": "p1-won", "message": "The deal has no customer: it is linked to neither an organisation "
                                                 "nor a person.",
              "fix": "Link an organisation or a person to the deal in Pipedrive, then replay the deal."}
    failure = panel.failure_object(record, "https://gw.example/deal/replay?x=1")
    assert failure["header"] == "Not created: The deal has no customer"
    assert failure["fix"] == "Link an organisation or a person to the deal in Pipedrive, then replay the deal."
