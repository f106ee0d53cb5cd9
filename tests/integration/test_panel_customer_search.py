"""Update on a person's or organisation's card whose customer is not linked to a Xero contact yet, against the real
store and the sandboxes: the card reads the record from Pipedrive once, asks Xero once, links the one contact the
safe rules allow and shows its invoices; two that could be it are named, never guessed between, and the customer is
listed under the settings app's Customers & products (``record_syncs``) until the card finds the one; an organisation
is never matched through its contact person's email; none found is said, with whether drafts create it. The card
names the Xero organisation it reads from."""

from datetime import UTC, datetime, timedelta

from pdx_common.company_settings import CompanySettings
from pdx_common.xero_links import MongoXeroLinks
from pdx_sandbox.pipedrive.seed import ORG_ACME
from tests.integration.test_panel_rig import API, ORG_KIWI, PERSON_AROHA, CardRig, open_card

ORGANISATION = "Demo Company (NZ)"


async def made_in_xero(rig: CardRig, name: str, *, email: str | None = None, number: str | None = None,
                       invoice: bool = True) -> tuple[str, str | None]:
    """A contact someone made in Xero (not through the app), with an invoice awaiting payment: (ContactID,
    InvoiceID)."""
    contact = {"Name": name, **({"EmailAddress": email} if email else {}),
               **({"ContactNumber": number} if number else {})}
    xero = rig.xero_client()
    [made] = await xero.create_contacts([contact], f"contact-{name}")
    if not invoice:
        return made["ContactID"], None
    today = datetime.now(UTC).date()
    [doc] = await xero.create_documents("Invoices", [{
        "Type": "ACCREC", "Contact": {"ContactID": made["ContactID"]}, "Status": "AUTHORISED",
        "Date": today.isoformat(), "DueDate": (today + timedelta(days=14)).isoformat(),
        "LineItems": [{"ItemCode": "WIDGET-01", "Quantity": 2}]}], f"invoice-{name}")
    return made["ContactID"], doc["InvoiceID"]


def calls(rig: CardRig) -> tuple[list[str], list[str]]:
    """(Pipedrive paths, Xero paths) asked so far."""
    return ([r["path"] for r in rig.pd.requests],
            [r.path.removeprefix(API) for r in rig.xero.requests if r.path.startswith(API)])


async def test_update_finds_an_organisation_not_linked_yet_links_it_and_shows_its_invoices(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        contact_id, invoice_id = await made_in_xero(rig, "Kiwi Widgets Ltd")
        pd_before, xero_before = calls(rig)
        _, plain = await rig.panel("organization", ORG_KIWI)
        assert calls(rig) == (pd_before, xero_before)  # a plain view asks nobody
        status, updated = await rig.update("organization", ORG_KIWI)
        pd_after, xero_after = calls(rig)
        link = await MongoXeroLinks(rig.db).doc(rig.company_id, rig.tenant_id, "contact", f"pd-org-{ORG_KIWI}")
        _, again = await rig.panel("organization", ORG_KIWI)
        assert calls(rig) == (pd_after, xero_after)  # linked: the next view reads the read model only

    assert plain["data"][0]["id"] == "not-in-xero" and plain["data"][0]["xero_organisation"] == ORGANISATION
    assert status == 200
    assert pd_after[len(pd_before):] == [f"/api/v2/organizations/{ORG_KIWI}"]
    assert xero_after[len(xero_before):] == ["/Contacts", "/Invoices", "/Quotes"]  # one search, then its documents
    search = [r for r in rig.xero.requests if r.path == f"{API}/Contacts" and r.method == "GET"][-1]
    assert search.query["where"] == (f'ContactNumber=="pd{rig.company_id}-org-{ORG_KIWI}" OR '
                                     f'ContactNumber=="pd-org-{ORG_KIWI}" OR Name=="Kiwi Widgets Ltd"')
    summary, *documents = updated["data"]
    assert summary["header"] == "Xero: Kiwi Widgets Ltd" and summary["xero_organisation"] == ORGANISATION
    assert summary["note"] == "Linked to the Xero contact 'Kiwi Widgets Ltd' (found by its name)."
    assert [d["id"] for d in documents] == [invoice_id]
    assert updated["external_link"]["url"].endswith(f"/Contacts/View/{contact_id}")
    assert link is not None and (link["xero_id"], link["how"], link["name"]) == (contact_id, "card",
                                                                                 "Kiwi Widgets Ltd")
    assert again["data"][1:] == documents and "note" not in again["data"][0]


async def test_a_person_is_found_by_their_email(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        contact_id, invoice_id = await made_in_xero(rig, "A. Ngata", email="aroha@kiwiwidgets.example")
        _, body = await rig.update("person", PERSON_AROHA)
        linked = await MongoXeroLinks(rig.db).get(rig.company_id, rig.tenant_id, "contact", f"pd-person-{PERSON_AROHA}")

    assert linked == contact_id
    assert [o["id"] for o in body["data"][1:]] == [invoice_id]
    assert body["data"][0]["note"] == "Linked to the Xero contact 'A. Ngata' (found by its email)."


async def test_two_contacts_that_could_be_the_person_are_named_and_none_is_linked(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        await made_in_xero(rig, "Aroha Ngata")
        await made_in_xero(rig, "Accounts Kiwi", email="aroha@kiwiwidgets.example")
        _, xero_before = calls(rig)
        status, body = await rig.update("person", PERSON_AROHA)
        _, xero_after = calls(rig)
        linked = await MongoXeroLinks(rig.db).get(rig.company_id, rig.tenant_id, "contact", f"pd-person-{PERSON_AROHA}")
        noted = await rig.db.record_syncs.find_one(
            {"_id": f"{rig.company_id}:{rig.tenant_id}:contact:pd-person-{PERSON_AROHA}"}, {"_id": 0, "at": 0})

    assert status == 200 and linked is None
    assert noted == {  # listed under Customers & products, where the admin links the right one
        "company_id": rig.company_id, "tenant_id": rig.tenant_id, "kind": "contact",
        "key": f"pd-person-{PERSON_AROHA}", "name": "Aroha Ngata", "state": "ambiguous",
        "message": "Xero has 2 contacts that could be 'Aroha Ngata': 'Accounts Kiwi' (aroha@kiwiwidgets.example), "
                   "'Aroha Ngata'.",
        "fix": "In the app's settings (Pipedrive: Settings > Apps > Xero drafts), open Customers & products and link "
               "the right Xero contact to Aroha Ngata, then press Update on its card in Pipedrive.",
        "xero_id": None}
    assert xero_after[len(xero_before):] == ["/Contacts"]  # no documents fetched for a guess
    assert body == {"data": [{
        "id": "which-contact", "header": "Which Xero contact is this person?",
        "note": "Xero has 2 contacts that could be 'Aroha Ngata': 'Accounts Kiwi' (aroha@kiwiwidgets.example), "
                "'Aroha Ngata'. Link the right one in the app settings (Customers & products), then press Update.",
        "xero_organisation": ORGANISATION}],
        "settings": {"url": "https://demo.pipedrive.com/settings/marketplace/app/sandbox-pd-client/app-settings"}}


async def test_an_organisation_is_never_matched_to_another_records_contact_or_by_an_email(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        # Kiwi's name, but our number for another organisation: that organisation's contact, not Kiwi's.
        await made_in_xero(rig, "Kiwi Widgets Ltd", number=f"pd{rig.company_id}-org-{ORG_ACME}")
        # Another name, with the email of Kiwi's contact person: an organisation is never matched by that.
        await made_in_xero(rig, "Kiwi Widgets Trading", email="aroha@kiwiwidgets.example")
        _, body = await rig.update("organization", ORG_KIWI)
        links = await MongoXeroLinks(rig.db).listed(rig.company_id, rig.tenant_id, "contact")

    assert body["data"][0]["id"] == "not-in-xero" and links == []
    assert body["data"][0]["note"] == ("Xero has no contact with this name or number. The first draft made from a "
                                       "deal creates it.")


async def test_a_record_pipedrive_no_longer_has_is_simply_not_in_xero(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        _, xero_before = calls(rig)
        status, body = await rig.update("organization", 999999)
        _, xero_after = calls(rig)

    assert status == 200 and body["data"][0]["id"] == "not-in-xero"
    assert xero_after == xero_before  # nothing to look for: Xero is not asked
    assert body["data"][0]["note"] == ("No Xero contact is linked yet; the first draft made from a deal finds it in "
                                       "Xero or creates it.")  # not "Xero has no contact": Xero was not asked


async def test_once_the_card_finds_the_one_contact_the_customer_no_longer_needs_the_admin(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        own, _ = await made_in_xero(rig, "Aroha Ngata")
        other, _ = await made_in_xero(rig, "Accounts Kiwi", email="aroha@kiwiwidgets.example", invoice=False)
        await rig.update("person", PERSON_AROHA)
        key = {"_id": f"{rig.company_id}:{rig.tenant_id}:contact:pd-person-{PERSON_AROHA}"}
        before = await rig.db.record_syncs.find_one(key)
        await rig.xero_client().request("POST", "/Contacts", json={  # the duplicate archived in Xero
            "Contacts": [{"ContactID": other, "ContactStatus": "ARCHIVED"}]})
        _, body = await rig.update("person", PERSON_AROHA)
        after = await rig.db.record_syncs.find_one(key)

    assert before is not None and before["state"] == "ambiguous"
    assert body["data"][0]["note"] == "Linked to the Xero contact 'Aroha Ngata' (found by its name)."
    assert after is not None and (after["state"], after["message"], after["fix"], after["xero_id"]) == (
        "unchanged", "Linked from its card in Pipedrive to the Xero contact 'Aroha Ngata' (found by its name).", "",
        own)


async def test_a_draft_that_needs_replaying_stays_listed_when_the_card_links_its_customer(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        own, _ = await made_in_xero(rig, "Kiwi Widgets Ltd")
        key = f"{rig.company_id}:{rig.tenant_id}:contact:pd-org-{ORG_KIWI}"
        draft_problem = {"company_id": rig.company_id, "tenant_id": rig.tenant_id, "kind": "contact",
                         "key": f"pd-org-{ORG_KIWI}", "name": "Kiwi Widgets Ltd", "state": "ambiguous",
                         "message": "Xero has 2 contacts that could be 'Kiwi Widgets Ltd': ...", "xero_id": None,
                         "fix": "In the app's settings, open Customers & products and link the right Xero contact "
                                "to Kiwi Widgets Ltd, then replay the deal."}
        await rig.db.record_syncs.insert_one({"_id": key, **draft_problem})
        _, body = await rig.update("organization", ORG_KIWI)
        after = await rig.db.record_syncs.find_one({"_id": key}, {"_id": 0})

    assert body["data"][0]["note"] == "Linked to the Xero contact 'Kiwi Widgets Ltd' (found by its name)."
    assert after == draft_problem  # the deal still needs its Replay: the page keeps saying so


async def test_with_drafts_not_creating_contacts_the_card_does_not_promise_it(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db) as rig:
        settings = CompanySettings.model_validate({"customer": {"create_missing": False}})
        await rig.db.company_settings.replace_one({"_id": rig.company_id},
                                                  {**settings.model_dump(mode="json"), "version": 1}, upsert=True)
        _, plain = await rig.panel("person", PERSON_AROHA)
        _, searched = await rig.update("person", PERSON_AROHA)

    assert plain["data"][0]["note"] == (
        "No Xero contact is linked yet, and drafts do not create one (Create the contact in Xero when it is missing "
        "is off in the app settings). Add it in Xero; a draft made from a deal then finds it.")
    assert searched["data"][0]["note"] == (
        "Xero has no contact with this name, email or number. Drafts do not create one (Create the contact in Xero "
        "when it is missing is off in the app settings): add it in Xero, then press Update.")
