"""The operators' links API: a wrong customer link is corrected by linking the right Xero contact (checked in the
company's Xero first, written as the admin's link that automatic matching never replaces), listed with its last
sync, and forgotten. Real store, the gateway with OAuth, the Pipedrive and Xero sandboxes."""

import uuid
from datetime import UTC, datetime

import aiohttp
import pytest

from pdx_common.xero_links import MongoXeroLinks
from pdx_gateway import cli
from pdx_sandbox.xero.documents import new_contact
from tests.integration.test_oauth_pipedrive import API_TOKEN, connect_xero_directly, running_stack


@pytest.fixture
async def stack(infra, mongo_db):
    async with running_stack(infra, mongo_db) as s:
        await s.install()
        await connect_xero_directly(s)
        s.tenant = (await s.db.connections.find_one({"_id": f"xero:{s.company_id}"}))["tenant_id"]
        yield s


def xero_contact(s, name: str, **fields) -> str:
    """A contact already in the company's Xero organisation."""
    contact = new_contact({"Name": name, "IsCustomer": True, **fields}, datetime.now(UTC).timestamp())
    s.xero.tenant(s.tenant).contacts[contact["ContactID"]] = contact
    return contact["ContactID"]


def contact_reads(s) -> list[str]:
    return [r.path for r in s.xero.requests if r.method == "GET" and "/Contacts/" in r.path]


async def test_an_operator_links_the_right_xero_contact_and_automatic_matching_never_replaces_it(stack):
    s = stack
    links = MongoXeroLinks(s.db)
    wrong, right = xero_contact(s, "Kiwi Widgets (old)"), xero_contact(s, "Kiwi Widgets Ltd")
    await links.put(s.company_id, s.tenant, "contact", "pd-org-101", wrong, how="matched", person_id="201")

    status, body = await s.api("PUT", f"/companies/{s.company_id}/links/contact/PD-ORG-101",
                               {"xero_contact_id": right})

    assert status == 200, body
    assert body["link"] | {"linked_at": None} == {"key": "pd-org-101", "xero_id": right, "how": "manual",
                                                  "name": "Kiwi Widgets Ltd", "person_id": "201", "linked_at": None,
                                                  "synced": {}, "last_sync": None}
    assert contact_reads(s) == [f"/api.xro/2.0/Contacts/{right}"]  # checked in the company's Xero first
    queued = await s.db.record_changes.find_one({"_id": f"{s.company_id}:organization:101"})
    assert queued is not None and queued["due_at"] <= datetime.now(UTC)  # its details sent now, as an edit's
    await links.put(s.company_id, s.tenant, "contact", "pd-org-101", wrong, how="matched")  # a later automatic match
    assert await links.get(s.company_id, s.tenant, "contact", "pd-org-101") == right

    await s.db.record_syncs.insert_one({
        "_id": MongoXeroLinks.key(s.company_id, s.tenant, "contact", "pd-org-101"), "company_id": s.company_id,
        "tenant_id": s.tenant, "kind": "contact", "key": "pd-org-101", "state": "updated", "message": "Address",
        "fix": None, "xero_id": right, "at": datetime.now(UTC)})
    status, listed = await s.api("GET", f"/companies/{s.company_id}/links?kind=contact")
    assert status == 200 and listed["tenant_id"] == s.tenant and listed["tenant_name"]
    [link] = listed["links"]
    assert (link["key"], link["xero_id"], link["how"]) == ("pd-org-101", right, "manual")
    assert link["last_sync"]["state"] == "updated" and link["last_sync"]["at"]


async def test_a_contact_the_organisation_does_not_have_is_404_and_links_nothing(stack):
    s = stack
    status, body = await s.api("PUT", f"/companies/{s.company_id}/links/contact/pd-person-201",
                               {"xero_contact_id": str(uuid.uuid4())})

    assert status == 404 and body["error"]["code"] == "not_found"
    assert await s.db.xero_links.count_documents({}) == 0


async def test_an_archived_contact_is_refused(stack):
    s = stack
    archived = xero_contact(s, "Old Customer", ContactStatus="ARCHIVED")
    status, body = await s.api("PUT", f"/companies/{s.company_id}/links/contact/pd-org-102",
                               {"xero_contact_id": archived})

    assert status == 409 and "archived" in body["error"]["message"] and body["error"]["fix"]
    assert await s.db.xero_links.count_documents({}) == 0


@pytest.mark.parametrize(("key", "body"), [
    ("pd-deal-1", None), ("pd-org-0", None), ("pd-org-12x", None), ("101", None),
    ("pd-org-101", {}), ("pd-org-101", {"xero_contact_id": "not-a-guid"}), ("pd-org-101", {"xero_contact_id": 7}),
    ("pd-org-101", {"xero_contact_id": "../Invoices"}),
])
async def test_a_bad_customer_or_contact_id_is_400_and_asks_xero_nothing(stack, key, body):
    s = stack
    status, answer = await s.api("PUT", f"/companies/{s.company_id}/links/contact/{key}",
                                 body if body is not None else {"xero_contact_id": str(uuid.uuid4())})

    assert status == 400 and answer["error"]["code"] == "bad_request"
    assert contact_reads(s) == [] and await s.db.xero_links.count_documents({}) == 0


async def test_forgetting_a_link_and_listing_items(stack):
    s = stack
    links = MongoXeroLinks(s.db)
    contact = xero_contact(s, "Aroha Ngata")
    await links.put(s.company_id, s.tenant, "contact", "pd-person-201", contact, how="created")
    await links.put(s.company_id, s.tenant, "item", "WIDGET", "item-1", how="matched", name="Widget")

    status, items = await s.api("GET", f"/companies/{s.company_id}/links?kind=item")
    assert status == 200 and [(i["key"], i["xero_id"]) for i in items["links"]] == [("widget", "item-1")]
    status, body = await s.api("DELETE", f"/companies/{s.company_id}/links/contact/pd-person-201")
    assert status == 200 and body["forgotten"] is True
    status, body = await s.api("DELETE", f"/companies/{s.company_id}/links/contact/pd-person-201")
    assert status == 200 and body["forgotten"] is False
    status, listed = await s.api("GET", f"/companies/{s.company_id}/links")
    assert listed["links"] == []
    status, body = await s.api("GET", f"/companies/{s.company_id}/links?kind=deal")
    assert status == 400


async def test_the_cli_links_lists_and_unlinks(stack):
    s = stack
    contact = xero_contact(s, "Kiwi Widgets Ltd")

    def call(*args: str):
        return cli.run(cli.parser().parse_args(["--url", s.gateway_url, "--token", API_TOKEN, *args]))

    status, body = await call("link", "--company", s.company_id, "--customer", "pd-org-101", "--xero-contact", contact)
    assert status == 200 and body["link"]["how"] == "manual"
    status, body = await call("links", "--company", s.company_id)
    assert [link["key"] for link in body["links"]] == ["pd-org-101"]
    status, body = await call("unlink", "--company", s.company_id, "--customer", "pd-org-101")
    assert status == 200 and body["forgotten"] is True


async def test_without_a_xero_organisation_or_the_operators_token_nothing_happens(infra, mongo_db):
    async with running_stack(infra, mongo_db) as s:
        await s.install()
        status, body = await s.api("GET", f"/companies/{s.company_id}/links")
        assert status == 409 and body["error"]["code"] == "xero_not_connected"
        status, body = await s.api("PUT", f"/companies/{s.company_id}/links/contact/pd-org-101",
                                   {"xero_contact_id": str(uuid.uuid4())})
        assert status == 409 and body["error"]["code"] == "xero_not_connected"
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{s.gateway_url}/api/companies/{s.company_id}/links") as resp:
                assert resp.status == 401
            async with anonymous.put(f"{s.gateway_url}/api/companies/{s.company_id}/links/contact/pd-org-101",
                                     json={"xero_contact_id": str(uuid.uuid4())}) as resp:
                assert resp.status == 401
        assert await s.db.xero_links.count_documents({}) == 0


@pytest.mark.parametrize(("standing", "stands_for"), [
    ("linked", "pd-org-103"), ("our number", "pd-org-103"), ("another company's number", "another company"),
    ("another company's link", "another company")])
async def test_a_contact_that_stands_for_another_record_is_409_and_links_nothing(stack, standing, stands_for):
    s = stack
    links = MongoXeroLinks(s.db)
    number = {"our number": f"pd{s.company_id}-org-103", "another company's number": "pd9999-org-5"}.get(standing)
    brightside = xero_contact(s, "Brightside GmbH", **({"ContactNumber": number} if number else {}))
    if standing == "linked":
        await links.put(s.company_id, s.tenant, "contact", "pd-org-103", brightside, how="created")
    if standing == "another company's link":
        await links.put("9999", s.tenant, "contact", "pd-org-5", brightside, how="created")

    status, body = await s.api("PUT", f"/companies/{s.company_id}/links/contact/pd-person-203",
                               {"xero_contact_id": brightside})

    assert status == 409, body
    assert body["error"]["code"] == "contact_taken" and body["error"]["stands_for"] == stands_for
    assert "Brightside GmbH" in body["error"]["message"] and body["error"]["fix"].startswith("Choose a contact")
    assert await links.doc(s.company_id, s.tenant, "contact", "pd-person-203") is None


async def test_a_contact_carrying_the_customers_own_number_or_none_is_linked(stack):
    s = stack
    own = xero_contact(s, "Lena Fischer", ContactNumber=f"pd{s.company_id}-person-203")
    legacy = xero_contact(s, "Lena F.", ContactNumber="pd-person-9")  # before numbers named the company: no owner
    for contact in (own, legacy):
        status, body = await s.api("PUT", f"/companies/{s.company_id}/links/contact/pd-person-203",
                                   {"xero_contact_id": contact})
        assert status == 200, body
        assert body["link"]["xero_id"] == contact
