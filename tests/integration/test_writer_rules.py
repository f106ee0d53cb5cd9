"""The xero-writer against the Xero sandbox, the real store and broker: product, customer and tax rules, and
Xero's refusals translated into failures a salesperson can act on."""

from decimal import Decimal

import pytest

from pdx_common.contact_matching import xero_contact_number
from pdx_common.contracts import Contact, LineItem, NewItem
from tests.integration.writer_harness import HOSTING, KOWHAI, WORKSHOP, WriterRig, open_rig, types


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


def only(results: list[dict], kind: str) -> dict:
    assert types(results) == [kind], results
    return results[0]


# --- products ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "unmatched", "expected_code"), [
    ("CONSULT-HR", "description_only", "CONSULT-HR"),  # a code Xero knows is used whatever the rule
    ("PD-SKU-77", "description_only", None),
    ("PD-SKU-77", "default_item", "WIDGET-01"),
])
async def test_product_rules(rig: WriterRig, code: str, unmatched: str, expected_code: str | None) -> None:
    line = LineItem(description="Brand strategy workshop (hours)", quantity=Decimal("6"), unit_amount=Decimal("150"),
                    item_code=code, account_code="200", tax_rate=Decimal("15"), unmatched=unmatched,
                    default_item_code="WIDGET-01")
    command = rig.invoice(line_items=(line, HOSTING))
    await rig.writer().execute(command)

    [invoice] = rig.invoices()
    first = invoice["LineItems"][0]
    assert first.get("ItemCode") == expected_code
    assert (first["Description"], first["Quantity"], first["UnitAmount"]) == (line.description, 6.0, 150.0)
    assert [li["TaxType"] for li in invoice["LineItems"]] == ["OUTPUT2", "OUTPUT2"]
    assert (invoice["Status"], invoice["Type"], invoice["Total"]) == ("DRAFT", "ACCREC", 2415.0)
    created = only(await rig.results(), "DocumentCreated")
    assert (created["number"], created["xero_id"], created["command_id"]) == (
        "INV-0001", invoice["InvoiceID"], command.id)


async def test_create_item_rule_creates_the_item_once(rig: WriterRig) -> None:
    new = NewItem(code="WEB-AUDIT", name="Website audit", description="Accessibility and speed audit",
                  unit_price=Decimal("480.00"), account_code="260", tax_type="OUTPUT2")
    line = LineItem(description="Website audit", quantity=Decimal("1"), unit_amount=Decimal("480"),
                    item_code="WEB-AUDIT", tax_rate=Decimal("15"), unmatched="create_item", create_item=new)
    writer = rig.writer()
    await writer.execute(rig.invoice("4201", line_items=(line,)))

    item = rig.item("WEB-AUDIT")
    assert item is not None and (item["Name"], item["Description"]) == ("Website audit", new.description)
    sales = item["SalesDetails"]
    assert (Decimal(str(sales["UnitPrice"])), sales["AccountCode"], sales["TaxType"]) == (480, "260", "OUTPUT2")
    assert rig.invoices()[0]["LineItems"][0]["ItemCode"] == "WEB-AUDIT"
    assert rig.invoices()[0]["LineItems"][0]["AccountCode"] == "260"  # from the item

    mark = rig.mark()
    await writer.execute(rig.invoice("4202", line_items=(line,)))
    assert rig.calls("GET", "Items", mark) == [] and rig.calls("PUT", "Items", mark) == []
    assert [i["LineItems"][0]["ItemCode"] for i in rig.invoices()] == ["WEB-AUDIT", "WEB-AUDIT"]
    assert types(await rig.results()) == ["DocumentCreated", "DocumentCreated"]


# --- customers --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seeded", [
    {"Name": "Kowhai Design Limited", "ContactNumber": "OURS"},  # our number for this company: whatever its name
    {"Name": "Kowhai Design Ltd", "ContactNumber": "pd-org-12"},  # the number of before, with the same name
    {"Name": "Kowhai Design Ltd"},
])
async def test_existing_contact_is_found_in_one_lookup(rig: WriterRig, seeded: dict) -> None:
    if seeded.get("ContactNumber") == "OURS":
        seeded = {**seeded, "ContactNumber": xero_contact_number(rig.company_id, "pd-org-12")}
    contact = await rig.seed_contact(**seeded)
    mark = rig.mark()
    await rig.writer().execute(rig.invoice())

    assert len(rig.contacts()) == 1
    assert rig.invoices()[0]["Contact"]["ContactID"] == contact["ContactID"]
    assert len(rig.calls("GET", "Contacts", mark)) == 1 and rig.calls("PUT", "Contacts", mark) == []
    assert only(await rig.results(), "DocumentCreated")["contact_name"] == seeded["Name"]
    link = await rig.db.xero_links.find_one({"company_id": rig.company_id, "key": "pd-org-12"})
    assert (link["xero_id"], link["how"], link["name"]) == (contact["ContactID"], "matched", seeded["Name"])


@pytest.mark.parametrize("seeded", [
    {"Name": "Kowhai (accounts)", "EmailAddress": "Accounts@Kowhai.co.nz"},  # an org is not its person's email
    {"Name": "Kowhai Design Limited", "ContactNumber": "pd-org-12"},  # another company's org 12, maybe
])
async def test_an_organisation_is_not_taken_by_email_or_an_old_number_under_another_name(
        rig: WriterRig, seeded: dict) -> None:
    other = await rig.seed_contact(**seeded)
    await rig.writer().execute(rig.invoice())

    created = next(c for c in rig.contacts() if c["ContactID"] != other["ContactID"])
    assert (created["Name"], created["ContactNumber"]) == (KOWHAI.name,
                                                           xero_contact_number(rig.company_id, "pd-org-12"))
    assert rig.invoices()[0]["Contact"]["ContactID"] == created["ContactID"]
    assert only(await rig.results(), "DocumentCreated")["contact_id"] == created["ContactID"]


async def test_a_person_is_found_by_email(rig: WriterRig) -> None:
    seeded = await rig.seed_contact(Name="Tui Brewing (Hemi)", EmailAddress="Ops@TuiBrew.test")
    await rig.writer().execute(rig.invoice(contact=Contact(
        name="Hemi Walker", contact_number="pd-person-31", email="ops@tuibrew.test", source="person",
        source_id="31")))

    assert [c["ContactID"] for c in rig.contacts()] == [seeded["ContactID"]]
    assert rig.invoices()[0]["Contact"]["ContactID"] == seeded["ContactID"]
    assert types(await rig.results()) == ["DocumentCreated"]


async def test_new_customer_is_created_and_remembered(rig: WriterRig) -> None:
    await rig.seed_contact(Name="Someone Else Ltd", ContactNumber="pd-org-99", EmailAddress="ap@else.test")
    writer = rig.writer()
    await writer.execute(rig.invoice("4201"))

    created = next(c for c in rig.contacts() if c["ContactNumber"] == xero_contact_number(rig.company_id,
                                                                                        "pd-org-12"))
    assert (created["Name"], created["EmailAddress"]) == (KOWHAI.name, KOWHAI.email)
    assert [p["PhoneNumber"] for p in created["Phones"] if p["PhoneType"] == "DEFAULT"] == [KOWHAI.phone]
    assert [a["AddressLine1"] for a in created["Addresses"] if a["AddressType"] == "STREET"] == [KOWHAI.address]
    assert rig.invoices()[0]["Contact"]["ContactID"] == created["ContactID"]

    mark = rig.mark()
    await writer.execute(rig.invoice("4202"))
    assert rig.calls("GET", "Contacts", mark) == [] and rig.calls("PUT", "Contacts", mark) == []
    assert [i["Contact"]["ContactID"] for i in rig.invoices()] == [created["ContactID"]] * 2
    assert types(await rig.results()) == ["DocumentCreated", "DocumentCreated"]


async def test_no_match_and_creating_contacts_off_fails(rig: WriterRig) -> None:
    command = rig.invoice(create_contact=False, contact=Contact(
        name="Tui Brewing Co", contact_number="pd-person-31", email="ops@tuibrew.test", source="person",
        source_id="31"))
    await rig.writer().execute(command)

    assert rig.contacts() == [] and rig.invoices() == []
    assert rig.calls("PUT", "Contacts") == [] and rig.calls("PUT", "Invoices") == []
    failed = only(await rig.results(), "DocumentFailed")
    assert (failed["code"], failed["stage"], failed["command_id"]) == ("contact_not_found", "xero", command.id)
    assert "Tui Brewing Co" in failed["message"] and "Create the contact in Xero when it is missing" in failed["fix"]
    assert (await rig.ledger_entry(command))["state"] == "failed"


# --- tax and currency -------------------------------------------------------------------------------------------
async def test_unknown_tax_rate_fails_before_any_write(rig: WriterRig) -> None:
    odd = LineItem(description="Imported fittings", quantity=Decimal("2"), unit_amount=Decimal("80"),
                   account_code="200", tax_rate=Decimal("12.5"))
    command = rig.invoice(line_items=(WORKSHOP, odd))
    await rig.writer().execute(command)

    assert [r for r in rig.state.requests if r.method == "PUT"] == [] and rig.contacts() == []
    failed = only(await rig.results(), "DocumentFailed")
    assert failed["code"] == "unknown_tax_rate" and "12.5%" in failed["message"]
    assert "Customers, products & money > Tax rates and choose the Xero tax rate for 12.5%" in failed["fix"]
    assert (await rig.ledger_entry(command))["state"] == "failed"


async def test_currency_not_enabled_fails_without_writing(rig: WriterRig) -> None:
    await rig.writer().execute(rig.invoice(currency_code="JPY"))

    assert [r for r in rig.state.requests if r.method == "PUT"] == [] and rig.invoices() == []
    failed = only(await rig.results(), "DocumentFailed")
    assert failed["code"] == "currency_not_enabled" and "JPY" in failed["message"]
    assert "NZD" in failed["message"] and "Settings > Currencies" in failed["fix"]


# --- Xero's refusals --------------------------------------------------------------------------------------------
async def test_unknown_account_is_explained_and_a_fixed_replay_succeeds(rig: WriterRig) -> None:
    bad = HOSTING.model_copy(update={"account_code": "999"})
    first = rig.invoice(line_items=(WORKSHOP, bad))
    writer = rig.writer()
    await writer.execute(first)

    assert rig.invoices() == [] and len(rig.calls("PUT", "Invoices")) == 1
    assert (await rig.ledger_entry(first))["state"] == "failed"
    fixed = rig.invoice(line_items=(WORKSHOP, HOSTING))
    await writer.execute(fixed)

    [invoice] = rig.invoices()
    assert [li.get("AccountCode") for li in invoice["LineItems"]] == ["200", "200"]
    entry = await rig.ledger_entry(fixed)
    assert (entry["state"], entry["document"]["xero_id"]) == ("created", invoice["InvoiceID"])
    failed, created = await rig.results()
    assert (failed["type"], failed["code"], failed["command_id"]) == ("DocumentFailed", "unknown_account", first.id)
    assert "Xero said: \"Account code '999' is not a valid code" in failed["message"]
    assert "Sales account" in failed["fix"]
    assert (created["type"], created["command_id"], created["number"]) == ("DocumentCreated", fixed.id, "INV-0001")
