"""A person's or organisation's card looking for its Xero contact: the Pipedrive record as the ``Contact`` the safe
matching rules take (``pdx_common.contact_matching``), the one Xero search they ask, the panel's words when Xero
has several contacts that could be the customer (and what the settings app's Customers & products lists for it),
and when no Xero contact is linked. Pure.

    contact_of("organization", {"id": 101, "name": "Kiwi Widgets Ltd"})
    ->  Contact(name="Kiwi Widgets Ltd", contact_number="pd-org-101", source="organization", source_id="101")
    search([("ContactNumber", "pd7001-org-101"), ("Name", "Kiwi Widgets Ltd")])
    ->  'ContactNumber=="pd7001-org-101" OR Name=="Kiwi Widgets Ltd"'
"""

from typing import Any, Literal

from pdx_common.contact_matching import Ambiguous
from pdx_common.contracts import Contact
from pdx_common.xero import where_equals

Record = Literal["person", "organization"]
APP_SETTINGS = "the app's settings (Pipedrive: Settings > Apps > Xero drafts)"
FOUND_BY = {"number": "it carries this record's number", "legacy_number": "it carries this record's number",
            "name": "found by its name", "email": "found by its email"}
_CREATE_OFF = "Create the contact in Xero when it is missing is off in the app settings"


def number_of(resource: Record, record_id: str) -> str:
    return f"pd-{'org' if resource == 'organization' else 'person'}-{record_id}"


def contact_of(resource: Record, record: dict[str, Any]) -> Contact | None:
    """None for a record without an id or a name (nothing to match it by). An organisation is matched by its name
    and number only: its email would be its contact person's (the rules never match an organisation by that)."""
    name = " ".join(str(record.get("name") or "").split())
    if not record.get("id") or not name:
        return None
    record_id = str(record["id"])
    if resource == "organization":
        return Contact(name=name[:255], contact_number=number_of(resource, record_id), source="organization",
                       source_id=record_id)
    return Contact(name=name[:255], contact_number=number_of(resource, record_id), source="person",
                   source_id=record_id, email=_primary(record.get("emails")),
                   first_name=record.get("first_name") or None, last_name=record.get("last_name") or None)


def _primary(values: Any) -> str | None:
    values = [v for v in values or [] if isinstance(v, dict) and v.get("value")]
    chosen = next((v for v in values if v.get("primary")), values[0] if values else None)
    return str(chosen["value"]) if chosen else None


def search(lookups: list[tuple[str, str]]) -> str:
    """One ``where`` for every lookup, OR-ed: one Xero call however many ways the customer may be found."""
    return " OR ".join(where_equals(field, value) for field, value in lookups)


def ambiguous_message(name: str, found: Ambiguous) -> str:
    """The xero-writer's words for the same problem (``ambiguous_contact``)."""
    return f"Xero has {len(found.candidates)} contacts that could be '{name}': {found.names()}."


def ambiguous_fix(name: str) -> str:
    """What the settings app's Customers & products says to do (the writer's fix, for a card's Update)."""
    return (f"In {APP_SETTINGS}, open Customers & products and link the right Xero contact to {name}, then press "
            "Update on its card in Pipedrive.")


def found_by(how: str) -> str:
    return FOUND_BY.get(how, "found in Xero")


def card_linked(name: str, how: str) -> str:
    """The settings app's words once Update on the card found the one contact (replacing an earlier ambiguity)."""
    return f"Linked from its card in Pipedrive to the Xero contact '{name}' ({found_by(how)})."


def ambiguous_note(name: str, found: Ambiguous, limit: int = 255) -> str:
    """What the panel says when two or more Xero contacts could be the customer (Pipedrive shows 255 characters)."""
    then = " Link the right one in the app settings (Customers & products), then press Update."
    said = ambiguous_message(name, found)
    room = limit - len(then)
    if len(said) > room:
        said = said[: room - 2].rstrip(" ,(") + "…."
    return said + then


def not_linked_note(resource: str, *, searched: bool, creates: bool) -> str:
    """The panel's words when no Xero contact is linked: whether drafts create it (``customer.create_missing``), and,
    after an Update that asked Xero (a person's or organisation's card), that Xero has none that could be it."""
    if not searched:
        if creates:
            return "No Xero contact is linked yet; the first draft made from a deal finds it in Xero or creates it."
        return (f"No Xero contact is linked yet, and drafts do not create one ({_CREATE_OFF}). Add it in Xero; a "
                "draft made from a deal then finds it.")
    ways = "name, email or number" if resource == "person" else "name or number"
    said = f"Xero has no contact with this {ways}."
    if creates:
        return f"{said} The first draft made from a deal creates it."
    return f"{said} Drafts do not create one ({_CREATE_OFF}): add it in Xero, then press Update."
