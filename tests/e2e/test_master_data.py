"""Customers and products stay in sync, Pipedrive -> Xero, through the whole stack: the Pipedrive sandbox's webhooks,
the gateway, the mapper's gathering of edits, the writer's batched updates, the Xero sandbox."""

import json
import uuid

import aiohttp
from pymongo import AsyncMongoClient

from pdx_common.contact_matching import xero_contact_number
from pdx_devstack.peek import sandbox_get
from tests.e2e.helpers import admin, create_deal, eventually, invoices_for_deal, move

WIDGET = 302  # the seeded product WIDGET-01, an item in the Xero sandbox's organisation


async def pipedrive(stack, method: str, path: str, body: dict | None = None) -> dict:
    """A user's edit in Pipedrive (the sandbox's control routes: webhooks with change_source "app")."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{stack.urls['pipedrive']}{path}", json=body) as resp:
            assert resp.status in (200, 201), await resp.text()
            return (await resp.json()).get("data") or {}


async def xero_requests(stack, method: str, prefix: str) -> list[dict]:
    found = await sandbox_get(stack.urls["xero"], "/_sandbox/requests",
                              {"tenant": stack.seeded.tenant_id, "path_prefix": prefix})
    return [r for r in found if r["method"] == method]


async def xero_records(stack, collection: str) -> list[dict]:
    return await sandbox_get(stack.urls["xero"], f"/_sandbox/tenants/{stack.seeded.tenant_id}/{collection}")


async def pending_changes(stack, company_id: str) -> int:
    client = AsyncMongoClient(stack.infra.mongo_url)
    try:
        return await client[stack.options.mongo_db].record_changes.count_documents(
            {"_id": {"$regex": f"^{company_id}:"}})
    finally:
        await client.close()


def address(street: str, city: str, postal_code: str) -> dict:
    return {"value": f"{street}, {city} {postal_code}, New Zealand", "street_number": street.split()[0],
            "route": street.split(" ", 1)[1], "locality": city, "admin_area_level_1": city,
            "postal_code": postal_code, "country": "New Zealand"}


async def test_an_address_and_a_price_edited_in_pipedrive_reach_xero_in_few_calls(stack):
    company = stack.seeded.company_id
    org = await pipedrive(stack, "POST", "/_sandbox/organizations",
                          {"name": f"Harbour Bakery {uuid.uuid4().hex[:6]}",
                           "address": address("4 Wharf Road", "Nelson", "7010")})
    deal = await create_deal(stack, title="First order from the bakery", org_id=org["id"],
                             products=[{"product_id": WIDGET, "quantity": 4, "item_price": 25, "tax": 15,
                                        "tax_method": "exclusive"}])
    await move(stack, deal["id"], "Won")
    [invoice] = await eventually(lambda: invoices_for_deal(stack, deal["id"]))
    number = xero_contact_number(company, f"pd-org-{org['id']}")
    contact = next(c for c in await xero_records(stack, "contacts") if c["ContactID"] ==
                   invoice["Contact"]["ContactID"])
    assert contact["ContactNumber"] == number  # company-qualified: unique when companies share an organisation
    assert contact["Addresses"][0]["City"] == "Nelson"

    before = len(await xero_requests(stack, "POST", "/api.xro/2.0/Contacts"))
    for n in range(50):  # an admin fixing the address, keystroke by keystroke
        await pipedrive(stack, "POST", f"/_sandbox/organizations/{org['id']}",
                        {"address": address(f"{n + 1} Harbour Lane", "Richmond", "7020")})

    async def moved() -> dict | None:
        found = next(c for c in await xero_records(stack, "contacts") if c["ContactID"] == contact["ContactID"])
        street = next((a for a in found.get("Addresses") or [] if a.get("AddressType") == "STREET"), {})
        done = street.get("AddressLine1") == "50 Harbour Lane" and not await pending_changes(stack, company)
        return street if done else None

    street = await eventually(moved, timeout=90)
    assert (street["City"], street["PostalCode"], street["Country"]) == ("Richmond", "7020", "New Zealand")
    updates = await xero_requests(stack, "POST", "/api.xro/2.0/Contacts")
    assert 1 <= len(updates) - before <= 2, updates[before:]

    # A product's new price reaches its Xero item (the organisation's base currency, NZD).
    try:
        await pipedrive(stack, "POST", f"/_sandbox/products/{WIDGET}",
                        {"prices": [{"currency": "NZD", "price": 27.5}, {"currency": "USD", "price": 15}]})

        async def repriced() -> dict | None:
            item = next(i for i in await xero_records(stack, "items") if i["Code"] == "WIDGET-01")
            return item if float(item["SalesDetails"]["UnitPrice"]) == 27.5 else None

        await eventually(repriced, timeout=90)
    finally:
        await pipedrive(stack, "POST", f"/_sandbox/products/{WIDGET}",
                        {"prices": [{"currency": "NZD", "price": 25}, {"currency": "USD", "price": 15}]})


async def test_a_product_deleted_in_pipedrive_leaves_its_xero_item_alone(stack):
    company = stack.seeded.company_id
    product = await pipedrive(stack, "POST", "/_sandbox/products",
                              {"name": "Sourdough loaf", "code": f"LOAF-{uuid.uuid4().hex[:5]}", "tax": 15,
                               "prices": [{"currency": "NZD", "price": 8}]})
    await stack_settings(stack, {"sync": {"update_xero": True, "create_on_add": True}})
    try:
        await pipedrive(stack, "POST", f"/_sandbox/products/{product['id']}", {"name": "Sourdough loaf (large)"})
        item = await eventually(lambda: _item(stack, product["code"]), timeout=90)
        assert item["Name"] == "Sourdough loaf (large)"
        items_before = len(await xero_requests(stack, "POST", "/api.xro/2.0/Items")) + len(
            await xero_requests(stack, "PUT", "/api.xro/2.0/Items"))

        await pipedrive(stack, "DELETE", f"/_sandbox/products/{product['id']}")
        await eventually(lambda: _deletion_seen(stack, product["id"]))
        await eventually(lambda: _nothing_pending(stack, company), timeout=60)
        after = len(await xero_requests(stack, "POST", "/api.xro/2.0/Items")) + len(
            await xero_requests(stack, "PUT", "/api.xro/2.0/Items"))
        assert after == items_before
        still = await _item(stack, product["code"])
        assert still is not None and still["Name"] == "Sourdough loaf (large)"
    finally:
        await stack_settings(stack, {"sync": {"update_xero": True, "create_on_add": False}})


async def _item(stack, code: str) -> dict | None:
    return next((i for i in await xero_records(stack, "items") if i["Code"] == code), None)


async def _deletion_seen(stack, product_id: int) -> bool:
    """Pipedrive delivered the product's delete event and the gateway took it (a 2xx)."""
    deleted = [e["id"] for e in await sandbox_get(stack.urls["pipedrive"], "/_sandbox/events")
               if e["body"]["meta"]["entity"] == "product" and e["body"]["meta"]["action"] == "delete"
               and str(e["body"]["meta"]["entity_id"]) == str(product_id)]
    delivered = await sandbox_get(stack.urls["pipedrive"], "/_sandbox/deliveries")
    return any(d["event_id"] in deleted and d["status"] == 200 for d in delivered)


async def _nothing_pending(stack, company: str) -> bool:
    return await pending_changes(stack, company) == 0


async def stack_settings(stack, patch: dict) -> None:
    code, out = await admin(stack, "settings", "patch", json.dumps(patch), "--company", stack.seeded.company_id)
    assert code == 0, out

