"""The panel's read side: whose documents a deal, person or organisation panel shows, answered from the read model
(no Xero call on a plain view), and the Update that first refreshes that customer from Xero (on a person's or
organisation's card not linked yet, first looks for its Xero contact: ``customer_search``). Every panel of a
connected company names the Xero organisation it reads from."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog

from pdx_common.contact_matching import Ambiguous, Matched
from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.xero_links import MongoXeroLinks
from pdx_crmcard.adapters.documents import MongoXeroDocuments
from pdx_crmcard.adapters.xero_connections import MongoXeroConnections, XeroConnection
from pdx_crmcard.customer_search import CustomerSearch
from pdx_crmcard.domain import customers, panel
from pdx_crmcard.sync import DocumentSync

log = structlog.get_logger()
Resource = Literal["deal", "person", "organization"]
DealCustomer = Callable[[str, str], Awaitable[list[str]]]  # (company, deal) -> ["pd-org-12", "pd-person-7"]
Failures = Callable[[str, str], Awaitable[list[dict[str, Any]]]]  # (company, deal) -> its failed triggers' records
ReplayLink = Callable[[str, str], str | None]  # (company, deal) -> a signed Replay page URL, or None


async def _no_failures(company_id: str, deal_id: str) -> list[dict[str, Any]]:
    return []


async def _creates_contacts(company_id: str) -> bool:
    return True
NOUN = {"deal": "this deal's customer", "person": "this person", "organization": "this organisation"}


@dataclass
class Target:
    contact_ids: list[str] = field(default_factory=list)
    deal_docs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    searched: bool = False  # Update asked Xero for this customer and found none that could be it


@dataclass(frozen=True)
class Shown:
    """What one panel request is about."""

    company_id: str
    tenant_id: str
    resource: Resource
    object_id: str
    settings_url: str
    organisation: str | None


class PanelReader:
    def __init__(self, docs: MongoXeroDocuments, links: MongoXeroLinks, connections: MongoXeroConnections,
                 deal_customer: DealCustomer, sync: DocumentSync, *,
                 settings_url: Callable[[str], str], xero_app_url: str, search: CustomerSearch | None = None,
                 timezone_of: Callable[[str], Awaitable[str]] | None = None, failures: Failures = _no_failures,
                 replay_link: ReplayLink = lambda company_id, deal_id: None,
                 creates_contacts: Callable[[str], Awaitable[bool]] = _creates_contacts) -> None:
        self._docs, self._links, self._connections = docs, links, connections
        self._creates_contacts = creates_contacts
        self._failures, self._replay_link = failures, replay_link
        self._timezone_of, self._search = timezone_of, search
        self._deal_customer, self._sync = deal_customer, sync
        self._settings_url, self._app_url = settings_url, xero_app_url.rstrip("/")

    async def show(self, company_id: str, resource: Resource, object_id: str, *, update: bool = False) -> dict:
        failures = await self._failed(company_id, object_id) if resource == "deal" else []
        connection = await self._connections.of(company_id)
        settings_url = self._settings_url(company_id)
        if connection.state != "ok":
            return panel.with_failures(_not_connected(connection, settings_url), failures)
        shown = Shown(company_id, connection.tenant_id or "", resource, object_id, settings_url,
                      connection.tenant_name)
        target = await self._target(company_id, shown.tenant_id, resource, object_id)
        if not target.contact_ids and not target.deal_docs and update and resource != "deal":
            target, refused = await self._look_in_xero(shown)
            if refused is not None:
                return refused
        if not target.contact_ids and not target.deal_docs:
            note = customers.not_linked_note(resource, searched=target.searched,
                                             creates=await self._creates_contacts(company_id))
            return panel.with_failures(panel.message(
                "not-in-xero", f"Not in Xero yet: {NOUN[resource]}", note, settings_url,
                organisation=shown.organisation), failures)
        if update:
            for contact_id in target.contact_ids:
                await self._sync.refresh_customer(company_id, shown.tenant_id, contact_id)
            notes = target.notes
            target = await self._target(company_id, shown.tenant_id, resource, object_id)
            target.notes = notes
        return await self._render(shown, target, failures)

    async def _look_in_xero(self, shown: Shown) -> tuple[Target, dict | None]:
        """A person or organisation not linked yet: its Xero contact, found by the safe rules and linked; or the
        panel that says Xero has several that could be it (never a guess); or none, ``searched`` when Xero was
        asked."""
        if self._search is None:
            return Target(), None
        name, match = await self._search.find(shown.company_id, shown.tenant_id, shown.resource, shown.object_id)
        if isinstance(match, Matched):
            note = f"Linked to the Xero contact '{match.name}' ({customers.found_by(match.how)})."
            return Target([match.contact_id], notes=[note]), None
        if isinstance(match, Ambiguous):
            return Target(), panel.message(
                "which-contact", f"Which Xero contact is {NOUN[shown.resource]}?", customers.ambiguous_note(
                    name, match), shown.settings_url, organisation=shown.organisation)
        return Target(searched=match is not None), None

    async def _failed(self, company_id: str, deal_id: str) -> list[dict[str, Any]]:
        """The deal's failed triggers as panel objects, each with a Replay link for this deal."""
        return [panel.failure_object(record, self._replay_link(company_id, deal_id))
                for record in await self._failures(company_id, deal_id)]

    async def _render(self, shown: Shown, target: Target, failures: list[dict[str, Any]]) -> dict:
        company_id, tenant_id = shown.company_id, shown.tenant_id
        docs = {d["_id"]: d for d in [*target.deal_docs,
                                      *await self._docs.for_contacts(company_id, tenant_id, target.contact_ids)]}
        names = [d["contact_name"] for d in docs.values() if d.get("contact_name")]
        contact_url = (f"{self._app_url}/Contacts/View/{target.contact_ids[0]}"
                       if len(target.contact_ids) == 1 else None)
        checked = await self._docs.last_checked(company_id, tenant_id, target.contact_ids)
        view = panel.PanelView(title=names[0] if names else NOUN[shown.resource], documents=list(docs.values()),
                               today=await self._today(company_id), settings_url=shown.settings_url,
                               contact_url=contact_url, deal_id=shown.object_id if shown.resource == "deal" else None,
                               refreshed_at=checked, notes=target.notes, failures=failures,
                               organisation=shown.organisation)
        return panel.render(view)

    async def _today(self, company_id: str) -> date:
        """Overdue is judged on the company's own calendar day (its time zone setting), not UTC's."""
        zone = await self._timezone_of(company_id) if self._timezone_of else "UTC"
        return datetime.now(ZoneInfo(zone)).date()

    async def _target(self, company_id: str, tenant_id: str, resource: Resource, object_id: str) -> Target:
        if resource != "deal":
            number = customers.number_of(resource, object_id)
            contact_id = await self._contact(company_id, tenant_id, number)
            return Target([contact_id] if contact_id else [])
        deal_docs = await self._docs.for_deal(company_id, tenant_id, object_id)
        contact_ids = sorted({d["contact_id"] for d in deal_docs if d.get("contact_id")})
        if not contact_ids:
            contact_ids = await self._deal_contacts(company_id, tenant_id, object_id)
        return Target(contact_ids, deal_docs)

    async def _contact(self, company_id: str, tenant_id: str, number: str) -> str | None:
        return (await self._links.get(company_id, tenant_id, "contact", number)
                or await self._docs.contact_for_number(company_id, tenant_id, number))

    async def _deal_contacts(self, company_id: str, tenant_id: str, deal_id: str) -> list[str]:
        """No draft yet for this deal: one Pipedrive read says who its customer is."""
        try:
            numbers = await self._deal_customer(company_id, deal_id)
        except (ApiError, ConnectionMissing) as exc:
            log.warning("could not read the deal's customer from Pipedrive", deal_id=deal_id, error=str(exc))
            return []
        for number in numbers:
            if contact_id := await self._contact(company_id, tenant_id, number):
                return [contact_id]
        return []


def _not_connected(connection: XeroConnection, settings_url: str) -> dict:
    if connection.state == "missing":
        return panel.message("xero-not-connected", "Xero is not connected",
                             "Connect Xero in the app settings to see invoices and quotes here.", settings_url)
    return panel.message("xero-disconnected", "Xero needs reconnecting",
                         f"The Xero connection stopped working ({connection.reason or 'access was refused'}). "
                         "Reconnect Xero in the app settings.", settings_url)
