"""Customers & products and Numbers on the deal with the company's Pipedrive and Xero connected (both sandboxes,
installed and connected through the real OAuth flows, the real store): the sync switches and the tax number field,
the linked customers of the company's own Xero organisation only, problems first, linking a different Xero contact
found by a search (admins only, a contact the search did not find refused, another company's customer never shown
nor changed), the deal fields picked by type or created in Pipedrive, and a paid stage that makes a draft refused
beside its pipeline."""
# ruff: noqa: F811  (the connected stack's fixtures, imported, are the tests' arguments)

import re
from datetime import UTC, datetime, timedelta
from html import unescape

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


def xero_contact(stack, tenant_id: str, name: str, email: str | None = None, number: str | None = None) -> str:
    """A contact someone made in Xero itself: the sandbox's own store, as Xero's UI would."""
    tenant = stack.xero.tenants[tenant_id]
    raw = {"Name": name, **({"EmailAddress": email} if email else {}), **({"ContactNumber": number} if number else {})}
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
    assert ("An organisation field gives organisations their tax number and people none; a person field gives "
            "people theirs and organisations none.") in page
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


# --- A contact that stands for another customer, what happens after a link, many links, Pipedrive's webhooks ----


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page)[1]


def found_label(page: str, contact_id: str) -> str:
    """The words beside one contact of a search's results."""
    match = re.search(rf'value="{re.escape(contact_id)}"[^>]*>\s*<label[^>]*>(.*?)</label>', page, re.DOTALL)
    assert match, f"{contact_id} not in the results"
    return re.sub(r"<[^>]+>", "", unescape(match[1]))


def customer_row(page: str, key: str) -> str:
    return unescape(page.split(f'id="c-{key}"', 1)[1].split("</tr>", 1)[0])


async def test_a_contact_standing_for_another_customer_is_shown_so_and_refused_beside_the_list(stack, admin, linked):
    tenant_id = linked["tenant_id"]
    ours = xero_contact(stack, tenant_id, "Acme Corporation Pty", number=f"pd{stack.company_id}-org-555")
    theirs = xero_contact(stack, tenant_id, "Acme Corporation (shared)", number="pd9999-org-5")
    taken = [("kiwi", linked["kiwi"], "Organisation 101 in Pipedrive"),  # linked to pd-org-101 of this company
             ("acme", ours, "Organisation 555 in Pipedrive"),  # this company's number of another organisation
             ("acme", theirs, "another Pipedrive company's customer"),  # another company's number
             ("other", linked["other"], "another Pipedrive company's customer")]  # another company's link
    for term, contact_id, stands_for in taken:
        status, page = await admin.get(f"/app/customers?link=pd-org-102&q={term}")
        assert status == 200
        assert f"Already {stands_for}" in found_label(page, contact_id)
        status, page, _ = await admin.post("/app/customers/link", {
            "csrf": csrf_of(page), "key": "pd-org-102", "q": term, "xero_contact_id": contact_id})
        assert status == 400, page
        said = field_error(page, "xero_contact_id")
        assert stands_for in said and "Choose a contact that stands for nobody else" in said, said
        assert "Nothing was saved" in page
        assert await MongoXeroLinks(stack.db).doc(stack.company_id, tenant_id, "contact", "pd-org-102") is None
    _, page = await admin.get("/app/customers?link=pd-org-102&q=acme")
    assert "Already" not in found_label(page, linked["acme"])  # stands for nobody: choosable
    status, _, _ = await admin.post("/app/customers/link", {
        "csrf": csrf_of(page), "key": "pd-org-102", "q": "acme", "xero_contact_id": linked["acme"]})
    assert status == 303


async def test_after_a_link_the_customer_is_sent_to_xero_now_and_a_failed_draft_is_to_be_replayed(stack, admin,
                                                                                                  linked):
    tenant_id, company = linked["tenant_id"], stack.company_id
    before = datetime.now(UTC)
    _, page = await admin.get("/app/customers?link=pd-org-102&q=acme")
    status, _, location = await admin.post("/app/customers/link", {
        "csrf": csrf_of(page), "key": "pd-org-102", "q": "acme", "xero_contact_id": linked["acme"]})
    assert status == 303
    entry = await stack.db.record_changes.find_one({"_id": f"{company}:organization:102"})
    assert entry is not None, "the customer is queued for the mapper's next round"
    assert {k: entry[k] for k in ("company_id", "entity", "entity_id", "touches", "created", "deleted")} == {
        "company_id": company, "entity": "organization", "entity_id": "102", "touches": 1, "created": False,
        "deleted": False}
    assert before <= entry["due_at"] <= datetime.now(UTC) and entry["lease_until"] < before
    _, page = await admin.get(location.split("#")[0])
    notice = unescape(re.search(r'role="status"[^>]*>(.*?)</', page, re.DOTALL)[1])
    assert ("Acme Corporation is now linked to Acme Corporation in Xero. The app sends Acme Corporation's details "
            "from Pipedrive to that contact within a minute, and the next draft for Acme Corporation uses it."
            ) in notice
    assert "replay" not in notice  # an update's problem, no draft to make again

    # A draft failed on Lena (the writer named the deal), and a change of hers is already waiting a minute.
    lena = xero_contact(stack, tenant_id, "Lena Fischer (old)")
    await record_sync(stack.db, company, tenant_id, "pd-person-203", "ambiguous", "Lena Fischer", datetime.now(UTC),
                      message="Xero has 2 contacts that could be 'Lena Fischer'.",
                      fix="In the app's settings, open Customers & products and link the right Xero contact to Lena "
                          "Fischer, then replay the deal.")
    await stack.db.record_syncs.update_one({"_id": MongoXeroLinks.key(company, tenant_id, "contact", "pd-person-203")},
                                           {"$set": {"deal_id": "42"}})
    waiting = datetime.now(UTC) + timedelta(minutes=1)
    await stack.db.record_changes.insert_one({"_id": f"{company}:person:203", "company_id": company,
                                              "entity": "person", "entity_id": "203", "due_at": waiting,
                                              "touches": 2, "lease_until": datetime(1970, 1, 1, tzinfo=UTC)})
    _, page = await admin.get("/app/customers?link=pd-person-203&q=lena")
    assert "then replay deal 42 under Sync log" in customer_row(page, "pd-person-203")
    status, _, location = await admin.post("/app/customers/link", {
        "csrf": csrf_of(page), "key": "pd-person-203", "q": "lena", "xero_contact_id": lena})
    assert status == 303
    entry = await stack.db.record_changes.find_one({"_id": f"{company}:person:203"})
    assert entry["touches"] == 3 and entry["due_at"] < waiting  # brought forward, counted
    _, page = await admin.get(location.split("#")[0])
    notice = unescape(re.search(r'role="status"[^>]*>(.*?)</', page, re.DOTALL)[1])
    assert "A draft failed on this customer: replay deal 42 under Sync log to make it now." in notice


async def test_with_updates_off_the_notice_says_only_the_next_draft_uses_the_contact(stack, admin, linked):
    form = [(n, v) for n, v in await admin.form("/app/customers") if not (n == "sync.update_xero" and v == "true")]
    status, _, _ = await admin.post("/app/customers", form)
    assert status == 303
    _, page = await admin.get("/app/customers?link=pd-org-102&q=acme")
    _, _, location = await admin.post("/app/customers/link", {
        "csrf": csrf_of(page), "key": "pd-org-102", "q": "acme", "xero_contact_id": linked["acme"]})
    _, page = await admin.get(location.split("#")[0])
    assert ("The next draft for Acme Corporation uses it. Nothing else is sent to Xero, since updating Xero when a "
            "customer changes is off above.") in unescape(page)


async def test_a_linked_customer_beyond_the_newest_500_links_still_shows_its_contact(stack, admin):
    tenant_id, company, now = await tenant_of(stack), stack.company_id, datetime.now(UTC)

    def link(key: str, name: str, at: datetime) -> dict:
        return {"_id": MongoXeroLinks.key(company, tenant_id, "contact", key), "xero_id": f"x-{key}", "at": at,
                "company_id": company, "tenant_id": tenant_id, "kind": "contact", "key": key, "how": "created",
                "name": name}

    await stack.db.xero_links.insert_many([link(f"pd-org-{1000 + i}", f"Customer {i}", now - timedelta(seconds=i))
                                           for i in range(510)])
    await stack.db.xero_links.insert_one(link("pd-org-7", "Old But Busy Ltd", now - timedelta(days=300)))
    await record_sync(stack.db, company, tenant_id, "pd-org-7", "updated", "Old But Busy", now)  # updated just now
    status, page = await admin.get("/app/customers")
    assert status == 200
    row = customer_row(page, "pd-org-7")
    assert "Old But Busy Ltd" in row and "Not linked" not in row and "Updated in Xero" in row


async def test_pipedrive_not_sending_changes_is_shown_and_an_admin_tries_again(stack, admin):
    company = stack.company_id
    # Installed before people, organisations and products had webhooks: only the deal's is known.
    await stack.db.companies.update_one({"_id": company}, {"$unset": {
        "webhook_ids.person": "", "webhook_ids.organization": "", "webhook_ids.product": "", "webhooks_state": ""}})
    _, page = await admin.get("/app/customers")
    warning = unescape(page.split('id="webhooks-warning"', 1)[1].split("</div>", 1)[0])
    assert ">Try again</button>" in warning
    warning = re.sub(r"<[^>]+>", "", warning)
    assert ("Pipedrive is not sending this app changes of people, organisations and products, so Xero is not "
            "updated when they change. Reconnect Pipedrive under Connections, or press Try again.") in warning

    stack.pd.faults.add(Fault(status=403, paths=["/api/v1/webhooks"], methods=["POST"]))
    status, page, _ = await admin.post("/app/customers/webhooks", {"csrf": csrf_of(page)})
    assert status == 502
    assert ("Pipedrive still does not send changes of people, organisations and products: Pipedrive refused the "
            "app's request to add them (403).") in unescape(page)
    state = (await stack.db.companies.find_one({"_id": company}))["webhooks_state"]
    assert state["ok"] is False and state["reason"] == "Pipedrive refused the app's request to add them (403)"
    _, page = await admin.get("/app/customers")
    assert "(Pipedrive refused the app&#39;s request to add them (403), " in page  # the reason and when

    viewer = await open_browser(stack.gateway_url, stack.db, company, admin=False, user_id="12002",
                                user_name="Sam Seller")
    try:
        _, seen = await viewer.get("/app/customers")
        assert "Pipedrive is not sending this app changes" in seen and ">Try again</button>" not in seen
        status, _, _ = await viewer.post("/app/customers/webhooks", {"csrf": csrf_of(seen)})
        assert status == 403
    finally:
        await viewer.http.close()

    stack.pd.faults.clear()
    status, _, location = await admin.post("/app/customers/webhooks", {"csrf": csrf_of(page)})
    assert (status, location) == (303, "/app/customers?webhooks=ok")
    doc = await stack.db.companies.find_one({"_id": company})
    assert {"deal", "person", "organization", "product"} <= doc["webhook_ids"].keys()
    assert doc["webhooks_state"]["ok"] is True
    _, page = await admin.get(location)
    assert "✓ Pipedrive now sends this app changes of people, organisations and products." in page
    assert 'id="webhooks-warning"' not in page


# --- Numbers on the deal ---------------------------------------------------------------------------------------


async def test_deal_fields_are_created_in_pipedrive_and_chosen(stack, admin):
    status, page = await admin.get("/app/deal-fields")
    assert status == 200 and "Create these fields in Pipedrive" in page
    assert ("Deals already invoiced get their fields at the next change Xero reports for their invoice or quote: "
            "nothing is filled in for the past.") in page
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
    status, _, _ = await admin.post("/app/deal-fields", with_values(await admin.form("/app/deal-fields"),
                                                                    deal_fields__number=PO_NUMBER_FIELD_KEY))
    assert status == 303
    body = {"custom_fields": {PO_NUMBER_FIELD_KEY: "INV-0042", "f" * 40: "Paid"}, "stage_id": 8}
    for company, deal, reason in ((stack.company_id, "42", "Pipedrive refused the update of the deal (400): unknown "
                                   "custom fields"), ("other-company", "77", "Secret reason of another company")):
        await stack.db.deal_field_writes.insert_one({
            "_id": f"deal-fields:{company}:inv-{deal}:abc", "company_id": company, "deal_id": deal,
            "xero_id": f"inv-{deal}", "body": body, "state": "failed", "reason": reason, "at": now})
    await stack.db.deal_field_writes.insert_one({
        "_id": f"deal-fields:{stack.company_id}:inv-43:def", "company_id": stack.company_id, "deal_id": "43",
        "xero_id": "inv-43", "body": {}, "state": "written", "at": now})
    status, page = await admin.get("/app/deal-fields")
    assert status == 200
    refused = page.split('id="refused"', 1)[1]
    assert "Deal 42" in refused and "unknown custom fields" in refused
    assert '<a href="https://demo.pipedrive.com/deal/42" target="_blank" rel="noopener">Deal 42</a>' in refused
    assert (f"<td>Invoice number (PO number), Field {'f' * 40} (not found in Pipedrive), the move to the paid "
            "stage</td>") in refused
    assert "Deal 43" not in refused  # written: nothing to do
    assert "Deal 77" not in page and "Secret reason" not in page
