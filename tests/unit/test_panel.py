"""The panel's pure parts: rendering, Pipedrive's limits, which Xero changes are news, tokens and signatures."""

import base64
import hashlib
import hmac
import time
from datetime import date

import jwt
import pytest

from pdx_common.pipedrive_jwt import PipedriveJwtError, verify
from pdx_crmcard.domain import activities, documents, panel
from pdx_crmcard.domain.panel_limits import ALLOWED_TYPES, problems
from pdx_crmcard.entrypoints.xero_webhooks import signature_ok

TODAY = date(2026, 11, 27)
SECRET = "a-panel-secret-that-is-long-enough-for-hs256-and-even-for-hs512-x"


def doc(n: int = 1, **fields) -> dict:
    base = {"_id": f"k{n}", "kind": "invoice", "xero_id": f"id-{n}", "number": f"INV-{n:04}", "status": "AUTHORISED",
            "date": "2026-10-01", "due_date": "2026-11-20", "total": "115.00", "amount_due": "115.00",
            "amount_paid": "0.00", "currency": "NZD", "contact_id": "c1", "contact_name": "Kowhai Design Ltd",
            "url": "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=id-1"}
    return {**base, **fields}


def view(docs: list[dict], **fields) -> panel.PanelView:
    return panel.PanelView(**{"title": "Kowhai Design Ltd", "documents": docs, "today": TODAY,
                              "settings_url": "https://x.pipedrive.com/settings", **fields})


@pytest.mark.parametrize(("fields", "label", "overdue"), [
    ({}, {"color": "blue", "label": "Awaiting payment"}, "Overdue 7 days"),
    ({"due_date": "2026-11-26"}, {"color": "blue", "label": "Awaiting payment"}, "Overdue 1 day"),
    ({"due_date": "2026-11-27"}, {"color": "blue", "label": "Awaiting payment"}, None),
    ({"amount_paid": "15.00", "amount_due": "100.00"}, {"color": "yellow", "label": "Part paid"}, "Overdue 7 days"),
    ({"status": "PAID", "amount_due": "0.00"}, {"color": "green", "label": "Paid"}, None),
    ({"status": "DRAFT"}, {"color": "gray", "label": "Draft"}, None),
    ({"status": "VOIDED", "amount_due": "0.00"}, {"color": "red", "label": "Voided"}, None),
    ({"kind": "quote", "status": "SENT", "amount_due": None}, {"color": "blue", "label": "Sent"}, None),
])
def test_a_document_shows_its_status_and_whether_it_is_overdue(fields, label, overdue) -> None:
    body = panel.render(view([doc(**fields)]))
    shown = body["data"][1]
    assert shown["status"] == label
    assert shown.get("overdue", {}).get("label") == overdue
    assert problems(body) == []


def test_the_summary_totals_outstanding_and_overdue_in_the_main_currency() -> None:
    docs = [doc(1), doc(2, due_date="2026-12-20", amount_due="50.00"), doc(3, currency="USD", amount_due="9.00"),
            doc(4, status="DRAFT"), doc(5, kind="quote", status="SENT")]
    summary = panel.render(view(docs))["data"][0]
    assert summary["outstanding"] == {"code": "NZD", "value": 165.0}
    assert summary["overdue_total"] == {"code": "NZD", "value": 115.0}
    assert summary["open_invoices"] == 3 and summary["open_quotes"] == 1
    assert summary["note"] == "Also outstanding: USD 9.00."


def test_deleted_documents_are_hidden_and_nothing_left_is_a_message() -> None:
    body = panel.render(view([doc(status="DELETED")]))
    assert body["data"][0]["id"] == "nothing" and problems(body) == []


def test_never_more_than_ten_objects() -> None:
    body = panel.render(view([doc(n, deal_id="9" if n == 14 else None) for n in range(15)], deal_id="9"))
    assert len(body["data"]) == 10 and problems(body) == []
    assert body["data"][1]["source"] == "Drafted from this deal"  # this deal's own first


@pytest.mark.parametrize(("body", "status", "problem"), [
    ({"data": [{"id": n, "header": "x"} for n in range(11)]}, 200, "11 objects"),
    ({"data": [{"id": 1, "header": "x", **{f"f{n}": "x" for n in range(21)}}]}, 200, "21 fields"),
    ({"data": [{"id": 1, "header": "x", "total": {"code": "NZD", "value": "1"}}]}, 200, "not a valid currency"),
    ({"data": [{"id": 1, "header": "x", "status": {"color": "pink", "label": "x"}}]}, 200, "not a valid label"),
    ({"data": [{"id": 1, "header": "x", "date": "27/11/2026"}]}, 200, "not a valid date"),
    ({"data": [{"id": 1, "header": "x", "mystery": "x"}]}, 200, "not in the data structure"),
    ({"data": [{"header": "x"}]}, 200, "no id"),
    ({"data": [], "external_link": {"url": "https://x"}}, 200, "needs a label"),
    ({"data": []}, 401, "error.title"),
])
def test_the_limits_check_catches_what_pipedrive_would_refuse(body, status, problem) -> None:
    assert any(problem in p for p in problems(body, status))


def test_every_field_of_the_data_structure_has_an_allowed_type() -> None:
    assert set(panel.FIELDS.values()) <= ALLOWED_TYPES and len(panel.FIELDS) <= panel.MAX_FIELDS


@pytest.mark.parametrize(("fields", "news"), [
    ({"status": "DRAFT"}, None), ({"status": "SUBMITTED"}, None), ({}, "AUTHORISED"),
    ({"amount_paid": "15.00", "amount_due": "100.00"}, "PART_PAID:15.00"),
    ({"status": "PAID", "amount_paid": "115.00", "amount_due": "0.00"}, "PAID"), ({"status": "VOIDED"}, "VOIDED"),
    ({"kind": "quote", "status": "SENT"}, None), ({"kind": "quote", "status": "ACCEPTED"}, "ACCEPTED"),
    ({"kind": "quote", "status": "INVOICED"}, "INVOICED"),
])
def test_which_xero_states_are_news_for_the_deal(fields, news) -> None:
    assert documents.status_news(doc(**fields)) == news
    if news:
        text = activities.status_changed(doc(**fields), news)
        assert text.subject.startswith(("Invoice INV-0001", "Quote INV-0001"))


def test_a_xero_element_becomes_a_read_model_document() -> None:
    element = {"InvoiceID": "abc", "InvoiceNumber": "INV-7", "Type": "ACCREC", "Status": "AUTHORISED",
               "Date": "/Date(1764201600000+0000)/", "DueDate": "2026-12-17T00:00:00", "Total": 2415,
               "AmountDue": 2415, "AmountPaid": 0, "CurrencyCode": "NZD",
               "UpdatedDateUTC": "/Date(1764201600000+0000)/",
               "Contact": {"ContactID": "c1", "Name": "Kowhai"}}
    got = documents.from_xero("invoice", element, company_id="1", tenant_id="t", app_url="https://go.xero.com/")
    assert (got["date"], got["due_date"], got["total"], got["amount_due"]) == ("2025-11-27", "2026-12-17", "2415.00",
                                                                               "2415.00")
    assert got["url"] == "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=abc"
    assert not documents.receivable("invoice", {**element, "Type": "ACCPAY"})


def test_a_deals_customer_is_its_organisation_then_its_person() -> None:
    assert documents.customer_numbers({"org_id": 12, "person_id": {"value": 7}}) == ["pd-org-12", "pd-person-7"]
    assert documents.customer_numbers({"org_id": None, "person_id": None}) == []


def token(**claims) -> str:
    return jwt.encode({"companyId": 7001, "userId": 1, "exp": int(time.time()) + 60, **claims}, SECRET, "HS256")


def test_a_valid_token_names_its_company() -> None:
    assert verify(token(), SECRET, "7001").company_id == "7001"
    assert verify(token(), SECRET, None).company_id == "7001"


@pytest.mark.parametrize(("tok", "secret", "company"), [
    (token(), "another-secret-that-is-long-enough-for-hs256", "7001"),
    (token(exp=int(time.time()) - 60), SECRET, "7001"),
    (token(), SECRET, "7002"),
    (token(companyId=None), SECRET, "7001"),
    (jwt.encode({"companyId": 7001}, SECRET, "HS256"), SECRET, "7001"),
    (jwt.encode({"companyId": 7001, "exp": int(time.time()) + 60}, SECRET, "HS512"), SECRET, "7001"),
    ("", SECRET, "7001"), (token(), None, "7001"), ("not.a.jwt", SECRET, "7001"),
])
def test_a_token_that_does_not_prove_the_company_is_refused(tok, secret, company) -> None:
    with pytest.raises(PipedriveJwtError):
        verify(tok, secret, company)


def test_the_webhook_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"events":[]}'
    good = base64.b64encode(hmac.new(b"key", body, hashlib.sha256).digest()).decode()
    assert signature_ok(body, good, "key") and not signature_ok(body, good, None)
    assert not signature_ok(body + b" ", good, "key") and not signature_ok(body, None, "key")
