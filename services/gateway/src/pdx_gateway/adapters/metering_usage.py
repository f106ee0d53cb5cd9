"""The metering service's usage API, asked for one company at a time (the settings app's session's company).

``GET {metering_url}/api/companies/{company_id}/usage`` with the metering API's bearer token ->
``{"company_id": "7001", "months": [{"month": "2026-11", "drafts": 12, "invoices": 10, "quotes": 2}]}``
"""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class UsageUnavailable(Exception):
    """Metering is not configured, unreachable or answered something unexpected: the page says so in words."""


@dataclass(frozen=True)
class MonthUsage:
    month: str  # "2026-11", a UTC month
    drafts: int
    invoices: int
    quotes: int


class MeteringUsage:
    def __init__(self, session: aiohttp.ClientSession, base_url: str | None, token: str | None, *,
                 timeout: float = 5.0) -> None:
        self._session, self._base_url, self._token = session, (base_url or "").rstrip("/"), token
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def months(self, company_id: str) -> list[MonthUsage]:
        """The months in which the company had drafts metered, oldest first."""
        if not (self._base_url and self._token):
            raise UsageUnavailable("metering is not configured")
        url = f"{self._base_url}/api/companies/{quote(company_id, safe='')}/usage"
        try:
            async with self._session.get(url, headers={"Authorization": f"Bearer {self._token}"},
                                         timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise UsageUnavailable(f"metering answered {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise UsageUnavailable(f"metering could not be reached: {exc.__class__.__name__}") from exc
        return _months(company_id, body)


def _months(company_id: str, body: Any) -> list[MonthUsage]:
    if not isinstance(body, dict) or body.get("company_id") != company_id or not isinstance(body.get("months"), list):
        raise UsageUnavailable("metering answered for another company or in an unknown shape")
    try:
        months = [MonthUsage(str(m["month"]), int(m["drafts"]), int(m["invoices"]), int(m["quotes"]))
                  for m in body["months"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageUnavailable("metering answered in an unknown shape") from exc
    if not all(MONTH.fullmatch(m.month) for m in months):
        raise UsageUnavailable("metering answered a month that is not YYYY-MM")
    return sorted(months, key=lambda m: m.month)
