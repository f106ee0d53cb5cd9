"""Reads from Pipedrive: everything a deal's draft needs, in as few calls as the API allows; and one person,
organisation or product at a time for the master-data sync."""

import asyncio
from typing import Any

import aiohttp

from pdx_common.connections import TokenProvider
from pdx_common.http import ApiError
from pdx_common.pipedrive import PipedriveClient
from pdx_mapper.domain.mapping import DealSnapshot


class PipedriveDealReader:
    def __init__(self, session: aiohttp.ClientSession, tokens: TokenProvider, base_url: str | None) -> None:
        self._session, self._tokens, self._base_url = session, tokens, base_url

    async def read(self, company_id: str, deal_id: str) -> DealSnapshot:
        client = PipedriveClient(self._session, self._tokens, company_id, self._base_url)
        deal, products, discounts = await asyncio.gather(
            client.deal(deal_id), client.deal_products(deal_id), client.deal_discounts(deal_id))
        person_id, org_id = _id(deal.get("person_id")), _id(deal.get("org_id"))
        person, org, details, deal_fields = await asyncio.gather(
            client.person(person_id) if person_id else _none(),
            client.organization(org_id) if org_id else _none(),
            asyncio.gather(*(client.product(p["product_id"]) for p in products if p.get("product_id"))),
            _fields(client, "/api/v2/dealFields", deal))
        by_id = {d["id"]: d for d in details if d}
        enriched = [{**p, "product": by_id.get(p.get("product_id"), {})} for p in products]
        person_fields, org_fields, domain = await asyncio.gather(
            _fields(client, "/api/v2/personFields", person), _fields(client, "/api/v2/organizationFields", org),
            self.company_domain(company_id))
        return DealSnapshot(deal=deal, products=enriched, person=person, org=org, discounts=discounts,
                            deal_fields=deal_fields, person_fields=person_fields, org_fields=org_fields,
                            company_domain=domain)

    async def company_domain(self, company_id: str) -> str | None:
        """The company's Pipedrive domain ("acme" for acme.pipedrive.com), saved at install."""
        doc = await self._tokens.connection(company_id) or {}
        return doc.get("company_domain")


def _id(value: object) -> int | None:
    if isinstance(value, dict):
        value = value.get("value") or value.get("id")
    return int(value) if value else None


async def _none() -> None:
    return None


async def _fields(client: PipedriveClient, path: str, record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The record's field definitions (names, option labels), read only when it has a custom value to name: a deal,
    person or organisation without one costs no call. One page of up to 500 fields (v2's largest)."""
    if not any(value not in (None, "", [], {}) for value in ((record or {}).get("custom_fields") or {}).values()):
        return []
    return await client.request("GET", path, params={"limit": 500}) or []


PATHS = {"person": "persons", "organization": "organizations", "product": "products"}
FIELD_PATHS = {"person": "/api/v2/personFields", "organization": "/api/v2/organizationFields"}


class PipedriveRecordReader:
    """Reads one person, organisation or product as Pipedrive has it now (v2 GET, 1 token each), for the sync."""

    def __init__(self, session: aiohttp.ClientSession, tokens: TokenProvider, base_url: str | None) -> None:
        self._session, self._tokens, self._base_url = session, tokens, base_url

    def _client(self, company_id: str) -> PipedriveClient:
        return PipedriveClient(self._session, self._tokens, company_id, self._base_url)

    async def record(self, company_id: str, entity: str, entity_id: str) -> dict[str, Any] | None:
        """The record, or None when Pipedrive has deleted it (404, or still kept with ``is_deleted``)."""
        try:
            record = await self._client(company_id).request("GET", f"/api/v2/{PATHS[entity]}/{entity_id}")
        except ApiError as error:
            if error.status in (404, 410):
                return None
            raise
        if not isinstance(record, dict) or record.get("is_deleted"):
            return None
        return record

    async def fields(self, company_id: str, entity: str) -> list[dict[str, Any]]:
        """The custom field definitions of persons or organisations (names, option labels): one page of 500."""
        path = FIELD_PATHS.get(entity)
        if path is None:
            return []
        return await self._client(company_id).request("GET", path, params={"limit": 500}) or []
