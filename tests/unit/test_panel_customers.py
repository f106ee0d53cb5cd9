"""A card looking for its Xero contact, the pure part: the Pipedrive record as a Contact, the one OR-ed search, the
safe rules' answer for a card, the words when Xero has several contacts that could be the customer (on the card and
for the settings app), and when no contact is linked (whether drafts create it, whether Xero was asked)."""

import pytest

from pdx_common.contact_matching import Ambiguous, Matched, NoMatch, choose, lookups
from pdx_crmcard.domain import customers, panel
from pdx_crmcard.domain.panel_limits import problems

ORG = {"id": 101, "name": " Kiwi  Widgets Ltd ", "address": {"value": "12 Queen Street"}}
PERSON = {"id": 201, "name": "Aroha Ngata", "first_name": "Aroha", "last_name": "Ngata",
          "emails": [{"value": "aroha@kiwi.example", "primary": False}, {"value": "accounts@kiwi.example",
                                                                         "primary": True}]}


def test_an_organisation_is_looked_for_by_its_number_and_name_never_an_email() -> None:
    contact = customers.contact_of("organization", ORG)
    assert contact is not None
    assert (contact.name, contact.contact_number, contact.source, contact.email) == (
        "Kiwi Widgets Ltd", "pd-org-101", "organization", None)
    assert customers.search(lookups(contact, "7001")) == (
        'ContactNumber=="pd7001-org-101" OR ContactNumber=="pd-org-101" OR Name=="Kiwi Widgets Ltd"')


def test_a_person_is_looked_for_by_their_primary_email_too() -> None:
    contact = customers.contact_of("person", PERSON)
    assert contact is not None and contact.email == "accounts@kiwi.example"
    assert 'EmailAddress=="accounts@kiwi.example"' in customers.search(lookups(contact, "7001"))
    assert customers.number_of("person", "201") == "pd-person-201"


def test_a_record_without_a_name_cannot_be_looked_for() -> None:
    assert customers.contact_of("organization", {"id": 5, "name": "  "}) is None
    assert customers.contact_of("person", {}) is None


def test_a_quote_in_a_name_is_written_twice_in_the_search() -> None:
    contact = customers.contact_of("organization", {"id": 7, "name": 'Say "hi" Ltd'})
    assert contact is not None and 'Name=="Say ""hi"" Ltd"' in customers.search(lookups(contact, "1"))


def test_the_safe_rules_decide_for_the_card() -> None:
    org = customers.contact_of("organization", ORG)
    assert org is not None
    same_name = {"ContactID": "c1", "Name": "Kiwi Widgets Ltd", "ContactStatus": "ACTIVE"}
    persons_email = {"ContactID": "c2", "Name": "Someone Else Ltd", "EmailAddress": "accounts@kiwi.example"}
    assert choose(org, "7001", [same_name, persons_email]) == Matched("c1", "Kiwi Widgets Ltd", "name")
    assert choose(org, "7001", [persons_email]) == NoMatch()
    person = customers.contact_of("person", PERSON)
    assert person is not None
    two = choose(person, "7001", [{"ContactID": "c3", "Name": "Aroha Ngata"},
                                  {"ContactID": "c4", "Name": "A. Ngata", "EmailAddress": "accounts@kiwi.example"}])
    assert isinstance(two, Ambiguous) and len(two.candidates) == 2


def test_the_ambiguous_message_names_the_candidates_and_where_to_link_within_pipedrives_limit() -> None:
    found = Ambiguous((("c1", "Kiwi Widgets", "a@kiwi.example"), ("c2", "Kiwi Widgets Ltd", None)))
    note = customers.ambiguous_note("Kiwi Widgets Ltd", found)
    assert note == ("Xero has 2 contacts that could be 'Kiwi Widgets Ltd': 'Kiwi Widgets' (a@kiwi.example), "
                    "'Kiwi Widgets Ltd'. Link the right one in the app settings (Customers & products), then press "
                    "Update.")
    many = Ambiguous(tuple((f"c{n}", f"Kiwi Widgets branch number {n}", f"branch{n}@kiwi.example")
                           for n in range(9)))
    long = customers.ambiguous_note("Kiwi Widgets Ltd", many)
    assert len(long) <= 255 and long.endswith("then press Update.") and "'Kiwi Widgets branch number 0'" in long
    body = panel.message("which-contact", "Which Xero contact is this organisation?", long, "https://x/s",
                         organisation="Demo Company (NZ)")
    assert problems(body) == [] and body["data"][0]["xero_organisation"] == "Demo Company (NZ)"


def test_the_ambiguity_for_the_settings_app_is_the_writers_message_with_the_cards_fix() -> None:
    found = Ambiguous((("c1", "Kiwi Widgets", "a@kiwi.example"), ("c2", "Kiwi Widgets Ltd", None)))
    assert customers.ambiguous_message("Kiwi Widgets Ltd", found) == (
        "Xero has 2 contacts that could be 'Kiwi Widgets Ltd': 'Kiwi Widgets' (a@kiwi.example), 'Kiwi Widgets Ltd'.")
    assert customers.ambiguous_fix("Kiwi Widgets Ltd") == (
        "In the app's settings (Pipedrive: Settings > Apps > Xero drafts), open Customers & products and link the "
        "right Xero contact to Kiwi Widgets Ltd, then press Update on its card in Pipedrive.")


@pytest.mark.parametrize(("resource", "searched", "creates", "note"), [
    ("organization", False, True,
     "No Xero contact is linked yet; the first draft made from a deal finds it in Xero or creates it."),
    ("deal", False, False,
     "No Xero contact is linked yet, and drafts do not create one (Create the contact in Xero when it is missing is "
     "off in the app settings). Add it in Xero; a draft made from a deal then finds it."),
    ("organization", True, True,
     "Xero has no contact with this name or number. The first draft made from a deal creates it."),
    ("person", True, True,
     "Xero has no contact with this name, email or number. The first draft made from a deal creates it."),
    ("person", True, False,
     "Xero has no contact with this name, email or number. Drafts do not create one (Create the contact in Xero "
     "when it is missing is off in the app settings): add it in Xero, then press Update."),
])
def test_not_in_xero_yet_says_whether_drafts_create_it_and_whether_xero_was_asked(resource, searched, creates,
                                                                                  note) -> None:
    said = customers.not_linked_note(resource, searched=searched, creates=creates)
    assert said == note and len(said) <= 255
