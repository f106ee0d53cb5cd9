"""What the crm-card reads from and writes to Pipedrive besides activities: a deal's customer (a deal panel with no
draft yet), a person's or organisation's record (a card's Update looking for its Xero contact), and the deal fields
that carry Xero's numbers (``PATCH /api/v2/deals/{id}``)."""

from collections.abc import Callable
from typing import Any, Literal

from pdx_common.pipedrive import PipedriveClient
from pdx_crmcard.domain.documents import customer_numbers

Record = Literal["person", "organization"]


class PipedriveRecords:
    def __init__(self, client_for: Callable[[str], PipedriveClient]) -> None:
        self._client_for = client_for

    async def deal_customer(self, company_id: str, deal_id: str) -> list[str]:
        """The deal's customer as our contact numbers, organisation first: ``["pd-org-12", "pd-person-7"]``."""
        return customer_numbers(await self._client_for(company_id).deal(deal_id) or {})

    async def record(self, company_id: str, resource: Record, record_id: str) -> dict[str, Any]:
        """``GET /api/v2/persons/{id}`` or ``/organizations/{id}`` (1 token)."""
        client = self._client_for(company_id)
        found = await (client.person(record_id) if resource == "person" else client.organization(record_id))
        return found or {}

    async def update_deal(self, company_id: str, deal_id: str, body: dict[str, Any]) -> None:
        await self._client_for(company_id).update_deal(deal_id, body)
