"""Signed links to the gateway's deal pages (``pdx_gateway.deal_actions``), for a failure's activity and the deal's
panel: bound to the company and deal, expiring, and a GET only shows a confirmation (the page's POST acts).

    DealLinks("https://gw.example", key, ttl_seconds=86400).replay("7001", "42")
    ->  "https://gw.example/deal/replay?company_id=7001&deal_id=42&expires=1796000000&sig=9f2c..."
"""

import time
from collections.abc import Callable

from pdx_common.signed_links import signed_query

ACTIONS = ("replay", "create-invoice", "create-quote")


class DealLinks:
    """Without a gateway address or signing key every link is None: the notes then say where to replay, in words."""

    def __init__(self, gateway_url: str | None, key: str | None, *, ttl_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._base = (gateway_url or "").rstrip("/")
        self._key, self._ttl, self._clock = key, ttl_seconds, clock

    @property
    def configured(self) -> bool:
        return bool(self._base and self._key)

    def url(self, action: str, company_id: str, deal_id: str) -> str | None:
        if action not in ACTIONS:
            raise ValueError(f"unknown deal action {action!r}")
        if not self._base or not self._key:
            return None
        expires = int(self._clock()) + self._ttl
        query = signed_query(self._key, f"deal-{action}", {"company_id": company_id, "deal_id": deal_id}, expires)
        return f"{self._base}/deal/{action}?{query}"

    def replay(self, company_id: str, deal_id: str) -> str | None:
        return self.url("replay", company_id, deal_id)
