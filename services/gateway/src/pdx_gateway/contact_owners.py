"""Which Pipedrive record a Xero contact already stands for, so an admin (Customers & products) or an operator (the
links API) never links a customer to another record's contact: both records' changes would then be written to one
contact in turn, each overwriting the other's name, address and email.

A contact stands for another record when

- a link of this company in this organisation (``xero_links``) names it for another customer key, or a link of
  another company in the same (shared) Xero organisation names it at all; or
- its ContactNumber is ours for another record: this company's ``pd7001-org-103`` for another key than the one being
  linked, or another company's ``pd7002-...`` (see ``pdx_common.contact_matching.xero_contact_number``). Numbers of
  before (``pd-org-12``, no company) name no company, so they decide nothing here.

``await owners(db, "7001", tenant_id, "pd-person-203", [("<ContactID>", "pd7001-org-103")])``
-> ``{"<ContactID>": Owner(key="pd-org-103")}`` (contacts standing for nobody else are left out)
"""

from collections.abc import Iterable
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.contact_matching import OUR_NUMBER, xero_contact_number


@dataclass(frozen=True)
class Owner:
    key: str | None  # this company's record ("pd-org-103"); None: another Pipedrive company's customer

    @property
    def label(self) -> str:
        """What it stands for, in words: "Organisation 103 in Pipedrive", "another Pipedrive company's customer"."""
        if self.key is None:
            return "another Pipedrive company's customer"
        match = OUR_NUMBER.match(self.key)
        if match is None:
            return self.key
        return f"{'Organisation' if match[2].lower() == 'org' else 'Person'} {match[3]} in Pipedrive"

    def refusal(self, contact_name: str, customer: str) -> tuple[str, str]:
        """Why the Xero contact ``contact_name`` cannot be linked to ``customer``, and what to do instead."""
        fix = "Choose a contact that stands for nobody else, or add one in Xero and search again."
        if self.key is None:
            return (f"The Xero contact {contact_name} is another Pipedrive company's customer: linked to {customer}, "
                    "this company's changes would overwrite that customer in Xero.", fix)
        return (f"The Xero contact {contact_name} already stands for {self.label}: linked to {customer} too, each "
                "one's changes would overwrite the other's name, address and email in Xero.", fix)


async def owners(db: AsyncDatabase, company_id: str, tenant_id: str, key: str,
                 contacts: Iterable[tuple[str, str | None]]) -> dict[str, Owner]:
    """The contacts (ContactID, ContactNumber) that stand for another record than ``key``, with what they stand
    for. One read of the organisation's links."""
    contacts = list(contacts)
    key = key.lower()
    ids = [contact_id for contact_id, _ in contacts]
    found: dict[str, Owner] = {}
    if ids:
        cursor = db.xero_links.find({"tenant_id": tenant_id, "kind": "contact",
                                     "xero_id": {"$in": ids + [i.lower() for i in ids]}},
                                    {"company_id": 1, "key": 1, "xero_id": 1})
        async for doc in cursor:
            xero_id = str(doc.get("xero_id") or "").lower()
            if doc.get("company_id") != company_id:
                found[xero_id] = Owner(None)
            elif str(doc.get("key") or "").lower() != key:
                found.setdefault(xero_id, Owner(str(doc["key"]).lower()))
    mine = xero_contact_number(company_id, key).casefold()
    result: dict[str, Owner] = {}
    for contact_id, number in contacts:
        owner = found.get(contact_id.lower())
        if owner is None:
            owner = _by_number(company_id, mine, (number or "").strip())
        if owner is not None:
            result[contact_id] = owner
    return result


def _by_number(company_id: str, mine: str, number: str) -> Owner | None:
    match = OUR_NUMBER.match(number)
    if match is None or not match[1] or number.casefold() == mine:
        return None
    if match[1] != company_id:
        return Owner(None)
    return Owner(f"pd-{match[2].lower()}-{match[3]}")
