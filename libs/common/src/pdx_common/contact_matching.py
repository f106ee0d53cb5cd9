"""Which Xero contact, if any, is a Pipedrive customer: safe matching, shared by the xero-writer (before creating a
contact) and the crm-card (a card's Update finding a customer's invoices). Pure.

The rules, in order:

1. Only active contacts count.
2. A contact carrying our ContactNumber for this company and record (``pd7001-org-12``) is ours.
3. A contact with the number of before (``pd-org-12``, made before numbers named the company) is ours only when its
   name is the customer's too: when several Pipedrive companies share one Xero organisation, that number may be
   another company's organisation 12.
4. A contact with the customer's name (Xero names are unique among active contacts) is a candidate.
5. A contact with the customer's email is a candidate only for a person, or when its name is the customer's too: an
   organisation's email is its contact person's, and may well be another customer's contact in Xero. A contact that
   carries another Pipedrive record's number is that record's, never a candidate.
6. One candidate is the match; two or more are refused (``Ambiguous``): the admin links the right one.
"""

import re
from dataclasses import dataclass
from typing import Any

from pdx_common.contracts import Contact

# A number we write: "pd7001-org-12" (since numbers name the company) or "pd-org-12" (before); groups: company
# (empty before), "org" or "person", the record's id.
OUR_NUMBER = re.compile(r"^pd(\d*)-(org|person)-(\d+)$", re.IGNORECASE)


def xero_contact_number(company_id: str, contact_number: str) -> str:
    """The ContactNumber we write to Xero: ``pd-org-12`` of company 7001 is ``pd7001-org-12`` (at most 50)."""
    match = OUR_NUMBER.match(contact_number)
    if match is None:
        return contact_number[:50]
    return f"pd{company_id}-{match.group(2).lower()}-{match.group(3)}"[:50]


def _fold(value: Any) -> str:
    return " ".join(str(value or "").split()).casefold()


@dataclass(frozen=True)
class Matched:
    contact_id: str
    name: str
    how: str  # "number", "legacy_number", "name", "email"


@dataclass(frozen=True)
class Ambiguous:
    candidates: tuple[tuple[str, str, str | None], ...]  # (ContactID, Name, EmailAddress)

    def names(self) -> str:
        return ", ".join(f"'{name}'" + (f" ({email})" if email else "") for _, name, email in self.candidates)


@dataclass(frozen=True)
class NoMatch:
    pass


Match = Matched | Ambiguous | NoMatch


def lookups(contact: Contact, company_id: str) -> list[tuple[str, str]]:
    """(field, value) pairs to ask Xero about (``where`` Field=="value", OR-ed or one query each)."""
    pairs = [("ContactNumber", xero_contact_number(company_id, contact.contact_number))]
    if OUR_NUMBER.match(contact.contact_number) and contact.contact_number.lower() != pairs[0][1].lower():
        pairs.append(("ContactNumber", contact.contact_number))
    if contact.name.strip():
        pairs.append(("Name", contact.name.strip()))
    if contact.email:
        pairs.append(("EmailAddress", contact.email))
    return pairs


def choose(contact: Contact, company_id: str, found: list[dict[str, Any]]) -> Match:
    """The match among what Xero answered to ``lookups`` (duplicates and unrelated contacts are fine)."""
    ours = xero_contact_number(company_id, contact.contact_number).casefold()
    legacy = contact.contact_number.casefold()
    name, email = _fold(contact.name), _fold(contact.email)
    active = {c["ContactID"]: c for c in found
              if c.get("ContactID") and (c.get("ContactStatus") or "ACTIVE") == "ACTIVE"}
    for c in active.values():
        if _fold(c.get("ContactNumber")) == ours:
            return Matched(c["ContactID"], str(c.get("Name") or ""), "number")
    for c in active.values():
        if _fold(c.get("ContactNumber")) == legacy and _fold(c.get("Name")) == name:
            return Matched(c["ContactID"], str(c.get("Name") or ""), "legacy_number")
    candidates: dict[str, tuple[dict[str, Any], str]] = {}
    for c in active.values():
        number = _fold(c.get("ContactNumber"))
        if OUR_NUMBER.match(number) and number not in (ours, legacy):
            continue  # another Pipedrive record's contact (of this company or another)
        same_name = bool(name) and _fold(c.get("Name")) == name
        same_email = bool(email) and _fold(c.get("EmailAddress")) == email
        if same_name:
            candidates[c["ContactID"]] = (c, "name")
        elif same_email and contact.source == "person":
            candidates[c["ContactID"]] = (c, "email")
    if not candidates:
        return NoMatch()
    if len(candidates) == 1:
        c, how = next(iter(candidates.values()))
        return Matched(c["ContactID"], str(c.get("Name") or ""), how)
    return Ambiguous(tuple((cid, str(c.get("Name") or ""), c.get("EmailAddress") or None)
                           for cid, (c, _) in sorted(candidates.items(), key=lambda kv: _fold(kv[1][0].get("Name")))))
