"""Customers and products kept in sync by the xero-writer, against the Xero sandbox, the real store and broker: only
what changed is sent, in one POST per 50; nothing when nothing changed; a person's email reaches its organisation's
contact; a product's price in the organisation's currency; records created as they appear, after a safe match;
ambiguous customers refused, for drafts and syncs alike; contact numbers that stay unique when two companies share
one Xero organisation; and every outcome in ``record_syncs`` in plain words."""

import asyncio
import json
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cryptography.fernet import Fernet

from pdx_common import topics
from pdx_common.contact_matching import xero_contact_number
from pdx_common.contracts import Contact, ContactSync, DeadLettered, ItemSync, NewItem, PostalAddress, SyncRecords
from pdx_common.kafka import make_broker
from pdx_common.reliability import RetryPolicy
from pdx_common.xero_links import MongoXeroLinks
from pdx_sandbox.xero import NZ_TENANT_ID
from pdx_writer.entrypoints.commands import _reliably, subscribe_commands
from pdx_writer.settings import WriterSettings
from tests.integration.writer_harness import HOSTING, KOWHAI, WriterRig, open_rig, types

ORG_FIELDS = ("Name", "Addresses", "TaxNumber")
PERSON_FIELDS = ("Name", "FirstName", "LastName", "EmailAddress", "Phones", "Addresses", "TaxNumber")
AROHA = Contact(name="Aroha Ngata", contact_number="pd-person-7", first_name="Aroha", last_name="Ngata",
                email="aroha@kowhai.co.nz", phone="+64 21 555 0199", source="person", source_id="7")
CONSULTING = NewItem(code="CONSULT-HR", name="Consulting hour", description="Consulting, per hour",
                     account_code="200", tax_type="OUTPUT2")  # as the sandbox's organisation has it


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


def street(n: int, city: str = "Richmond") -> PostalAddress:
    return PostalAddress(line1=f"{n} Harbour Lane", city=city, region="Tasman", postal_code="7020",
                         country="New Zealand")


def org(address: PostalAddress | None = None, create: bool = False, **fields) -> ContactSync:
    contact = KOWHAI.model_copy(update={"postal": address, "email": None, "phone": None, "address": None, **fields})
    return ContactSync(contact=contact, fields=ORG_FIELDS, create=create)


def contact_of(rig: WriterRig, contact_id: str) -> dict:
    return next(c for c in rig.contacts() if c["ContactID"] == contact_id)


def street_of(contact: dict) -> dict:
    """The contact's street address (Xero keeps a postal one beside it)."""
    return next((a for a in contact.get("Addresses") or [] if a.get("AddressType") == "STREET"), {})


async def customer_made_by_a_draft(rig: WriterRig, contact: Contact = KOWHAI) -> str:
    """The customer as its first draft leaves it: created in Xero, linked, its fields remembered."""
    await rig.writer().execute(rig.invoice(f"42{len(rig.invoices()):02}", contact=contact))
    return rig.invoices()[-1]["Contact"]["ContactID"]


# --- linked customers: only what changed, one call -----------------------------------------------------------------
async def test_fifty_changes_of_one_organisation_are_one_update_and_the_same_again_is_none(rig: WriterRig) -> None:
    contact_id = await customer_made_by_a_draft(rig)
    writer = rig.writer()
    mark = rig.mark()
    await writer.execute_batch([rig.sync(tuple(org(street(n)) for n in range(1, 51)))])

    [update] = rig.state.requests[mark:]  # not even a look-up
    assert (update.method, update.path, update.query["summarizeErrors"]) == ("POST", "/api.xro/2.0/Contacts", "false")
    assert update.headers["Idempotency-Key"].startswith("pdx-contact-updates-")
    assert update.json == {"Contacts": [{"ContactID": contact_id, "Addresses": [{
        "AddressType": "STREET", "AddressLine1": "50 Harbour Lane", "City": "Richmond", "Region": "Tasman",
        "PostalCode": "7020", "Country": "New Zealand"}]}]}  # the name is the same: not sent
    contact = contact_of(rig, contact_id)
    assert (contact["Name"], street_of(contact)["AddressLine1"]) == (KOWHAI.name, "50 Harbour Lane")
    assert contact["EmailAddress"] == KOWHAI.email  # what the org does not give is left as it is
    done = await rig.record_sync("contact", "pd-org-12")
    assert (done["state"], done["message"], done["xero_id"], done["name"]) == (
        "updated", "Updated in Xero: address.", contact_id, KOWHAI.name)

    mark = rig.mark()
    await writer.execute_batch([rig.sync((org(street(50)),))])  # a later command, nothing new
    assert rig.state.requests[mark:] == []
    assert (await rig.record_sync("contact", "pd-org-12"))["state"] == "unchanged"


async def test_a_backlog_of_sync_commands_is_one_update_and_the_latest_change_wins(rig: WriterRig) -> None:
    org_id = await customer_made_by_a_draft(rig)
    person_id = await customer_made_by_a_draft(rig, AROHA)
    mark = rig.mark()
    await rig.writer().execute_batch([  # waited in the company's queue while its budget was spent elsewhere
        rig.sync((org(street(1)),)), rig.sync((ContactSync(contact=AROHA.model_copy(update={"last_name": "Ngata-Kerr"}),
                                                           fields=PERSON_FIELDS),)),
        rig.sync((org(street(2)),))])

    [update] = rig.state.requests[mark:]
    assert sorted(c["ContactID"] for c in update.json["Contacts"]) == sorted([org_id, person_id])
    assert street_of(contact_of(rig, org_id))["AddressLine1"] == "2 Harbour Lane"
    assert contact_of(rig, person_id)["LastName"] == "Ngata-Kerr"


async def test_fifty_organisations_are_created_in_one_call_and_updated_in_one_call(rig: WriterRig) -> None:
    def orgs(city: str, create: bool) -> tuple[ContactSync, ...]:
        return tuple(ContactSync(contact=Contact(name=f"Customer {n}", contact_number=f"pd-org-{n}",
                                                 source="organization", source_id=str(n), postal=street(n, city)),
                                 fields=ORG_FIELDS, create=create) for n in range(100, 150))

    writer = rig.writer()
    mark = rig.mark()
    await writer.execute_batch([rig.sync(orgs("Nelson", create=True))])
    asked = [(r.method, r.path.rsplit("/", 1)[1]) for r in rig.state.requests[mark:]]
    # 150 look-up values (number, number of before, name) in as few queries as Xero's 2,048-character query
    # string allows, then one PUT for all fifty
    assert asked[-1] == ("PUT", "Contacts") and set(asked[:-1]) == {("GET", "Contacts")} and len(asked) <= 7
    assert sorted(c["ContactNumber"] for c in rig.contacts()) == sorted(
        xero_contact_number(rig.company_id, f"pd-org-{n}") for n in range(100, 150))
    assert (await rig.record_sync("contact", "pd-org-120"))["state"] == "created"

    mark = rig.mark()
    await writer.execute_batch([rig.sync(orgs("Motueka", create=False))])
    [update] = rig.state.requests[mark:]
    assert update.method == "POST" and len(update.json["Contacts"]) == 50
    assert {street_of(c)["City"] for c in rig.contacts()} == {"Motueka"}
    assert (await rig.record_sync("contact", "pd-org-149"))["state"] == "updated"


async def test_a_persons_new_email_reaches_the_organisation_it_is_the_contact_person_of(rig: WriterRig) -> None:
    contact_id = await customer_made_by_a_draft(rig, KOWHAI.model_copy(update={"person_id": "7"}))
    assert (await rig.link("contact", "pd-org-12"))["person_id"] == "7"
    moved = AROHA.model_copy(update={"email": "aroha@kowhai.nz", "phone": KOWHAI.phone})
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((ContactSync(contact=moved, fields=PERSON_FIELDS),))])

    [update] = rig.state.requests[mark:]
    assert update.json == {"Contacts": [{"ContactID": contact_id, "EmailAddress": "aroha@kowhai.nz"}]}
    contact = contact_of(rig, contact_id)
    assert (contact["Name"], contact["EmailAddress"]) == (KOWHAI.name, "aroha@kowhai.nz")
    done = await rig.record_sync("contact", "pd-org-12")
    assert done["message"] == "Updated in Xero: email address (from its contact person Aroha Ngata)."
    assert await rig.record_sync("contact", "pd-person-7") is None  # the person has no Xero contact of its own


async def test_a_refused_update_is_explained_and_the_others_are_made(rig: WriterRig) -> None:
    org_id = await customer_made_by_a_draft(rig)
    person_id = await customer_made_by_a_draft(rig, AROHA)
    bad_email = ContactSync(contact=AROHA.model_copy(update={"email": "aroha at kowhai"}), fields=PERSON_FIELDS)
    await rig.writer().execute_batch([rig.sync((bad_email, org(street(9))))])

    failed = await rig.record_sync("contact", "pd-person-7")
    assert (failed["state"], failed["xero_id"]) == ("failed", person_id)
    assert "does not accept the email address of 'Aroha Ngata'" in failed["message"]
    assert failed["fix"].startswith("Correct the email address in Pipedrive")
    assert contact_of(rig, person_id)["EmailAddress"] == AROHA.email
    assert street_of(contact_of(rig, org_id))["AddressLine1"] == "9 Harbour Lane"
    assert (await rig.link("contact", "pd-person-7"))["synced"]["EmailAddress"] == AROHA.email  # sent again later


async def test_values_over_xeros_limits_are_never_sent(rig: WriterRig) -> None:
    await customer_made_by_a_draft(rig)
    mark = rig.mark()
    too_long = street(3).model_copy(update={"postal_code": "7" * 60})
    await rig.writer().execute_batch([rig.sync((org(too_long),))])

    assert rig.state.requests[mark:] == []
    failed = await rig.record_sync("contact", "pd-org-12")
    assert (failed["state"], failed["message"]) == (
        "failed", "The customer's postal code '7777777777777777777777777777777777777...' is 60 characters long; "
                  "Xero accepts at most 50.")
    assert failed["fix"].startswith("Shorten the organization's postal code in Pipedrive")


# --- products --------------------------------------------------------------------------------------------------------
async def test_a_products_price_in_the_organisations_currency_updates_its_item(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice())  # the deal's CONSULT-HR line links the item
    writer = rig.writer()
    mark = rig.mark()
    await writer.execute_batch([rig.sync(items=(ItemSync(item=CONSULTING, prices={
        "USD": Decimal("99"), "NZD": Decimal("165.00")}, product_id="1"),))])

    [update] = rig.calls("POST", "Items", mark)
    item_id = rig.item("CONSULT-HR")["ItemID"]
    assert update.json == {"Items": [{"ItemID": item_id, "Code": "CONSULT-HR", "SalesDetails": {
        "UnitPrice": 165, "AccountCode": "200", "TaxType": "OUTPUT2"}}]}
    assert rig.item("CONSULT-HR")["SalesDetails"]["UnitPrice"] == 165
    done = await rig.record_sync("item", "CONSULT-HR")
    assert (done["state"], done["message"]) == ("updated", "Updated in Xero: price.")

    mark = rig.mark()
    await writer.execute_batch([rig.sync(items=(ItemSync(item=CONSULTING, prices={"NZD": Decimal("165")}),
                                                ItemSync(item=CONSULTING, prices={"USD": Decimal("12")})))])
    assert [r for r in rig.state.requests[mark:] if r.method != "GET"] == []  # no NZD price: left as it is
    assert (await rig.record_sync("item", "CONSULT-HR"))["state"] == "unchanged"


async def test_a_new_price_keeps_the_items_tax_rate_when_pipedrive_maps_none(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice())  # links CONSULT-HR, remembering what Xero has
    untaxed = CONSULTING.model_copy(update={"tax_type": None, "account_code": None})
    await rig.writer().execute_batch([rig.sync(items=(ItemSync(item=untaxed, prices={"NZD": Decimal("170")}),))])

    [update] = rig.calls("POST", "Items")
    assert update.json["Items"][0]["SalesDetails"] == {"UnitPrice": 170, "AccountCode": "200", "TaxType": "OUTPUT2"}
    assert rig.item("CONSULT-HR")["SalesDetails"] == {"UnitPrice": 170, "AccountCode": "200", "TaxType": "OUTPUT2"}


async def test_products_are_created_as_they_appear_or_linked_to_the_item_with_their_code(rig: WriterRig) -> None:
    audit = NewItem(code="WEB-AUDIT", name="Website audit", description="Accessibility and speed audit",
                    account_code="260", tax_type="OUTPUT2")
    widget = NewItem(code="WIDGET-01", name="Widget", description="Standard widget", account_code="200",
                     tax_type="OUTPUT2")
    ignored = NewItem(code="NOT-SYNCED", name="Not synced")
    await rig.writer().execute_batch([rig.sync(items=(
        ItemSync(item=audit, prices={"NZD": Decimal("480")}, create=True),
        ItemSync(item=widget, prices={"NZD": Decimal("27.5")}, create=True),
        ItemSync(item=ignored, prices={"NZD": Decimal("1")})))])

    assert [(r.method, r.json and [i["Code"] for i in r.json["Items"]]) for r in rig.state.requests
            if r.path.endswith("/Items")] == [("GET", None), ("PUT", ["WEB-AUDIT"]), ("POST", ["WIDGET-01"])]
    assert rig.calls("POST", "Items")[0].json["Items"][0]["SalesDetails"]["UnitPrice"] == 27.5  # only the price
    made = rig.item("WEB-AUDIT")
    assert (made["Name"], made["SalesDetails"]["UnitPrice"], made["SalesDetails"]["AccountCode"]) == (
        "Website audit", 480, "260")
    assert [(await rig.record_sync("item", code))["state"] for code in ("WEB-AUDIT", "WIDGET-01")] == [
        "created", "updated"]
    assert (await rig.record_sync("item", "WIDGET-01"))["message"] == (
        "Linked to the Xero item 'Widget' (it has the same code). Updated in Xero: price.")
    assert await rig.record_sync("item", "NOT-SYNCED") is None and rig.item("NOT-SYNCED") is None
    assert (await rig.link("item", "WEB-AUDIT"))["how"] == "created"


async def test_a_products_new_code_goes_to_its_item_and_no_second_item_is_made(rig: WriterRig) -> None:
    writer = rig.writer()
    await writer.execute_batch([rig.sync(items=(ItemSync(item=CONSULTING, prices={"NZD": Decimal("150")},
                                                         create=True, product_id="1"),))])
    item_id = rig.item("CONSULT-HR")["ItemID"]  # the sandbox's own item, found by its code and linked
    assert (await rig.link("item", "CONSULT-HR"))["product_id"] == "1"
    renamed = CONSULTING.model_copy(update={"code": "CONSULT-HOUR"})
    mark = rig.mark()
    await writer.execute_batch([rig.sync(items=(ItemSync(item=renamed, prices={"NZD": Decimal("150")}, create=True,
                                                         product_id="1"),))])

    assert [(r.method, r.json) for r in rig.state.requests[mark:] if r.path.endswith("/Items")] == [
        ("POST", {"Items": [{"ItemID": item_id, "Code": "CONSULT-HOUR"}]})]
    assert rig.item("CONSULT-HR") is None and rig.item("CONSULT-HOUR")["ItemID"] == item_id
    assert await rig.link("item", "CONSULT-HR") is None
    moved = await rig.link("item", "CONSULT-HOUR")
    assert (moved["xero_id"], moved["product_id"], moved["how"]) == (item_id, "1", "matched")
    done = await rig.record_sync("item", "CONSULT-HOUR")
    assert (done["state"], done["message"], done["xero_id"]) == ("updated", "Updated in Xero: code.", item_id)
    assert await rig.record_sync("item", "CONSULT-HR") is None  # listed once, by its code now

    mark = rig.mark()
    await writer.execute_batch([rig.sync(items=(ItemSync(item=renamed, prices={"NZD": Decimal("150")}, create=True,
                                                         product_id="1"),))])
    assert [r for r in rig.state.requests[mark:] if r.method != "GET"] == []
    assert (await rig.record_sync("item", "CONSULT-HOUR"))["state"] == "unchanged"


async def test_a_code_change_waiting_behind_the_old_code_is_one_update(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice())  # the draft links CONSULT-HR (by code: no product id yet)
    writer = rig.writer()
    await writer.execute_batch([rig.sync(items=(ItemSync(item=CONSULTING, product_id="1"),))])  # learns it
    renamed = CONSULTING.model_copy(update={"code": "CONSULT-HOUR", "name": "Consulting (hour)"})
    mark = rig.mark()
    await writer.execute_batch([rig.sync(items=(ItemSync(item=CONSULTING, product_id="1"),)),
                                rig.sync(items=(ItemSync(item=renamed, product_id="1"),))])

    [update] = rig.calls("POST", "Items", mark)
    assert update.json["Items"][0]["Code"] == "CONSULT-HOUR" and rig.calls("PUT", "Items", mark) == []
    assert [i["Name"] for i in rig.state.items(NZ_TENANT_ID) if i["Code"].startswith("CONSULT")] == [
        "Consulting (hour)"]
    assert (await rig.record_sync("item", "CONSULT-HOUR"))["message"] == "Updated in Xero: name and code."


# --- safe matching -----------------------------------------------------------------------------------------------
JO = Contact(name="Jo Smith", contact_number="pd-person-31", email="jo@example.com", source="person",
             source_id="31")


async def test_an_ambiguous_customer_fails_the_draft_until_an_admin_links_one(rig: WriterRig) -> None:
    await rig.seed_contact(Name="Jo Smith")
    joanna = await rig.seed_contact(Name="Joanna Smith", EmailAddress="jo@example.com")
    first = rig.invoice(contact=JO)
    writer = rig.writer()
    mark = rig.mark()
    await writer.execute(first)

    assert rig.invoices() == [] and len(rig.contacts()) == 2 and rig.calls("PUT", "Contacts", mark) == []
    assert (await rig.ledger_entry(first))["state"] == "failed"
    listed = await rig.record_sync("contact", "pd-person-31")  # where the admin links the right one
    assert (listed["state"], listed["name"]) == ("ambiguous", "Jo Smith") and "'Joanna Smith'" in listed["message"]
    await MongoXeroLinks(rig.db).put(rig.company_id, NZ_TENANT_ID, "contact", "pd-person-31", joanna["ContactID"],
                                     how="manual", name="Joanna Smith")
    mark = rig.mark()
    replay = rig.invoice(contact=JO)
    await writer.execute(replay)

    assert rig.calls("GET", "Contacts", mark) == []
    assert [i["Contact"]["ContactID"] for i in rig.invoices()] == [joanna["ContactID"]]
    failed, created = await rig.results()
    assert (failed["type"], failed["code"], failed["stage"]) == ("DocumentFailed", "ambiguous_contact", "xero")
    assert failed["message"] == ("Xero has 2 contacts that could be 'Jo Smith': 'Jo Smith', 'Joanna Smith' "
                                 "(jo@example.com).")
    assert "open Customers & products and link the right Xero contact to Jo Smith, then replay the deal." in \
        failed["fix"]
    assert (created["type"], created["command_id"]) == ("DocumentCreated", replay.id)
    assert await rig.record_sync("contact", "pd-person-31") is None  # answered: listed by its link now


async def test_an_ambiguous_customer_is_not_created_by_the_sync_either(rig: WriterRig) -> None:
    await rig.seed_contact(Name="Jo Smith")
    await rig.seed_contact(Name="Joanna Smith", EmailAddress="jo@example.com")
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((ContactSync(contact=JO, fields=PERSON_FIELDS, create=True),))])

    assert len(rig.contacts()) == 2 and [r.method for r in rig.state.requests[mark:]] == ["GET"]
    problem = await rig.record_sync("contact", "pd-person-31")
    assert problem["state"] == "ambiguous" and "'Joanna Smith' (jo@example.com)" in problem["message"]
    assert "link the right Xero contact to Jo Smith" in problem["fix"]
    assert await rig.link("contact", "pd-person-31") is None


async def test_a_draft_whose_customer_is_not_in_xero_lists_it_where_it_can_be_linked(rig: WriterRig) -> None:
    draft = rig.invoice("4501", contact=JO, create_contact=False, line_items=(HOSTING,))
    await rig.writer().execute(draft)

    [failed] = await rig.results()
    assert failed["code"] == "contact_not_found"
    listed = await rig.record_sync("contact", "pd-person-31")
    assert (listed["state"], listed["name"], listed["message"]) == ("failed", "Jo Smith", failed["message"])
    assert listed["fix"] == (
        "In the app's settings (Pipedrive: Settings > Apps > Xero drafts), open Customers & products and link the "
        "existing Xero contact to Jo Smith (or create the contact in Xero), then replay the deal.")

    jo = await rig.seed_contact(Name="Jo Smith", EmailAddress="jo@example.com")  # the fix: created in Xero
    await rig.writer().execute(rig.invoice("4501", contact=JO, create_contact=False, line_items=(HOSTING,)))
    assert [i["Contact"]["ContactID"] for i in rig.invoices()] == [jo["ContactID"]]
    assert await rig.record_sync("contact", "pd-person-31") is None  # answered: listed by its link now
    assert (await rig.link("contact", "pd-person-31"))["how"] == "matched"


async def test_a_draft_whose_customers_name_another_contact_has_lists_it_where_it_can_be_linked(
        rig: WriterRig) -> None:
    other = await rig.connect_another_company()
    theirs = Contact(name=KOWHAI.name, contact_number="pd-org-5", source="organization", source_id="5")
    await rig.writer().execute(rig.invoice("4502", company_id=other, contact=theirs, line_items=(HOSTING,)))
    await rig.writer().execute(rig.invoice("4503", line_items=(HOSTING,)))  # the same name, another company's

    failed = next(m for m in await rig.results() if m["deal_id"] == "4503")
    assert (failed["type"], failed["code"]) == ("DocumentFailed", "duplicate_contact_name")
    assert failed["fix"] == (
        "Merge or rename the duplicate contact in Xero, or link the existing Xero contact under Customers & "
        "products in the app's settings (Pipedrive: Settings > Apps > Xero drafts), then replay the deal.")
    listed = await rig.record_sync("contact", "pd-org-12")
    assert (listed["state"], listed["name"]) == ("failed", KOWHAI.name)
    assert listed["message"].startswith("Another Xero contact already has this customer's name.")
    assert listed["fix"].endswith(f"link the existing Xero contact to {KOWHAI.name} (or merge or rename the duplicate "
                                  "contact in Xero), then replay the deal.")


async def test_a_customer_found_in_xero_starts_from_what_its_contact_has(rig: WriterRig) -> None:
    kept = {"AddressType": "STREET", "AddressLine1": "4 Harbour Lane", "City": "Richmond", "Region": "Tasman",
            "PostalCode": "7020", "Country": "New Zealand"}
    found = await rig.seed_contact(Name=KOWHAI.name, EmailAddress="ap@kowhai.co.nz", Addresses=[kept])
    await rig.writer().execute(rig.invoice("4701", line_items=(HOSTING,)))  # the draft finds it by name
    assert rig.invoices()[0]["Contact"]["ContactID"] == found["ContactID"]
    assert (await rig.link("contact", "pd-org-12"))["synced"] == {"Name": KOWHAI.name,
                                                                  "EmailAddress": "ap@kowhai.co.nz",
                                                                  "Addresses": [kept]}
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((org(street(4), tax_number="12-345-678"),))])

    [update] = rig.state.requests[mark:]  # only what really differs: the name and address are Xero's already
    assert update.json == {"Contacts": [{"ContactID": found["ContactID"], "TaxNumber": "12-345-678"}]}

    tui = await rig.seed_contact(Name="Tui Brewing Co", Addresses=[{**kept, "AddressLine1": "9 Wharf Road"}])
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((ContactSync(contact=Contact(
        name="Tui Brewing Co", contact_number="pd-org-40", source="organization", source_id="40",
        postal=street(9).model_copy(update={"line1": "9 Wharf Road"})), fields=ORG_FIELDS, create=True),))])
    assert [r.method for r in rig.state.requests[mark:]] == ["GET"]  # found and linked by name: nothing to send
    done = await rig.record_sync("contact", "pd-org-40")
    assert (done["state"], done["xero_id"], done["message"]) == (
        "unchanged", tui["ContactID"], "Linked to the Xero contact 'Tui Brewing Co' (it has the same name). "
                                       "Already up to date in Xero: nothing was sent.")


async def test_contact_numbers_stay_unique_when_two_companies_share_one_xero_organisation(rig: WriterRig) -> None:
    made_before = await rig.seed_contact(Name="Kowhai Design Ltd", ContactNumber="pd-org-12")  # a number of before
    other = await rig.connect_another_company()
    tui = Contact(name="Tui Brewing Co", contact_number="pd-org-12", email="ops@tuibrew.test",
                  source="organization", source_id="12")
    writer = rig.writer()
    await writer.execute(rig.invoice("4201"))  # a batch is one company's (its queue)
    await writer.execute(rig.invoice("4202", company_id=other, contact=tui))

    theirs = next(c for c in rig.contacts() if c["Name"] == "Tui Brewing Co")
    assert theirs["ContactNumber"] == xero_contact_number(other, "pd-org-12") != made_before["ContactNumber"]
    by_deal = {i["Url"].split("/deal/")[1].split("?")[0]: i["Contact"]["ContactID"] for i in rig.invoices()}
    assert by_deal == {"4201": made_before["ContactID"], "4202": theirs["ContactID"]}
    assert len(rig.contacts()) == 2
    # each company's sync reaches its own contact only
    await writer.execute_batch([rig.sync((ContactSync(contact=tui.model_copy(update={"tax_number": "123-456-789"}),
                                                      fields=ORG_FIELDS),), company_id=other)])
    assert contact_of(rig, theirs["ContactID"]).get("TaxNumber") == "123-456-789"
    assert "TaxNumber" not in contact_of(rig, made_before["ContactID"])


# --- through the consumer ------------------------------------------------------------------------------------------
async def test_the_consumer_queues_syncs_with_the_drafts_and_runs_the_drafts_first(infra, rig: WriterRig,
                                                                                  run_id: str) -> None:
    topic = f"test-writer-sync-{run_id}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    await customer_made_by_a_draft(rig)
    writer, batches = rig.writer(), []

    async def execute_batch(commands) -> None:
        batches.append([c.type for c in commands])
        await writer.execute_batch(commands)

    settings = WriterSettings(kafka_bootstrap=infra.kafka_bootstrap, kafka_session_timeout_ms=2_000,
                              kafka_heartbeat_interval_ms=500, token_key=Fernet.generate_key().decode(),
                              xero_client_id="x", xero_client_secret="x")
    broker = make_broker(settings)
    queues = subscribe_commands(broker, settings, rig.publisher, execute_batch, topic=topic, group=f"w-{run_id}")
    sync, draft = rig.sync((org(street(77)),)), rig.invoice("4301", line_items=(HOSTING,))
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for command in (sync, draft):
            await producer.send(topic, json.dumps(command.model_dump(mode="json")).encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    await broker.start()
    try:
        async def handled() -> None:
            while sum(len(b) for b in batches) < 2 or queues.waiting(rig.company_id):
                await asyncio.sleep(0.05)
        await asyncio.wait_for(handled(), 60)
        await queues.drain(30)
    finally:
        await broker.stop()
        await queues.stop()
    assert [t for batch in batches for t in batch] == ["SyncRecords", "CreateInvoice"]  # queued in arrival order
    assert (await rig.record_sync("contact", "pd-org-12"))["state"] == "updated"
    assert len(rig.invoices()) == 2
    assert types(await rig.results()) == ["DocumentCreated", "DocumentCreated"]


async def test_a_batch_makes_its_drafts_before_it_syncs(rig: WriterRig) -> None:
    await customer_made_by_a_draft(rig)
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((org(street(5)),)), rig.invoice("4401", line_items=(HOSTING,))])
    assert [(r.method, r.path.rsplit("/", 1)[1]) for r in rig.state.requests[mark:] if r.method != "GET"] == [
        ("PUT", "Invoices"), ("POST", "Contacts")]


async def test_a_persons_own_contact_gets_every_field_it_maps(rig: WriterRig) -> None:
    contact_id = await customer_made_by_a_draft(rig, AROHA)
    moved = AROHA.model_copy(update={"phone": "+64 21 555 0200", "tax_number": "98-765-432",
                                     "postal": PostalAddress(line1="1 Queen Street", city="Auckland")})
    await rig.writer().execute_batch([rig.sync((ContactSync(contact=moved, fields=PERSON_FIELDS),))])

    contact = contact_of(rig, contact_id)
    assert [p["PhoneNumber"] for p in contact["Phones"] if p["PhoneType"] == "DEFAULT"] == ["+64 21 555 0200"]
    assert contact["TaxNumber"] == "98-765-432"
    assert {k: v for k, v in street_of(contact).items() if v} == {"AddressType": "STREET",
                                                                  "AddressLine1": "1 Queen Street", "City": "Auckland"}
    assert (await rig.record_sync("contact", "pd-person-7"))["message"] == (
        "Updated in Xero: phone, address and tax number.")



async def test_a_person_linked_to_an_organisations_contact_never_renames_it(rig: WriterRig) -> None:
    contact_id = await customer_made_by_a_draft(rig)  # Organisation 12's contact
    await MongoXeroLinks(rig.db).put(rig.company_id, NZ_TENANT_ID, "contact", "pd-person-7", contact_id,
                                     how="manual", name=KOWHAI.name)  # an admin linked the person to it as well
    moved = AROHA.model_copy(update={"email": "aroha@kowhai.nz", "tax_number": "98-765-432",
                                     "postal": PostalAddress(line1="1 Queen Street", city="Auckland")})
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((ContactSync(contact=moved, fields=PERSON_FIELDS),))])

    [update] = rig.state.requests[mark:]
    assert update.json == {"Contacts": [{"ContactID": contact_id, "EmailAddress": "aroha@kowhai.nz",
                                         "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": AROHA.phone}]}]}
    contact = contact_of(rig, contact_id)
    assert (contact["Name"], contact.get("FirstName"), contact.get("TaxNumber")) == (KOWHAI.name, None, None)
    assert street_of(contact)["AddressLine1"] == KOWHAI.address
    done = await rig.record_sync("contact", "pd-person-7")
    assert (done["state"], done["message"]) == (
        "updated", "Updated in Xero: email address and phone. Only the email address and phone are sent: the Xero "
                   "contact it is linked to also stands for an organisation.")

    # the organisation's own change still names its contact
    await rig.writer().execute_batch([rig.sync((org(street(6), name="Kowhai Design Group"),))])
    assert contact_of(rig, contact_id)["Name"] == "Kowhai Design Group"
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((ContactSync(contact=moved, fields=PERSON_FIELDS),))])
    assert rig.state.requests[mark:] == [] and contact_of(rig, contact_id)["Name"] == "Kowhai Design Group"


async def test_an_organisations_email_from_its_person_is_not_held_up_by_the_persons_other_values(
        rig: WriterRig) -> None:
    contact_id = await customer_made_by_a_draft(rig, KOWHAI.model_copy(update={"person_id": "7"}))
    long_postcode = PostalAddress(line1="1 Queen Street", postal_code="1" * 60)
    moved = AROHA.model_copy(update={"email": "aroha@kowhai.nz", "phone": KOWHAI.phone, "postal": long_postcode})
    await rig.writer().execute_batch([rig.sync((ContactSync(contact=moved, fields=PERSON_FIELDS),))])

    assert contact_of(rig, contact_id)["EmailAddress"] == "aroha@kowhai.nz"
    done = await rig.record_sync("contact", "pd-org-12")
    assert (done["state"], done["message"]) == (
        "updated", "Updated in Xero: email address (from its contact person Aroha Ngata).")


# --- when Xero cannot take it -----------------------------------------------------------------------------------
async def test_a_contact_gone_from_xero_is_explained_and_its_link_forgotten(rig: WriterRig) -> None:
    await MongoXeroLinks(rig.db).put(rig.company_id, NZ_TENANT_ID, "contact", "pd-org-12",
                                     "00000000-0000-0000-0000-000000000012", how="matched", name=KOWHAI.name)
    await rig.writer().execute_batch([rig.sync((org(street(4)),))])

    gone = await rig.record_sync("contact", "pd-org-12")
    # nothing for anyone to do, so not listed as a problem ("Needs you") on the settings page
    assert (gone["state"], gone["xero_id"]) == ("unchanged", "00000000-0000-0000-0000-000000000012")
    assert gone["message"].startswith(f"The Xero contact linked to '{KOWHAI.name}' is no longer in Xero.")
    assert gone["fix"].startswith("Nothing to do: the link is forgotten") and "finds or creates it again" in gone["fix"]
    assert await rig.link("contact", "pd-org-12") is None


async def test_a_contact_an_admin_linked_gone_from_xero_asks_them_to_link_another(rig: WriterRig) -> None:
    gone_id = "00000000-0000-0000-0000-000000000013"
    await MongoXeroLinks(rig.db).put(rig.company_id, NZ_TENANT_ID, "contact", "pd-org-12", gone_id, how="manual",
                                     name="Kowhai (old)")
    await rig.writer().execute_batch([rig.sync((org(street(4)),))])

    gone = await rig.record_sync("contact", "pd-org-12")
    assert (gone["state"], gone["xero_id"]) == ("failed", gone_id)
    assert gone["message"] == f"The Xero contact an admin linked to '{KOWHAI.name}' is no longer in Xero."
    assert gone["fix"] == (
        "In the app's settings (Pipedrive: Settings > Apps > Xero drafts), open Customers & products and link "
        f"another Xero contact to {KOWHAI.name} (Link a different Xero contact), then save a change to it in "
        "Pipedrive (the next change is sent to the contact you linked).")
    assert (await rig.link("contact", "pd-org-12"))["how"] == "manual"  # the admin's choice stays


async def test_a_draft_for_a_customer_whose_linked_contact_is_gone_asks_to_link_another(rig: WriterRig) -> None:
    gone_id = "00000000-0000-0000-0000-000000000014"
    await MongoXeroLinks(rig.db).put(rig.company_id, NZ_TENANT_ID, "contact", "pd-org-12", gone_id, how="manual",
                                     name="Kowhai (old)")
    draft = rig.invoice("4601", line_items=(HOSTING,))
    await rig.writer().execute(draft)

    [failed] = await rig.results()
    assert (failed["type"], failed["code"]) == ("DocumentFailed", "unknown_contact")
    assert failed["message"] == f"The Xero contact an admin linked to '{KOWHAI.name}' is no longer in Xero."
    assert failed["fix"].endswith(f"link another Xero contact to {KOWHAI.name} (Link a different Xero contact), "
                                  "then replay the deal.")
    listed = await rig.record_sync("contact", "pd-org-12")
    assert (listed["state"], listed["message"], listed["fix"], listed["xero_id"]) == (
        "failed", failed["message"], failed["fix"], gone_id)
    assert (await rig.link("contact", "pd-org-12"))["xero_id"] == gone_id


async def test_a_sync_arriving_while_xero_is_disconnected_notes_each_record_as_not_sent(rig: WriterRig) -> None:
    await customer_made_by_a_draft(rig)
    await rig.store.mark_broken("xero", rig.company_id, "the authorisation was revoked or expired")
    mark = rig.mark()
    await rig.writer().execute_batch([rig.sync((org(street(8)), org(street(1), contact_number="pd-org-99")),
                                               (ItemSync(item=CONSULTING, create=True),))])

    assert rig.state.requests[mark:] == []
    for kind, key in (("contact", "pd-org-12"), ("item", "CONSULT-HR")):
        noted = await rig.record_sync(kind, key)
        assert (noted["state"], noted["message"]) == (
            "failed", "Xero is disconnected (the authorisation was revoked or expired), so the change was not sent.")
        assert noted["fix"] == ("Connect Xero again in the app's settings (Pipedrive: Settings > Apps > Xero drafts) "
                                "under Connections; the next change saved in Pipedrive sends it to Xero again.")
    assert await rig.record_sync("contact", "pd-org-99") is None  # not linked, not to be created: never sent anyway


async def test_a_disconnected_organisation_notes_each_record_as_not_sent(rig: WriterRig) -> None:
    await customer_made_by_a_draft(rig)
    rig.state.revoke_all_tokens()  # the user removed the app in Xero; our access token is refused at once
    await rig.writer().execute_batch([rig.sync((org(street(8)),), (ItemSync(item=CONSULTING, create=True),))])

    assert [r.status for r in rig.calls("POST", "Contacts")] == [401] and rig.calls("PUT", "Items") == []
    for kind, key in (("contact", "pd-org-12"), ("item", "CONSULT-HR")):
        noted = await rig.record_sync(kind, key)
        assert (noted["state"], noted["message"]) == (
            "failed", "Xero is disconnected (the authorisation was revoked), so the change was not sent.")
        assert noted["fix"].startswith("Connect Xero again in the app's settings")


async def test_a_sync_failing_every_retry_is_dead_lettered_with_no_deal_to_tell() -> None:
    published: list[tuple[object, str]] = []

    class Publisher:
        async def publish(self, message, topic: str, key: bytes) -> None:
            published.append((message, topic))

    async def execute_batch(batch) -> None:
        raise ValueError("the same problem every time")

    command = SyncRecords(company_id="7001", contacts=(org(street(1)),))
    await _reliably([command], execute_batch, RetryPolicy(attempts=2, first_delay=0.001, max_delay=0.002),
                    Publisher(), lambda: False)
    [(dead, topic)] = published  # no DocumentFailed: there is no deal
    assert topic == topics.DEAD_LETTER and isinstance(dead, DeadLettered)
    assert (dead.deal_id, dead.payload["type"], dead.payload["id"]) == ("sync", "SyncRecords", command.id)
    assert SyncRecords.model_validate(dead.payload) == command  # re-driven as it was
