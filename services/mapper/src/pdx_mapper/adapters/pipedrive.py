"""Reads everything a deal's draft needs from Pipedrive, in as few calls as the API allows."""

import asyncio
from typing import Any

import aiohttp

from pdx_common.connections import TokenProvider
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
