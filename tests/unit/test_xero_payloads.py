"""What the writer sends Xero, checked against Xero's own OpenAPI spec (read from ../shared/specs at test time), and
the rules that keep one bad draft from sinking the others: limits checked before any call, refusals split."""

import json
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from pdx_common.contracts import Contact, CreateInvoice, CreateQuote, ItemSync, LineItem, NewItem, PostalAddress
from pdx_common.http import ApiError
from pdx_common.xero import where_equals, xero_json
from pdx_writer.adapters.xero_splitting import Refusal, find_split, request_key, send_split, sized_groups
from pdx_writer.domain.documents import contact_payload, document_payload, line_payload
from pdx_writer.domain.explain import explain_refusal
from pdx_writer.domain.limits import MAX_LINE_ITEMS, over_limits, record_over_limits
from pdx_writer.domain.sync import (
    changed,
    contact_as_synced,
    contact_update,
    contact_values,
    item_payload,
    item_values,
)
from pdx_writer.resolve import _item_payload
from tests.conftest import SPECS

SPEC = SPECS / "xero" / "xero_accounting.yaml"


# --- the spec -----------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _components() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["components"]


def spec_errors(collection: str, body: Any) -> list[str]:
    """Every way a request body (as sent: parsed JSON) breaks the spec's schema for ``collection`` ("Invoices",
    "Quotes", "Contacts", "Items"): wrong types, enums, lengths, fields the spec does not name or marks read-only."""
    components = _components()
    root = {"$ref": f"#/components/schemas/{collection}", "components": components}
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}"
              for e in Draft7Validator(root).iter_errors(body)]
    return errors + _unknown_fields(components, root, body, collection)


def _resolve(components: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = components["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _unknown_fields(components: dict, schema: dict, value: Any, path: str) -> list[str]:
    schema = _resolve(components, schema)
    if isinstance(value, list) and "items" in schema:
        return [e for i, item in enumerate(value) for e in _unknown_fields(components, schema["items"], item,
                                                                           f"{path}[{i}]")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    errors = []
    for key, item in value.items():
        field = schema["properties"].get(key)
        if field is None:
            errors.append(f"{path}.{key}: not a field of the spec")
        elif _resolve(components, field).get("readOnly") or field.get("readOnly"):
            errors.append(f"{path}.{key}: read-only in the spec")
        else:
            errors += _unknown_fields(components, field, item, f"{path}.{key}")
    return errors


def as_sent(body: Any) -> Any:
    return json.loads(xero_json(body))


# --- commands -----------------------------------------------------------------------------------------------------
CUSTOMER = Contact(name="Kowhai Design Ltd", contact_number="pd-org-12", email="accounts@kowhai.co.nz",
                   phone="+64 9 555 0101", address="12 Ponsonby Road", first_name="Aroha", last_name="Ngata",
                   source="organization", source_id="12")
LINES = (LineItem(description="Workshop hours", quantity=Decimal("6"), unit_amount=Decimal("0.3333"),
                  item_code="CONSULT-HR", account_code="200", discount_rate=Decimal("12.5"),
                  tracking=(("Region", "North"),)),
         LineItem(description="Hosting", quantity=Decimal("1.25"), unit_amount=Decimal("1200"),
                  discount_amount=Decimal("10.00"), tax_type="OUTPUT2"))


def command(kind: str = "invoice", **fields: Any) -> CreateInvoice | CreateQuote:
    common = {"company_id": "7001", "deal_id": "42", "trigger_id": "won", "source_event_id": "e1",
              "contact": CUSTOMER, "line_items": LINES, "currency_code": "NZD", "line_amount_types": "Exclusive",
              "date": date(2026, 11, 27), "reference": "Website rebuild", "deal_title": "Website rebuild",
              "deal_url": "https://kowhai.pipedrive.com/deal/42"}
    if kind == "invoice":
        return CreateInvoice(**{**common, "due_date": date(2026, 12, 17), **fields})
    return CreateQuote(**{**common, "expiry_date": date(2026, 12, 27), "title": "Website rebuild",
                          "summary": "Discovery, design and build", "terms": "Valid for 30 days.", **fields})


def body(cmd: CreateInvoice | CreateQuote) -> dict:
    lines = [line_payload(line, line.item_code, line.tax_type) for line in cmd.line_items]
    collection = "Invoices" if isinstance(cmd, CreateInvoice) else "Quotes"
    return {collection: [document_payload(cmd, "3a7f0c2e-1b3d-4c5e-8f9a-0b1c2d3e4f50", lines)]}


@pytest.mark.parametrize("kind", ["invoice", "quote"])
def test_document_bodies_follow_the_spec(kind: str) -> None:
    sent = as_sent(body(command(kind)))
    collection = "Invoices" if kind == "invoice" else "Quotes"
    assert spec_errors(collection, sent) == []
    first, second = sent[collection][0]["LineItems"]
    assert (first["Quantity"], first["UnitAmount"], first["DiscountRate"]) == (6, 0.3333, 12.5)
    assert (second["Quantity"], second["UnitAmount"], second["DiscountAmount"]) == (1.25, 1200, 10.0)


def test_contact_and_item_bodies_follow_the_spec() -> None:
    assert spec_errors("Contacts", as_sent({"Contacts": [contact_payload(CUSTOMER)]})) == []
    new = NewItem(code="WEB-AUDIT", name="Website audit", description="Speed audit", unit_price=Decimal("480.0050"),
                  account_code="260", tax_type="OUTPUT2")
    line = LineItem(description="Audit", quantity=Decimal(1), unit_amount=Decimal(480), item_code="WEB-AUDIT",
                    unmatched="create_item", create_item=new)
    sent = as_sent({"Items": [_item_payload(line)]})
    assert spec_errors("Items", sent) == []
    assert sent["Items"][0]["SalesDetails"]["UnitPrice"] == 480.005


STRUCTURED = CUSTOMER.model_copy(update={
    "address": None, "tax_number": "123-456-789", "person_id": "7",
    "postal": PostalAddress(line1="4 Wharf Road", line2="Level 2", city="Nelson", region="Nelson",
                            postal_code="7010", country="New Zealand")})


def test_a_new_contact_carries_its_structured_address_tax_number_and_company_number() -> None:
    payload = contact_payload(STRUCTURED, "pd7001-org-12")
    assert payload == {"Name": "Kowhai Design Ltd", "ContactNumber": "pd7001-org-12",
                       "FirstName": "Aroha", "LastName": "Ngata", "EmailAddress": "accounts@kowhai.co.nz",
                       "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "+64 9 555 0101"}],
                       "Addresses": [{"AddressType": "STREET", "AddressLine1": "4 Wharf Road",
                                      "AddressLine2": "Level 2", "City": "Nelson", "Region": "Nelson",
                                      "PostalCode": "7010", "Country": "New Zealand"}],
                       "TaxNumber": "123-456-789"}
    assert spec_errors("Contacts", as_sent({"Contacts": [payload]})) == []


def test_sync_updates_follow_the_spec_and_carry_only_what_changed() -> None:
    wanted = contact_values(STRUCTURED, ("Name", "Addresses", "TaxNumber"))
    before = {**wanted, "TaxNumber": "old"}
    update = contact_update("3a7f0c2e-1b3d-4c5e-8f9a-0b1c2d3e4f50", changed(wanted, before))
    assert update == {"ContactID": "3a7f0c2e-1b3d-4c5e-8f9a-0b1c2d3e4f50", "TaxNumber": "123-456-789"}
    assert spec_errors("Contacts", as_sent({"Contacts": [update]})) == []
    assert changed(wanted, wanted) == {}

    sync = ItemSync(item=NewItem(code="WEB-AUDIT", name="Website audit", account_code="260", tax_type="OUTPUT2"),
                    prices={"NZD": Decimal("480.50"), "USD": Decimal("290")})
    values = item_values(sync, "NZD")
    assert values == {"Name": "Website audit", "UnitPrice": "480.5", "AccountCode": "260", "TaxType": "OUTPUT2"}
    assert item_values(sync, "GBP").get("UnitPrice") is None  # no price in the base currency: left as it is
    element = item_payload("WEB-AUDIT", values, changed(values, {**values, "UnitPrice": "450"}), item_id="i-1")
    assert element == {"ItemID": "i-1", "Code": "WEB-AUDIT", "SalesDetails": {
        "UnitPrice": Decimal("480.5"), "AccountCode": "260", "TaxType": "OUTPUT2"}}  # SalesDetails whole
    assert spec_errors("Items", as_sent({"Items": [element]})) == []
    assert item_payload("WEB-AUDIT", values, {"Name": "Website audit"}, item_id="i-1") == {
        "ItemID": "i-1", "Code": "WEB-AUDIT", "Name": "Website audit"}


def test_the_checker_catches_what_the_old_payloads_did() -> None:
    """Today's bug, as the spec sees it: quantities and amounts as strings."""
    bad = {"Invoices": [{"Type": "ACCREC", "LineItems": [{"Description": "x", "Quantity": "180",
                                                          "UnitAmount": "1.5", "Colour": "red"}],
                         "Total": 3}]}
    errors = spec_errors("Invoices", bad)
    assert any("'180' is not of type 'number'" in e for e in errors)
    assert any("'1.5' is not of type 'number'" in e for e in errors)
    assert any("Colour: not a field of the spec" in e for e in errors)
    assert any("Total: read-only in the spec" in e for e in errors)


@pytest.mark.parametrize(("value", "literal"), [
    (Decimal("180"), "180"), (Decimal("0.3333"), "0.3333"), (Decimal("1E+2"), "100"),
    (Decimal("12345678901234567890.123456789"), "12345678901234567890.123456789"), (Decimal("-0.10"), "-0.10"),
])
def test_decimals_are_sent_as_exact_number_literals(value: Decimal, literal: str) -> None:
    sent = xero_json({"A": [value, "text \"quoted\"", None, True, 3]})
    assert sent == f'{{"A":[{literal},"text \\"quoted\\"",null,true,3]}}'.encode()
    assert json.loads(sent, parse_float=Decimal)["A"][0] == value


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), float("nan")])
def test_what_json_cannot_say_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        xero_json({"Quantity": value})


# --- where clauses ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "clause"), [
    ('Say "hi" Ltd', 'Name=="Say ""hi"" Ltd"'),
    ("Back\\slash & Co", 'Name=="Back\\slash & Co"'),
    ("Ōtaki Café 東京", 'Name=="Ōtaki Café 東京"'),
])
def test_where_values_are_quoted_as_xero_reads_them(value: str, clause: str) -> None:
    assert where_equals("Name", value) == clause


async def test_a_lookup_xero_cannot_take_is_split_down_to_the_value_at_fault() -> None:
    asked: list[str] = []

    async def find(where: str) -> list[dict]:
        asked.append(where)
        if "POISON" in where:
            raise ApiError("xero", 400, {"Type": "QueryParseException", "Message": "Syntax error"}, "/Contacts")
        return [{"Name": part.split('"')[1]} for part in where.split(" OR ")]

    names = ["a", "b", "POISON", "c", "d" * 3000]  # the last one cannot fit any query string
    found = await find_split(find, "Name", names)
    assert sorted(f["Name"] for f in found) == ["a", "b", "c"]
    assert asked[0] == 'Name=="a" OR Name=="b" OR Name=="POISON" OR Name=="c"'
    assert all("ddd" not in where for where in asked)


# --- limits -------------------------------------------------------------------------------------------------------
LONG = "x" * 101


@pytest.mark.parametrize(("kind", "fields", "code", "in_message", "in_fix"), [
    ("quote", {"title": LONG}, "too_long", "Title", "Field mappings > Quote title"),
    ("quote", {"summary": "s" * 3001}, "too_long", "at most 3000", "Field mappings > Quote summary"),
    ("quote", {"terms": "t" * 4001}, "too_long", "at most 4000", "Field mappings > Quote terms"),
    ("invoice", {"reference": "r" * 256}, "too_long", "at most 255", "Field mappings > Invoice reference"),
    ("invoice", {"contact": CUSTOMER.model_copy(update={"name": "n" * 256})}, "too_long", "customer's name",
     "organization's name"),
    ("invoice", {"contact": STRUCTURED.model_copy(update={"postal": PostalAddress(postal_code="7" * 51)})},
     "too_long", "postal code", "organization's postal code"),
    ("invoice", {"contact": STRUCTURED.model_copy(update={"tax_number": "9" * 51})}, "too_long", "at most 50",
     "organization's tax number"),
    ("invoice", {"contact": STRUCTURED.model_copy(update={"postal": PostalAddress(city="c" * 256)})}, "too_long",
     "at most 255", "city"),
    ("invoice", {"line_items": (LINES[0].model_copy(update={"item_code": "C" * 31}),)}, "too_long", "at most 30",
     "product code"),
    ("invoice", {"line_items": (LINES[0].model_copy(update={"description": "d" * 4001}),)}, "too_long",
     "at most 4000", "description"),
    ("invoice", {"line_items": LINES[:1] * (MAX_LINE_ITEMS + 1)}, "too_many_lines", "1001 products", "Split"),
    ("invoice", {"line_items": (LINES[0].model_copy(update={"description": "d" * 3999}),) * 900},
     "document_too_large", "3.5 MB", "Shorten"),
    ("invoice", {"line_items": (LINES[0].model_copy(update={"quantity": Decimal("NaN")}),)}, "bad_number",
     "quantity", "Pipedrive"),
])
def test_drafts_over_xeros_limits_are_explained(kind: str, fields: dict, code: str, in_message: str,
                                                in_fix: str) -> None:
    explanation = over_limits(command(kind, **fields))
    assert explanation is not None and explanation.code == code
    assert in_message in explanation.message and in_fix in explanation.fix
    assert explanation.fix.endswith("replay the deal.")


def test_records_over_xeros_limits_are_explained_for_the_settings_page() -> None:
    long_code = record_over_limits(item=NewItem(code="C" * 31, name="Widget"))
    assert long_code is not None and long_code.code == "too_long" and "at most 30" in long_code.message
    assert long_code.fix == "Shorten the product's code in Pipedrive; the change is sent to Xero when it is saved."
    assert record_over_limits(contact=STRUCTURED) is None
    at_most = STRUCTURED.model_copy(update={"postal": PostalAddress(line1="l" * 500, postal_code="7" * 50,
                                                                    country="c" * 50), "tax_number": "9" * 50})
    assert record_over_limits(contact=at_most) is None


def test_only_the_fields_sent_are_held_to_xeros_limits() -> None:
    person = STRUCTURED.model_copy(update={"email": "aroha@kowhai.nz", "phone": "+64 21 555 0199",
                                           "postal": PostalAddress(line1="1 Queen Street", postal_code="7" * 51)})
    assert record_over_limits(contact=person, fields=("EmailAddress", "Phones")) is None  # what an org carries
    too_long = record_over_limits(contact=person, fields=("EmailAddress", "Phones", "Addresses"))
    assert too_long is not None and "postal code" in too_long.message and "at most 50" in too_long.message
    assert record_over_limits(contact=person) is not None  # a new contact gets every value


def test_a_contact_found_in_xero_is_remembered_as_the_sync_would_write_it() -> None:
    found = {"ContactID": "c-1", "Name": "Kowhai Design Ltd", "FirstName": "", "EmailAddress": "ap@kowhai.co.nz",
             "TaxNumber": "123-456-789", "ContactStatus": "ACTIVE",
             "Addresses": [{"AddressType": "POBOX", "City": "Auckland"},
                           {"AddressType": "STREET", "AddressLine1": "4 Harbour Lane", "AddressLine2": "",
                            "City": "Richmond", "PostalCode": "7020"}],
             "Phones": [{"PhoneType": "MOBILE", "PhoneNumber": "021 555"},
                        {"PhoneType": "DEFAULT", "PhoneNumber": "555 0101", "PhoneAreaCode": "9",
                         "PhoneCountryCode": "64"}]}
    has = contact_as_synced(found)
    assert has == {"Name": "Kowhai Design Ltd", "EmailAddress": "ap@kowhai.co.nz", "TaxNumber": "123-456-789",
                   "Addresses": [{"AddressType": "STREET", "AddressLine1": "4 Harbour Lane", "City": "Richmond",
                                  "PostalCode": "7020"}],
                   "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "64 9 555 0101"}]}
    same = STRUCTURED.model_copy(update={"name": "Kowhai Design Ltd", "tax_number": "123-456-789", "postal":
                                         PostalAddress(line1="4 Harbour Lane", city="Richmond", postal_code="7020")})
    assert changed(contact_values(same, ("Name", "Addresses", "TaxNumber")), has) == {}


def test_a_new_code_goes_in_the_items_update() -> None:
    values = {"Name": "Consulting hour", "Code": "CONSULT-HOUR"}
    element = item_payload("CONSULT-HOUR", values, changed(values, {"Name": "Consulting hour"}), item_id="i-1")
    assert element == {"ItemID": "i-1", "Code": "CONSULT-HOUR"}
    assert spec_errors("Items", as_sent({"Items": [element]})) == []


@pytest.mark.parametrize("kind", ["invoice", "quote"])
def test_drafts_within_the_limits_pass(kind: str) -> None:
    at_most = {"title": "t" * 100, "summary": "s" * 3000, "terms": "t" * 4000} if kind == "quote" else {}
    assert over_limits(command(kind, reference="r" * 255, **at_most)) is None


# --- refusals and splitting ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "body", "code"), [
    (413, None, "document_too_large"),
    (400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
           "Message": "JSON for post data was invalid, hexadecimal value 0x02, is an invalid character."},
     "invalid_character"),
    (400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
           "Message": "JSON for post data was invalid,Value was either too large or too small for a Decimal."},
     "xero_unreadable"),
    (400, {"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
           "Elements": [{"ValidationErrors": [{"Message": "Account code '999' is not a valid code."}]}]},
     "unknown_account"),
    (400, "<html>Bad Request</html>", "xero_refused_request"),
])
def test_a_request_refused_for_one_draft_is_explained(status: int, body: object, code: str) -> None:
    explanation = explain_refusal(status, body)
    assert explanation.code == code and explanation.fix


async def test_a_refused_request_is_halved_until_the_element_at_fault_stands_alone() -> None:
    sent: list[tuple[list[str], str]] = []

    async def send(part: list[str], key: str) -> list[dict]:
        sent.append((part, key))
        if "bad" in part:
            raise ApiError("xero", 400, {"Type": "PostDataInvalidException", "Message": "nope"}, "/Invoices")
        return [{"id": item} for item in part]

    settled: dict[str, object] = {}

    async def settle(part: list[str], outcomes: list) -> None:
        settled.update(zip(part, outcomes, strict=True))

    items = ["a", "b", "c", "bad", "d", "e"]
    await send_split(send, items, lambda part: request_key("Invoices", part, part), settle)
    assert settled["bad"] == Refusal(400, {"Type": "PostDataInvalidException", "Message": "nope"})
    assert {k: v for k, v in settled.items() if k != "bad"} == {i: {"id": i} for i in "abcde"}
    keys = [key for _, key in sent]
    assert len(set(keys)) == len(keys)  # no part reuses the refused whole's key
    assert [part for part, _ in sent] == [items, ["a", "b", "c"], ["bad", "d", "e"], ["bad"], ["d", "e"]]


async def test_an_element_xero_names_is_sent_alone_and_the_rest_together() -> None:
    sent: list[list[str]] = []

    async def send(part: list[str], key: str) -> list[dict]:
        sent.append(part)
        if "bad" in part:
            raise ApiError("xero", 400, {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": (
                "JSON for post data was invalid,Could not convert str to decimal: x. "
                f"Path 'Invoices[{part.index('bad')}].LineItems[0].Quantity'.")}, "/Invoices")
        return [{"id": item} for item in part]

    async def settle(part: list[str], outcomes: list) -> None:
        pass

    items = ["a", "b", "c", "d", "bad", "e", "f"]
    await send_split(send, items, lambda part: request_key("Invoices", part, part), settle)
    assert sent == [items, ["bad"], ["a", "b", "c", "d", "e", "f"]]


def test_groups_respect_count_and_size() -> None:
    assert sized_groups(list("abcde"), [10, 10, 10, 10, 10], 2, 1000) == [["a", "b"], ["c", "d"], ["e"]]
    assert sized_groups(list("abcd"), [40, 40, 90, 10], 50, 100) == [["a", "b"], ["c"], ["d"]]
