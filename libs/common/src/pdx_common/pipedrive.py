"""The Pipedrive API adapter: v2 reads, activities, notes, webhooks. Honours 429 and ``x-ratelimit-*``."""

import asyncio
from typing import Any

import aiohttp
import structlog

from pdx_common.connections import TokenProvider
from pdx_common.http import ApiError, ConnectionMissing, parsed_body
from pdx_common.metrics import PIPEDRIVE_CALLS, PIPEDRIVE_THROTTLED

log = structlog.get_logger()
MAX_THROTTLE_WAITS = 8


class PipedriveClient:
    """One company's view of Pipedrive. ``base_url`` overrides the token's ``api_domain`` (sandboxes, proxies)."""

    def __init__(self, session: aiohttp.ClientSession, tokens: TokenProvider, company_id: str,
                 base_url: str | None = None, timeout: float = 15.0) -> None:
        self._session, self._tokens, self.company_id = session, tokens, company_id
        self._base_url, self._timeout = base_url, aiohttp.ClientTimeout(total=timeout)

    async def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                      whole: bool = False) -> Any:
        """The answer's ``data`` (``whole``: the whole answer, e.g. for its ``additional_data``)."""
        refreshed = force = False
        for _ in range(MAX_THROTTLE_WAITS):
            token = await self._tokens.token(self.company_id, force_refresh=force)
            force = False
            base = (self._base_url or token.api_domain or "").rstrip("/")
            url = f"{base}{path}"
            headers = {"Authorization": f"Bearer {token.token}"}
            async with self._session.request(method, url, params=params, json=json, headers=headers,
                                             timeout=self._timeout) as resp:
                body = parsed_body(await resp.read())
                PIPEDRIVE_CALLS.labels(str(resp.status)).inc()
                if resp.status == 429:
                    PIPEDRIVE_THROTTLED.inc()
                    wait = _retry_after(resp.headers)
                    log.warning("pipedrive throttled", wait_s=wait, path=path)
                    await asyncio.sleep(wait)
                    continue
                if resp.status == 401 and not refreshed:
                    refreshed = force = True  # revoked or expired early: one refresh tells which
                    continue
                if resp.status == 401:
                    await self._tokens.broken(self.company_id, "Pipedrive refused our access")
                    raise ConnectionMissing("pipedrive", self.company_id, "disconnected (Pipedrive refused our access)")
                if resp.status >= 400:
                    raise ApiError("pipedrive", resp.status, body, url)
                if isinstance(body, str):  # a 2xx that is not Pipedrive's JSON: a proxy answered, not Pipedrive
                    raise ApiError("pipedrive", 502, body, url)
                if resp.headers.get("x-ratelimit-remaining") == "0":
                    # The burst window is spent: wait it out now rather than earn a 429 (repeated 429s risk a 403).
                    await asyncio.sleep(_retry_after(resp.headers))
                return body.get("data") if isinstance(body, dict) and not whole else body
        raise ApiError("pipedrive", 429, "still throttled after waiting", path)

    async def listed(self, path: str, params: dict[str, Any], page_size: int = 500) -> list[dict[str, Any]]:
        """Every item of a v2 list, following ``additional_data.next_cursor``::

            await client.listed("/api/v2/deals", {"pipeline_id": 1, "stage_id": 5, "status": "open"})
        """
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": page_size, **({"cursor": cursor} if cursor else {})}
            body = await self.request("GET", path, params=query, whole=True)
            body = body if isinstance(body, dict) else {}
            found += [item for item in body.get("data") or [] if isinstance(item, dict)]
            cursor = (body.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return found

    async def deal(self, deal_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/v2/deals/{deal_id}")

    async def deal_products(self, deal_id: str) -> list[dict[str, Any]]:
        return await self.request("GET", f"/api/v2/deals/{deal_id}/products") or []

    async def deal_discounts(self, deal_id: str) -> list[dict[str, Any]]:
        return await self.request("GET", f"/api/v2/deals/{deal_id}/discounts") or []

    async def person(self, person_id: int | str) -> dict[str, Any]:
        return await self.request("GET", f"/api/v2/persons/{person_id}")

    async def organization(self, org_id: int | str) -> dict[str, Any]:
        return await self.request("GET", f"/api/v2/organizations/{org_id}")

    async def product(self, product_id: int | str) -> dict[str, Any]:
        return await self.request("GET", f"/api/v2/products/{product_id}")

    async def add_activity(self, deal_id: str, subject: str, note: str, *, done: bool = True,
                           type_: str = "task") -> dict[str, Any]:
        body = {"subject": subject[:255], "type": type_, "deal_id": int(deal_id), "done": done, "note": note}
        return await self.request("POST", "/api/v2/activities", json=body)

    async def update_deal(self, deal_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH /api/v2/deals/{id} (updateDeal, 5 tokens): only the fields sent change, e.g.
        ``{"custom_fields": {"<40-char key>": "Paid"}, "stage_id": 9}``."""
        return await self.request("PATCH", f"/api/v2/deals/{deal_id}", json=body)

    async def register_webhook(self, subscription_url: str, user: str, password: str,
                               event_object: str = "deal") -> dict[str, Any]:
        """One webhook (v2) for every action on ``event_object``: deal, person, organization or product."""
        names = {"deal": "Xero drafts", "person": "Xero contacts (people)",
                 "organization": "Xero contacts (organisations)", "product": "Xero items"}
        body = {"subscription_url": subscription_url, "event_action": "*", "event_object": event_object,
                "name": names.get(event_object, "Xero sync"), "version": "2.0", "http_auth_user": user,
                "http_auth_password": password}
        return await self.request("POST", "/api/v1/webhooks", json=body)


def _retry_after(headers: Any) -> float:
    for name in ("Retry-After", "x-ratelimit-reset"):
        try:
            return max(0.05, min(float(headers[name]), 60.0))
        except (KeyError, ValueError):
            continue
    return 1.0
