"""The JSON panel against the real store and the Xero and Pipedrive sandboxes: what a person, an organisation and
a deal show, who may see it, and Update. Every answer is checked against Pipedrive's limits by the rig."""

from datetime import UTC, datetime, timedelta

import pytest

from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_devstack.seed import connect_xero
from pdx_sandbox.xero import NZ_TENANT_ID
from tests.integration.test_panel_rig import AROHA, DEMO_DEAL, ORG_KIWI, PERSON_AROHA, mint, open_card


def docs_of(body: dict) -> list[dict]:
    return [o for o in body["data"] if o["id"] != "summary"]


async def test_organisation_panel_lists_its_drafts_from_the_read_model(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        invoice = await rig.draft(5)
        quote = await rig.draft(6, kind="quote")
        calls = rig.xero_calls()
        status, body = await rig.panel("organization", ORG_KIWI)
        assert rig.xero_calls() == calls  # a plain view never calls Xero

    assert status == 200
    summary, *documents = body["data"]
    assert summary["header"] == "Xero: Kiwi Widgets Ltd"
    assert summary["outstanding"] == {"code": "NZD", "value": 0.0}  # drafts are not owed yet
    assert summary["open_quotes"] == 1 and summary["open_invoices"] == 0
    by_id = {d["id"]: d for d in documents}
    shown = by_id[invoice["InvoiceID"]]
    assert shown["header"] == f"Invoice {invoice['InvoiceNumber']}"
    assert shown["status"] == {"color": "gray", "label": "Draft"}
    assert shown["total"] == {"code": "NZD", "value": 1725.0}
    assert shown["amount_due"] == {"code": "NZD", "value": 1725.0}
    assert shown["due_date"] == (datetime.now(UTC).date() + timedelta(days=20)).isoformat()
    assert shown["source"] == "Drafted from deal 5" and shown["xero_link"].startswith("https://")
    assert by_id[quote["QuoteID"]]["header"] == f"Quote {quote['QuoteNumber']}"
    assert "expiry_date" in by_id[quote["QuoteID"]] and "amount_due" not in by_id[quote["QuoteID"]]
    assert body["external_link"]["url"].endswith(f"/Contacts/View/{invoice['Contact']['ContactID']}")
    assert body["settings"] == {"url": "https://demo.pipedrive.com/settings/marketplace/app/sandbox-pd-client/"
                                       "app-settings"}


async def test_person_panel_shows_the_persons_own_contact_only(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        quote = await rig.draft(7, AROHA, kind="quote")
        _, person = await rig.panel("person", PERSON_AROHA)
        _, org = await rig.panel("organization", ORG_KIWI)

    assert [d["id"] for d in docs_of(person)] == [quote["QuoteID"]]
    assert person["data"][0]["header"] == "Xero: Aroha Ngata"
    assert org["data"] == [{"id": "not-in-xero", "header": "Not in Xero yet: this organisation",
                            "note": "No Xero contact is linked yet; the first draft made from a deal finds it in "
                                    "Xero or creates it.",
                            "xero_organisation": "Demo Company (NZ)"}]


async def test_deal_panel_puts_the_deals_drafts_first_then_the_customers_others(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        older = await rig.draft(5, issued=datetime.now(UTC).date() - timedelta(days=3))
        mine = await rig.draft(DEMO_DEAL, issued=datetime.now(UTC).date() - timedelta(days=30))
        _, body = await rig.panel("deal", DEMO_DEAL)
        pipedrive_reads = [r for r in rig.pd.requests if r["path"].startswith("/api/v2/deals")]

    assert [d["id"] for d in docs_of(body)] == [mine["InvoiceID"], older["InvoiceID"]]
    assert docs_of(body)[0]["source"] == "Drafted from this deal"
    assert pipedrive_reads == []  # the deal's customer came from our own drafts


async def test_deal_without_drafts_finds_its_customer_with_one_pipedrive_read(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        other = await rig.draft(5)
        _, body = await rig.panel("deal", DEMO_DEAL)  # deal 1 is Kiwi Widgets' in the Pipedrive sandbox
        reads = [r for r in rig.pd.requests if r["path"] == f"/api/v2/deals/{DEMO_DEAL}"]

    assert [d["id"] for d in docs_of(body)] == [other["InvoiceID"]]
    assert len(reads) == 1


async def test_at_most_ten_objects_with_a_note_about_the_rest(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        for n in range(12):
            deal = rig.pd.insert_deal({"title": f"Order {n}", "org_id": ORG_KIWI})
            await rig.draft(deal["id"], hours=1)
        _, body = await rig.panel("organization", ORG_KIWI)

    assert len(body["data"]) == 10
    assert "Showing 9 of 12 documents" in body["data"][0]["note"]


@pytest.mark.parametrize("case", ["forged", "expired", "other company", "no company", "none", "no exp"])
async def test_a_token_that_is_not_this_companys_is_refused(infra, mongo_db, case) -> None:
    async with open_card(infra, mongo_db) as rig:
        await rig.draft(5)
        token = {"forged": mint(rig.company_id, secret="not-the-client-secret-but-long-enough"),
                 "expired": mint(rig.company_id, expires_in=-60),
                 "other company": mint(int(rig.company_id) + 1),
                 "no company": mint(rig.company_id, companyId=None),
                 "none": "",
                 "no exp": mint(rig.company_id, exp=None)}[case]
        for path in ("/panel", "/panel/update"):
            status, body = await rig.panel("organization", ORG_KIWI, token=token, path=path,
                                           method="GET" if path == "/panel" else "POST")
            assert status == 401
            assert body["error"]["title"] == "Not authorised"


async def test_a_company_sees_only_its_own_documents(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        await rig.draft(5)
        other = str(int(rig.company_id) + 1)
        await connect_xero(rig.session, rig.store, rig.xero_url, other)  # the same Xero organisation
        _, body = await rig.panel("organization", ORG_KIWI, company_id=other, token=mint(other))
        status, _ = await rig.panel("organization", ORG_KIWI, company_id=rig.company_id, token=mint(other))

    assert body["data"][0]["id"] == "not-in-xero"
    assert status == 401


async def test_not_connected_and_broken_connections_say_so(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, connect=False) as rig:
        _, missing = await rig.panel("deal", DEMO_DEAL)
        await connect_xero(rig.session, rig.store, rig.xero_url, rig.company_id)
        await rig.store.mark_broken("xero", rig.company_id, "the authorisation was revoked or expired")
        _, broken = await rig.panel("deal", DEMO_DEAL)

    assert missing["data"][0]["header"] == "Xero is not connected"
    assert broken["data"][0]["header"] == "Xero needs reconnecting"
    assert "revoked" in broken["data"][0]["note"]


async def test_update_shows_a_payment_made_in_xero(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        invoice = await rig.draft(5)
        rig.xero.approve_invoice(NZ_TENANT_ID, invoice["InvoiceID"])
        rig.xero.pay_invoice(NZ_TENANT_ID, invoice["InvoiceID"], 725.0)
        _, before = await rig.panel("organization", ORG_KIWI)
        status, after = await rig.update("organization", ORG_KIWI)
        calls = rig.xero_calls()
        _, again = await rig.update("organization", ORG_KIWI)  # within the cooldown: no second fetch
        assert rig.xero_calls() == calls
        stored = await MongoXeroDocuments(rig.db).for_deal(rig.company_id, rig.tenant_id, "5")
        activities = rig.activities(5)

    assert docs_of(before)[0]["status"]["label"] == "Draft"
    assert status == 200 and after == again
    shown = docs_of(after)[0]
    assert shown["status"] == {"color": "yellow", "label": "Part paid"}
    assert shown["amount_due"] == {"code": "NZD", "value": 1000.0}
    assert after["data"][0]["outstanding"] == {"code": "NZD", "value": 1000.0}
    assert after["data"][0]["open_invoices"] == 1
    assert stored[0]["amount_paid"] == "725.00" and stored[0]["deal_id"] == "5"
    assert [a["subject"] for a in activities] == [f"Draft invoice {invoice['InvoiceNumber']} created in Xero",
                                                  f"Invoice {invoice['InvoiceNumber']} part paid"]


async def test_an_overdue_invoice_is_labelled_and_totalled(infra, mongo_db) -> None:
    today = datetime.now(UTC).date()
    async with open_card(infra, mongo_db) as rig:
        invoice = await rig.draft(5, issued=today - timedelta(days=40), due_days=30)
        rig.xero.approve_invoice(NZ_TENANT_ID, invoice["InvoiceID"])
        _, body = await rig.update("deal", 5)

    shown = docs_of(body)[0]
    assert shown["overdue"] == {"color": "red", "label": "Overdue 10 days"}
    assert shown["status"] == {"color": "blue", "label": "Awaiting payment"}
    assert body["data"][0]["overdue_total"] == {"code": "NZD", "value": 1725.0}


async def test_a_bad_request_is_answered_in_pipedrives_error_format(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        status, body = await rig.panel("product", 1)

    assert status == 400 and body["error"]["title"] == "This panel cannot be shown here"


async def test_update_without_xero_credentials_fails_in_pipedrives_error_format(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, xero_client_id=None) as rig:
        await rig.draft(5)
        status, body = await rig.update("organization", ORG_KIWI)
        _, view = await rig.panel("organization", ORG_KIWI)  # the plain view still answers from the read model

    assert status == 500 and body["error"]["title"] == "The Xero panel failed"
    assert view["data"][0]["header"] == "Xero: Kiwi Widgets Ltd"
