"""Safe matching of a Pipedrive customer to a Xero contact (``pdx_common.contact_matching``), and the writer's
resolver using it, through fakes of its ports: an organisation is never taken through its contact person's email
under another name, two candidates are refused (never a guess), numbers of before count only with the same name,
contact numbers name the company, and an admin's link is used as it is."""

import uuid
from typing import Any

import pytest

from pdx_common.contact_matching import Ambiguous, Matched, NoMatch, choose, lookups, xero_contact_number
from pdx_common.contracts import Contact
from pdx_sandbox.xero.where import compile_where
from pdx_writer.domain.explain import Explanation
from pdx_writer.resolve import Resolver

COMPANY = "7001"
ORG = Contact(name="Kowhai Design Ltd", contact_number="pd-org-12", email="aroha@kowhai.co.nz",
              source="organization", source_id="12", person_id="7")
PERSON = Contact(name="Jo Smith", contact_number="pd-person-7", email="jo@example.com", source="person",
                 source_id="7")


def xero(name: str, number: str | None = None, email: str | None = None, status: str = "ACTIVE") -> dict:
    contact = {"ContactID": uuid.uuid4().hex, "Name": name, "ContactStatus": status}
    if number:
        contact["ContactNumber"] = number
    if email:
        contact["EmailAddress"] = email
    return contact


# --- the rules ----------------------------------------------------------------------------------------------------
def test_contact_numbers_name_the_company() -> None:
    assert xero_contact_number("7001", "pd-org-12") == "pd7001-org-12"
    assert xero_contact_number("7002", "pd-org-12") == "pd7002-org-12"
    assert xero_contact_number("7001", "pd-person-7") == "pd7001-person-7"


def test_lookups_ask_for_the_number_the_number_of_before_the_name_and_the_email() -> None:
    assert lookups(ORG, COMPANY) == [("ContactNumber", "pd7001-org-12"), ("ContactNumber", "pd-org-12"),
                                     ("Name", "Kowhai Design Ltd"), ("EmailAddress", "aroha@kowhai.co.nz")]


def test_an_organisation_is_never_matched_through_a_shared_email_under_another_name() -> None:
    """The org's email is its contact person's, which may be another customer's Xero contact."""
    someone_else = xero("Aroha Ngata", email="Aroha@Kowhai.co.nz")
    assert choose(ORG, COMPANY, [someone_else]) == NoMatch()
    same_name = xero("KOWHAI design  ltd", email="aroha@kowhai.co.nz")
    assert choose(ORG, COMPANY, [someone_else, same_name]) == Matched(same_name["ContactID"], same_name["Name"],
                                                                       "name")


def test_a_person_is_matched_by_email() -> None:
    found = xero("Jo (accounts)", email="JO@example.com")
    assert choose(PERSON, COMPANY, [found]) == Matched(found["ContactID"], "Jo (accounts)", "email")


def test_two_candidates_are_refused_never_guessed() -> None:
    by_name, by_email = xero("Jo Smith"), xero("Joanna Smith", email="jo@example.com")
    match = choose(PERSON, COMPANY, [by_email, by_name])
    assert isinstance(match, Ambiguous)
    assert {c[0] for c in match.candidates} == {by_name["ContactID"], by_email["ContactID"]}
    assert match.names() == "'Jo Smith', 'Joanna Smith' (jo@example.com)"


def test_a_number_of_before_counts_only_with_the_same_name() -> None:
    """Another Pipedrive company sharing the Xero organisation may have made ``pd-org-12`` for its own org 12."""
    theirs = xero("Tui Brewing Co", number="pd-org-12")
    assert choose(ORG, COMPANY, [theirs]) == NoMatch()
    ours = xero("Kowhai Design Ltd", number="pd-org-12")
    assert choose(ORG, COMPANY, [theirs, ours]) == Matched(ours["ContactID"], ours["Name"], "legacy_number")


def test_our_number_wins_whatever_the_name_and_another_records_number_is_never_taken() -> None:
    renamed = xero("Kowhai Design Limited", number="pd7001-org-12")
    namesake = xero("Kowhai Design Ltd")
    assert choose(ORG, COMPANY, [namesake, renamed]) == Matched(renamed["ContactID"], renamed["Name"], "number")
    others = [xero("Kowhai Design Ltd", number="pd7001-org-13"), xero("Kowhai Design Ltd", number="pd7002-org-12")]
    assert choose(ORG, COMPANY, others) == NoMatch()


def test_archived_contacts_do_not_count() -> None:
    assert choose(ORG, COMPANY, [xero("Kowhai Design Ltd", number="pd7001-org-12", status="ARCHIVED")]) == NoMatch()


# --- the writer's resolver, through fakes ---------------------------------------------------------------------------
class FakeLinks:
    """``xero_links`` in memory, with its rule: an automatic link never replaces a manual one (it may only note the
    contact person of the same contact)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def doc(self, company_id: str, tenant_id: str, kind: str, key: str) -> dict[str, Any] | None:
        return self.docs.get(f"{kind}:{key.lower()}")

    async def put(self, company_id: str, tenant_id: str, kind: str, key: str, xero_id: str, *, how: str | None = None,
                  person_id: str | None = None, name: str | None = None) -> None:
        known = self.docs.get(f"{kind}:{key.lower()}")
        if known and known.get("how") == "manual" and how != "manual":
            if person_id is not None and known["xero_id"] == xero_id:
                known["person_id"] = person_id
            return
        fields = {"how": how, "person_id": person_id, "name": name}
        self.docs[f"{kind}:{key.lower()}"] = {**(known or {}), "xero_id": xero_id, "key": key.lower(),
                                              **{k: v for k, v in fields.items() if v is not None}}

    async def synced(self, company_id: str, tenant_id: str, kind: str, key: str, fields: dict[str, Any]) -> None:
        self.docs[f"{kind}:{key.lower()}"].setdefault("synced", {}).update(fields)

    async def forget(self, company_id: str, tenant_id: str, kind: str, key: str) -> None:
        self.docs.pop(f"{kind}:{key.lower()}", None)


class FakeXero:
    """The contacts of one Xero organisation, with Xero's ``where`` (the sandbox's parser) and creation."""

    def __init__(self, company_id: str, contacts: list[dict]) -> None:
        self.company_id, self.contacts = company_id, contacts
        self.asked: list[str] = []
        self.created: list[dict] = []

    async def find_contacts(self, where: str) -> list[dict]:
        self.asked.append(where)
        return [c for c in self.contacts if compile_where(where)(c)]

    async def create_contacts(self, payloads: list[dict], key: str) -> list[dict]:
        made = [{**p, "ContactID": uuid.uuid4().hex, "ContactStatus": "ACTIVE"} for p in payloads]
        self.created += made
        self.contacts += made
        return made


async def resolve(xero: FakeXero, links: FakeLinks, contact: Contact) -> str | Explanation:
    found = await Resolver(links).contact_ids(xero, "tenant-1", [(contact, True)], ["command-1"])  # type: ignore
    return found[contact.contact_number]


async def test_the_shared_email_case_creates_the_organisation_instead_of_taking_the_persons_contact() -> None:
    aroha = xero("Aroha Ngata", number="pd7001-person-7", email="aroha@kowhai.co.nz")
    fake, links = FakeXero(COMPANY, [aroha]), FakeLinks()
    contact_id = await resolve(fake, links, ORG)

    assert contact_id != aroha["ContactID"] and len(fake.asked) == 1
    [created] = fake.created
    assert (created["ContactID"], created["Name"], created["ContactNumber"]) == (
        contact_id, "Kowhai Design Ltd", "pd7001-org-12")
    link = links.docs["contact:pd-org-12"]
    assert (link["xero_id"], link["how"], link["person_id"], link["name"]) == (
        contact_id, "created", "7", "Kowhai Design Ltd")
    assert link["synced"]["EmailAddress"] == "aroha@kowhai.co.nz"  # what was written: the first sync sends nothing


async def test_the_two_candidates_case_is_an_explained_failure() -> None:
    fake = FakeXero(COMPANY, [xero("Jo Smith"), xero("Joanna Smith", email="jo@example.com")])
    links = FakeLinks()
    refused = await resolve(fake, links, PERSON)

    assert isinstance(refused, Explanation) and refused.code == "ambiguous_contact"
    assert refused.message == ("Xero has 2 contacts that could be 'Jo Smith': 'Jo Smith', 'Joanna Smith' "
                               "(jo@example.com).")
    assert "open Customers & products and link the right Xero contact to Jo Smith, then replay the deal." in refused.fix
    assert fake.created == [] and links.docs == {}


async def test_a_number_of_before_from_another_company_is_not_taken() -> None:
    theirs = xero("Tui Brewing Co", number="pd-org-12")
    fake, links = FakeXero("7002", [theirs]), FakeLinks()
    contact_id = await resolve(fake, links, ORG)

    assert contact_id != theirs["ContactID"]
    assert [c["ContactNumber"] for c in fake.created] == ["pd7002-org-12"]


@pytest.mark.parametrize("how", ["manual", "matched"])
async def test_a_link_is_used_as_it_is_without_asking_xero(how: str) -> None:
    chosen = xero("Kowhai Design (head office)")
    fake = FakeXero(COMPANY, [chosen, xero("Kowhai Design Ltd", number="pd7001-org-12")])
    links = FakeLinks()
    await links.put(COMPANY, "tenant-1", "contact", "pd-org-12", chosen["ContactID"], how=how)

    assert await resolve(fake, links, ORG) == chosen["ContactID"]
    assert fake.asked == [] and fake.created == []
    assert links.docs["contact:pd-org-12"]["person_id"] == "7"  # the org's contact person, followed


async def test_a_manual_link_is_never_replaced_by_an_automatic_one() -> None:
    links = FakeLinks()
    await links.put(COMPANY, "tenant-1", "contact", "pd-org-12", "chosen", how="manual")
    await Resolver(links).link(COMPANY, "tenant-1", ORG, "other", "matched", "Kowhai Design Ltd")  # type: ignore
    assert links.docs["contact:pd-org-12"]["xero_id"] == "chosen"
