"""Customers & products and Numbers on the deal with the company's Pipedrive and Xero connected (both sandboxes,
installed and connected through the real OAuth flows, the real store): the sync switches and the tax number field,
the linked customers of the company's own Xero organisation only, problems first, linking a different Xero contact
found by a search (admins only, a contact the search did not find refused, another company's customer never shown
nor changed), the deal fields picked by type or created in Pipedrive, and a paid stage that makes a draft refused
beside its pipeline."""
# ruff: noqa: F811  (the connected stack's fixtures, imported, are the tests' arguments)

import re
from datetime import UTC, datetime, timedelta

import pytest

from pdx_common.xero_links import MongoXeroLinks
from pdx_sandbox.faults import Fault
from pdx_sandbox.pipedrive.seed import ORG_TAX_NUMBER_FIELD_KEY, PERSON_CUSTOMER_NUMBER_FIELD_KEY, PO_NUMBER_FIELD_KEY
from pdx_sandbox.xero.masterdata import build_contact, commit_contact
from tests.integration.test_app_settings_connected import admin, stack  # noqa: F401  (fixtures)
from tests.integration.test_app_settings_support import field_error, form_fields, open_browser, with_values
from tests.integration.test_oauth_xero import xero_doc


async def tenant_of(stack) -> str:
    return (await xero_doc(stack))["tenant_id"]


def xero_contact(stack, tenant_id: str, name: str, email: str | None = None) -> str:
    """A contact someone made in Xero itself: the sandbox's own store, as Xero's UI would."""
    tenant = stack.xero.tenants[tenant_id]
    raw = {"Name": name, **({"EmailAddress": email} if email else {})}
    return commit_contact(tenant, build_contact(tenant, raw, None, stack.xero.clock.time()))["ContactID"]


async def record_sync(db, company_id: str, tenant_id: str, key: str, state: str, name: str, at: datetime,
                      message: str | None = None, fix: str | None = None) -> None:
    """The outcome of an update to Xero, as the xero-writer records it."""
    await db.record_syncs.replace_one({"_id": MongoXeroLinks.key(company_id, tenant_id, "contact", key)}, {
        "company_id": company_id, "tenant_id": tenant_id, "kind": "contact", "key": key, "name": name,
        "state": state, "message": message, "fix": fix, "xero_id": None, "at": at}, upsert=True)


@pytest.fixture
async def linked(stack):
    """Two customers linked in the company's organisation (one updated, one Xero cannot tell apart), and another
    company's customer in the same organisation."""
    tenant_id = await tenant_of(stack)
    links = MongoXeroLinks(stack.db)
    kiwi = xero_contact(stack, tenant_id, "Kiwi Widgets Ltd", "accounts@kiwiwidgets.example")
    xero_contact(stack, tenant_id, "Kiwi Widgets (old)")
    acme_right = xero_contact(stack, tenant_id, "Acme Corporation", "ap@acme.example")
    other = xero_contact(stack, tenant_id, "Other Company's Customer")
    now = datetime.now(UTC)
    await links.put(stack.company_id, tenant_id, "contact", "pd-org-101", kiwi, how="created", name="Kiwi Widgets Ltd")
    await record_sync(stack.db, stack.company_id, tenant_id, "pd-org-101", "updated", "Kiwi Widgets Ltd",
                      now - timedelta(minutes=5))
    await record_sync(stack.db, stack.company_id, tenant_id, "pd-org-102", "ambiguous", "Acme Corporation", now,
                      message="Xero has 2 contacts that could be 'Acme Corporation'.", fix="Link the right contact.")
    await links.put("other-company", tenant_id, "contact", "pd-org-777", other, how="created",
                    name="Other Company's Customer")
    for company, code, name in ((stack.company_id, "WIDGET-01", "Widget"), ("other-company", "SECRET-1", "Secret")):
        await stack.db.record_syncs.insert_one({
            "_id": f"{company}:{tenant_id}:item:{code.lower()}", "company_id": company, "tenant_id": tenant_id,
            "kind": "item", "key": code, "name": name, "state": "failed", "xero_id": None, "at": now,
            "message": f"Xero refused the item {code}: its name is longer than 50 characters.",
            "fix": "Shorten the product's name in Pipedrive."})
    return {"tenant_id": tenant_id, "kiwi": kiwi, "acme": acme_right, "other": other}


async def test_the_switches_and_the_tax_number_field_save(admin):
    status, page = await admin.get("/app/customers")
    assert status == 200, page
    assert f'<option value="{ORG_TAX_NUMBER_FIELD_KEY}">Tax number (on each organisation)</option>' in page
    assert f'<option value="{PERSON_CUSTOMER_NUMBER_FIELD_KEY}">Customer number (on each person)</option>' in page
    assert "archives nothing in Xero" in page
    form = [(n, v) for n, v in await admin.form("/app/customers") if not (n == "sync.update_xero" and v == "true")]
    status, page, location = await admin.post("/app/customers", with_values(
        form, sync__create_on_add="true", customer__tax_number_field=ORG_TAX_NUMBER_FIELD_KEY))
    assert (status, location) == (303, "/app/customers?saved=1"), page
    stored = await admin.settings()
    assert stored["sync"] == {"update_xero": False, "create_on_add": True}
    assert stored["customer"]["tax_number_field"] == ORG_TAX_NUMBER_FIELD_KEY
    _, page = await admin.get("/app/history")
    assert "Customers &amp; products ›</span> Tax number</td><td>(none)</td><td>Tax number</td>" in page
    assert "Create customers and products in Xero as soon as they are added</td><td>Off</td><td>On</td>" in page


async def test_a_field_not_in_the_list_is_refused_beside_it_and_nothing_is_saved(admin):
    before = await admin.settings()
    status, page, _ = await admin.post("/app/customers", with_values(
        await admin.form("/app/customers"), customer__tax_number_field=PO_NUMBER_FIELD_KEY))  # a deal field
    assert status == 400
    assert field_error(page, "customer.tax_number_field") == "Choose a field from the list."
    assert await admin.settings() == before


async def test_linked_customers_of_this_company_only_problems_first(stack, admin, linked):
    status, page = await admin.get("/app/customers")
    assert status == 200
    table = page.split('<table class="table customers">', 1)[1]
    assert table.index("Acme Corporation") < table.index("Kiwi Widgets Ltd")  # the problem first
    assert "Needs you" in table and "Search for the right Xero contact" in table
    assert "Created in Xero by the app" in table and "Updated in Xero" in table
    assert "Other Company" not in page and "pd-org-777" not in page
    products = page.split('<table class="table product-problems">', 1)[1]
    assert "Widget" in products and "Shorten the product&#39;s name in Pipedrive." in products
    assert "SECRET-1" not in page and "Secret" not in page


async def test_an_admin_links_a_different_contact_found_by_search(stack, admin, linked):
    status, page = await admin.get("/app/customers?link=pd-org-102&q=acme")
    assert status == 200
    assert "Xero contacts found for “acme”" in page and "ap@acme.example" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    status, page, location = await admin.post("/app/customers/link", {
        "csrf": csrf, "key": "pd-org-102", "q": "acme", "xero_contact_id": linked["acme"]})
    assert (status, location) == (303, "/app/customers?linked=pd-org-102#c-pd-org-102"), page
    doc = await MongoXeroLinks(stack.db).doc(stack.company_id, linked["tenant_id"], "contact", "pd-org-102")
    assert (doc["xero_id"], doc["how"], doc["name"]) == (linked["acme"], "manual", "Acme Corporation")
    _, page = await admin.get(location.split("#")[0])
    assert "Acme Corporation is now linked to Acme Corporation in Xero" in page
    table = page.split('<table class="table customers">', 1)[1]
    assert "Linked by an admin" in table and "Needs you" not in table  # answered: no longer a problem


@pytest.mark.parametrize(("fields", "field", "problem"), [
    ({"q": "acme", "xero_contact_id": "not-from-the-search"}, "xero_contact_id",
     "Choose one of the Xero contacts found."),
    ({"q": "kiwi", "xero_contact_id": "ACME"}, "xero_contact_id", "Choose one of the Xero contacts found."),
    ({"q": "acme", "xero_contact_id": ""}, "xero_contact_id", "Choose the Xero contact to link to Acme Corporation."),
    ({"q": "  ", "xero_contact_id": "ACME"}, "q", "Type part of the Xero contact's name"),
], ids=["unknown id", "another search's contact", "none chosen", "no search"])
async def test_a_contact_the_search_did_not_find_is_refused_beside_its_field(stack, admin, linked, fields, field,
                                                                            problem):
    fields = {k: (linked["acme"] if v == "ACME" else v) for k, v in fields.items()}
    _, page = await admin.get("/app/customers")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    status, page, _ = await admin.post("/app/customers/link", {"csrf": csrf, "key": "pd-org-102", **fields})
    assert status == 400
    assert problem in field_error(page, field)
    assert "Nothing was saved" in page
    assert await MongoXeroLinks(stack.db).doc(stack.company_id, linked["tenant_id"], "contact", "pd-org-102") is None


@pytest.mark.parametrize("key", ["pd-org-777", "pd-org-999", "pd-org-101:x", "7001:tenant:contact:pd-org-101"])
async def test_another_companys_customer_or_no_customer_cannot_be_linked(stack, admin, linked, key):
    _, page = await admin.get(f"/app/customers?link={key}&q=other")
    assert "Other Company" not in page  # no search is opened for a customer not in the list
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    status, page, _ = await admin.post("/app/customers/link", {
        "csrf": csrf, "key": key, "q": "other", "xero_contact_id": linked["other"]})
    assert status == 404 and "That customer is not in this list, so nothing was linked." in page
    links = MongoXeroLinks(stack.db)
    other = await links.doc("other-company", linked["tenant_id"], "contact", "pd-org-777")
    assert (other["xero_id"], other["how"]) == (linked["other"], "created")
    assert await links.listed(stack.company_id, linked["tenant_id"], "contact") == [
        await links.doc(stack.company_id, linked["tenant_id"], "contact", "pd-org-101")]


async def test_a_non_admin_sees_the_list_but_cannot_link_or_save(stack, linked):
    viewer = await open_browser(stack.gateway_url, stack.db, stack.company_id, admin=False, user_id="12002",
                                user_name="Sam Seller")
    try:
        status, page = await viewer.get("/app/customers?link=pd-org-102&q=acme")
        assert status == 200 and "Kiwi Widgets Ltd" in page
        assert "Link a different Xero contact" not in page and "Xero contacts found" not in page
        assert ">Save<" not in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
        status, _, _ = await viewer.post("/app/customers/link", {
            "csrf": csrf, "key": "pd-org-102", "q": "acme", "xero_contact_id": linked["acme"]})
        assert status == 403
        status, _, _ = await viewer.post("/app/customers", {"csrf": csrf, "version": "1",
                                                            "sync.create_on_add": "true"})
        assert status == 403
    finally:
        await viewer.http.close()
    assert await MongoXeroLinks(stack.db).doc(stack.company_id, linked["tenant_id"], "contact", "pd-org-102") is None
    assert (await stack.db.company_settings.find_one({"_id": stack.company_id}))["sync"]["create_on_add"] is False


async def test_a_link_without_the_csrf_token_is_refused(stack, admin, linked):
    status, _, _ = await admin.post("/app/customers/link", {"key": "pd-org-102", "q": "acme",
                                                            "xero_contact_id": linked["acme"]})
    assert status == 403
    assert await MongoXeroLinks(stack.db).doc(stack.company_id, linked["tenant_id"], "contact", "pd-org-102") is None


# --- Numbers on the deal ---------------------------------------------------------------------------------------


async def test_deal_fields_are_created_in_pipedrive_and_chosen(stack, admin):
    status, page = await admin.get("/app/deal-fields")
    assert status == 200 and "Create these fields in Pipedrive" in page
    assert ">PO number (text)</option>" in page and "Invoice due days (number)</option>" in page
    assert "Invoice date" not in page  # a date field holds none of them
    create = form_fields(page.split('id="create-fields"', 1)[1])
    status, page, location = await admin.post("/app/deal-fields/create", create)
    assert (status, location) == (303, "/app/deal-fields?saved=1&created=4"), page
    made = {f["name"]: f for f in stack.pd.fields_of("deal").values()}
    chosen = (await admin.settings())["deal_fields"]
    assert chosen["status"] == {"key": made["Xero status"]["key"], "field_type": "varchar"}
    assert chosen["amount_due"] == {"key": made["Xero amount due"]["key"], "field_type": "monetary"}
    assert chosen["number"]["key"] == made["Xero invoice number"]["key"]
    assert chosen["link"]["key"] == made["Xero link"]["key"]
    _, page = await admin.get(location)
    assert "Created 4 fields in Pipedrive" in page and "Create these fields in Pipedrive" not in page

    # Unchosen and created again: the company's field of that name is used, not made twice.
    status, _, _ = await admin.post("/app/deal-fields", with_values(await admin.form("/app/deal-fields"),
                                                                    deal_fields__status=""))
    assert status == 303
    _, page = await admin.get("/app/deal-fields")
    status, _, location = await admin.post("/app/deal-fields/create",
                                           form_fields(page.split('id="create-fields"', 1)[1]))
    assert location == "/app/deal-fields?saved=1&created=0"
    assert [f["name"] for f in stack.pd.fields_of("deal").values()].count("Xero status") == 1


async def test_a_paid_stage_that_makes_a_draft_is_refused_beside_its_pipeline(admin):
    await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"), triggers__0__stage_id="5"))
    form = await admin.form("/app/deal-fields")
    status, page, _ = await admin.post("/app/deal-fields", with_values(form, deal_fields__paid_stages__1="5"))
    assert status == 400
    assert field_error(page, "deal_fields.paid_stages.1").startswith(
        "Deals entering Won become a DRAFT invoice (see Triggers), so paid deals cannot be moved there")
    assert (await admin.settings())["deal_fields"]["paid_stages"] == []
    status, _, _ = await admin.post("/app/deal-fields", with_values(form, deal_fields__paid_stages__2="8",
                                                                     deal_fields__number=PO_NUMBER_FIELD_KEY))
    assert status == 303
    chosen = (await admin.settings())["deal_fields"]
    assert chosen["paid_stages"] == [{"pipeline_id": 2, "stage_id": 8}]
    assert chosen["number"] == {"key": PO_NUMBER_FIELD_KEY, "field_type": "varchar"}
    # The other way round: a trigger on the paid stage is refused beside the trigger's stage.
    status, page, _ = await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"),
                                                                    triggers__1__stage_id="8"))
    assert status == 400
    assert "Paid deals of this pipeline are moved to this stage" in field_error(page, "triggers.1.stage_id")
    _, page = await admin.get("/app/history")
    assert "When the invoice is paid, move the deal to</td><td>(none)</td><td>Renewals: Renewed</td>" in page


@pytest.mark.parametrize(("changes", "field", "problem"), [
    ({"deal_fields__amount_due": PO_NUMBER_FIELD_KEY}, "deal_fields.amount_due",
     "PO number is a text field; the amount due needs a monetary or number field."),
    ({"deal_fields__status": "0" * 40}, "deal_fields.status", "Choose a field from the list."),
    ({"deal_fields__paid_stages__1": "8"}, "deal_fields.paid_stages.1", "Choose one of this pipeline's stages."),
    ({"deal_fields__paid_stages__1": "x"}, "deal_fields.paid_stages.1", "Choose a stage from the list."),
], ids=["wrong type", "unknown field", "another pipeline's stage", "not a stage"])
async def test_bad_deal_field_choices_are_refused_beside_their_field(admin, changes, field, problem):
    before = await admin.settings()
    status, page, _ = await admin.post("/app/deal-fields", with_values(await admin.form("/app/deal-fields"),
                                                                       **changes))
    assert status == 400
    assert field_error(page, field) == problem
    assert await admin.settings() == before


@pytest.mark.parametrize(("status", "said"), [(403, "Pipedrive did not let the app create deal fields."),
                                              (400, "Pipedrive did not create the fields just now")])
async def test_a_field_pipedrive_refuses_to_create_chooses_nothing_and_says_what_to_do(stack, admin, status, said):
    stack.pd.faults.add(Fault(status=status, paths=["/api/v1/dealFields"], methods=["POST"]))
    _, page = await admin.get("/app/deal-fields")
    before = await admin.settings()
    status_code, page, _ = await admin.post("/app/deal-fields/create",
                                            form_fields(page.split('id="create-fields"', 1)[1]))
    assert status_code == 502 and said in page and "What to do:" in page
    assert await admin.settings() == before


async def test_deal_field_writes_pipedrive_refused_are_listed_for_this_company_only(stack, admin):
    now = datetime.now(UTC)
    for company, deal, reason in ((stack.company_id, "42", "Pipedrive refused the update of the deal (400): unknown "
                                   "custom fields"), ("other-company", "77", "Secret reason of another company")):
        await stack.db.deal_field_writes.insert_one({
            "_id": f"deal-fields:{company}:inv-{deal}:abc", "company_id": company, "deal_id": deal,
            "xero_id": f"inv-{deal}", "body": {}, "state": "failed", "reason": reason, "at": now})
    await stack.db.deal_field_writes.insert_one({
        "_id": f"deal-fields:{stack.company_id}:inv-43:def", "company_id": stack.company_id, "deal_id": "43",
        "xero_id": "inv-43", "body": {}, "state": "written", "at": now})
    status, page = await admin.get("/app/deal-fields")
    assert status == 200
    refused = page.split('id="refused"', 1)[1]
    assert "Deal 42" in refused and "unknown custom fields" in refused
    assert "Deal 43" not in refused  # written: nothing to do
    assert "Deal 77" not in page and "Secret reason" not in page
