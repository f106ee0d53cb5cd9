"""Update on a person's or organisation's card whose customer is not linked to a Xero contact yet: one Pipedrive read
(the record), one Xero search (``GET /Contacts?where=A OR B ...``), and the safe matching rules the xero-writer uses
(``pdx_common.contact_matching``). A match is linked (``how="card"``) so the next view finds it without a call; two
or more candidates are never guessed between, and the customer is noted in ``record_syncs`` (state ``ambiguous``), so
the settings app's Customers & products lists it for the admin to link."""

from collections.abc import Awaitable, Callable

import structlog

from pdx_common.contact_matching import Ambiguous, Match, Matched, choose, lookups
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.xero import XeroClient
from pdx_common.xero_links import MongoXeroLinks
from pdx_crmcard.adapters.pipedrive_records import PipedriveRecords
from pdx_crmcard.adapters.record_syncs import MongoRecordSyncs
from pdx_crmcard.domain import customers
from pdx_crmcard.domain.customers import Record

log = structlog.get_logger()
XeroFor = Callable[[str], Awaitable[XeroClient]]


class CustomerSearch:
    def __init__(self, records: PipedriveRecords, xero_for: XeroFor, links: MongoXeroLinks,
                 syncs: MongoRecordSyncs | None = None) -> None:
        self._records, self._xero_for, self._links, self._syncs = records, xero_for, links, syncs

    async def find(self, company_id: str, tenant_id: str, resource: Record,
                   record_id: str) -> tuple[str, Match | None]:
        """(the customer's name in Pipedrive, what Xero has for it; None: nothing to look for, Xero not asked); a
        match is linked, and an ambiguity noted, before this returns."""
        try:
            record = await self._records.record(company_id, resource, record_id)
        except (ApiError, ConnectionMissing) as exc:
            # A record deleted in Pipedrive (404), or no usable Pipedrive connection: nothing to look for.
            log.warning("could not read the card's record from Pipedrive", error=str(exc))
            return "", None
        contact = customers.contact_of(resource, record)
        if contact is None:
            return "", None
        xero = await self._xero_for(company_id)
        found = await xero.find_contacts(customers.search(lookups(contact, company_id)))
        match = choose(contact, company_id, found)
        if isinstance(match, Matched):
            await self._links.put(company_id, tenant_id, "contact", contact.contact_number, match.contact_id,
                                  how="card", name=match.name)
            log.info("card linked its customer to a xero contact", how=match.how)
            if self._syncs is not None:
                await self._syncs.linked(company_id, tenant_id, contact.contact_number, name=contact.name,
                                         message=customers.card_linked(match.name, match.how),
                                         xero_id=match.contact_id)
        elif isinstance(match, Ambiguous):
            log.info("card found several xero contacts for its customer", candidates=len(match.candidates))
            if self._syncs is not None:
                await self._syncs.ambiguous(company_id, tenant_id, contact.contact_number, name=contact.name,
                                            message=customers.ambiguous_message(contact.name, match),
                                            fix=customers.ambiguous_fix(contact.name))
        return contact.name, match
