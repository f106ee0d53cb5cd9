"""A card looking for its Xero contact, the pure part: the Pipedrive record as a Contact, the one OR-ed search, the
safe rules' answer for a card, and the words when Xero has several contacts that could be the customer."""

from pdx_common.contact_matching import Ambiguous, Matched, NoMatch, choose, lookups
from pdx_crmcard.domain import panel
from pdx_crmcard.domain.customers import ambiguous_note, contact_of, number_of, search
from pdx_crmcard.domain.panel_limits import problems

ORG = {"id": 101, "name": " Kiwi  Widgets Ltd ", "address": {"value": "12 Queen Street"}}
PERSON = {"id": 201, "name": "Aroha Ngata", "first_name": "Aroha", "last_name": "Ngata",
          "emails": [{"value": "aroha@kiwi.example", "primary": False}, {"value": "accounts@kiwi.example",
                                                                         "primary": True}]}


def test_an_organisation_is_looked_for_by_its_number_and_name_never_an_email() -> None:
    contact = contact_of("organization", ORG)
    assert contact is not None
    assert (contact.name, contact.contact_number, contact.source, contact.email) == (
        "Kiwi Widgets Ltd", "pd-org-101", "organization", None)
    assert search(lookups(contact, "7001")) == ('ContactNumber=="pd7001-org-101" OR ContactNumber=="pd-org-101" '
                                                'OR Name=="Kiwi Widgets Ltd"')


def test_a_person_is_looked_for_by_their_primary_email_too() -> None:
    contact = contact_of("person", PERSON)
    assert contact is not None and contact.email == "accounts@kiwi.example"
    assert 'EmailAddress=="accounts@kiwi.example"' in search(lookups(contact, "7001"))
    assert number_of("person", "201") == "pd-person-201"


def test_a_record_without_a_name_cannot_be_looked_for() -> None:
    assert contact_of("organization", {"id": 5, "name": "  "}) is None
    assert contact_of("person", {}) is None


def test_a_quote_in_a_name_is_written_twice_in_the_search() -> None:
    contact = contact_of("organization", {"id": 7, "name": 'Say "hi" Ltd'})
    assert contact is not None and 'Name=="Say ""hi"" Ltd"' in search(lookups(contact, "1"))


def test_the_safe_rules_decide_for_the_card() -> None:
    org = contact_of("organization", ORG)
    assert org is not None
    same_name = {"ContactID": "c1", "Name": "Kiwi Widgets Ltd", "ContactStatus": "ACTIVE"}
    persons_email = {"ContactID": "c2", "Name": "Someone Else Ltd", "EmailAddress": "accounts@kiwi.example"}
    assert choose(org, "7001", [same_name, persons_email]) == Matched("c1", "Kiwi Widgets Ltd", "name")
    assert choose(org, "7001", [persons_email]) == NoMatch()
    person = contact_of("person", PERSON)
    assert person is not None
    two = choose(person, "7001", [{"ContactID": "c3", "Name": "Aroha Ngata"},
                                  {"ContactID": "c4", "Name": "A. Ngata", "EmailAddress": "accounts@kiwi.example"}])
    assert isinstance(two, Ambiguous) and len(two.candidates) == 2


def test_the_ambiguous_message_names_the_candidates_and_where_to_link_within_pipedrives_limit() -> None:
    found = Ambiguous((("c1", "Kiwi Widgets", "a@kiwi.example"), ("c2", "Kiwi Widgets Ltd", None)))
    note = ambiguous_note("Kiwi Widgets Ltd", found)
    assert note == ("Xero has 2 contacts that could be 'Kiwi Widgets Ltd': 'Kiwi Widgets' (a@kiwi.example), "
                    "'Kiwi Widgets Ltd'. Link the right one in the app settings (Customers & products), then press "
                    "Update.")
    many = Ambiguous(tuple((f"c{n}", f"Kiwi Widgets branch number {n}", f"branch{n}@kiwi.example")
                           for n in range(9)))
    long = ambiguous_note("Kiwi Widgets Ltd", many)
    assert len(long) <= 255 and long.endswith("then press Update.") and "'Kiwi Widgets branch number 0'" in long
    body = panel.message("which-contact", "Which Xero contact is this organisation?", long, "https://x/s",
                         organisation="Demo Company (NZ)")
    assert problems(body) == [] and body["data"][0]["xero_organisation"] == "Demo Company (NZ)"
