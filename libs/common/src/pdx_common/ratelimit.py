"""Xero's API budget, kept per organisation: at most 5 calls at once, 60 a minute, 5,000 a day, and 10,000 a minute
for the whole app. Calls wait for room instead of failing; Xero's ``X-*Limit-Remaining`` headers correct our count
(other processes or apps spend the same budget) and a 429's ``Retry-After`` pauses the organisation.

Time runs on a clock that can be sped up, so a sandbox with a fast clock needs no real minutes.
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger()

MINUTE, DAY = 60.0, 86_400.0


class ScaledClock:
    """Seconds that pass ``speed`` times faster than the wall clock (1 in production)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.speed)


@dataclass(frozen=True)
class XeroLimits:
    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5_000
    app_per_minute: int = 10_000


@dataclass
class _Window:
    length: float
    limit: int
    calls: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        while self.calls and self.calls[0] <= now - self.length:
            self.calls.popleft()
        return 0.0 if len(self.calls) < self.limit else self.calls[0] + self.length - now

    def remaining(self, now: float) -> int:
        self.wait(now)
        return self.limit - len(self.calls)

    def fill_to(self, remaining: int, now: float) -> None:
        """Another spender used budget we did not see: count it, as calls made now."""
        for _ in range(self.remaining(now) - max(remaining, 0)):
            self.calls.append(now)


@dataclass
class _Tenant:
    gate: asyncio.Semaphore
    minute: _Window
    day: _Window
    paused_until: float = 0.0
    throttled: int = 0


class XeroRateLimiter:
    def __init__(self, limits: XeroLimits = XeroLimits(), clock: ScaledClock | None = None) -> None:
        self.limits, self.clock = limits, clock or ScaledClock()
        self._tenants: dict[str, _Tenant] = {}
        self._app = _Window(MINUTE, limits.app_per_minute)

    def _tenant(self, tenant_id: str) -> _Tenant:
        if tenant_id not in self._tenants:
            self._tenants[tenant_id] = _Tenant(asyncio.Semaphore(self.limits.concurrent),
                                               _Window(MINUTE, self.limits.per_minute),
                                               _Window(DAY, self.limits.per_day))
        return self._tenants[tenant_id]

    @asynccontextmanager
    async def slot(self, tenant_id: str) -> AsyncIterator[None]:
        """Hold one of the organisation's concurrent calls, after waiting for room in every window."""
        tenant = self._tenant(tenant_id)
        async with tenant.gate:
            while (wait := self._wait(tenant)) > 0:
                if wait > 1.0:
                    log.info("waiting for the organisation's Xero budget", tenant_id=tenant_id, wait_s=round(wait, 1))
                await self.clock.sleep(wait)
            now = self.clock.now()
            tenant.minute.calls.append(now)
            tenant.day.calls.append(now)
            self._app.calls.append(now)
            yield

    def _wait(self, tenant: _Tenant) -> float:
        now = self.clock.now()
        return max(tenant.paused_until - now, tenant.minute.wait(now), tenant.day.wait(now), self._app.wait(now))

    def observe(self, tenant_id: str, headers: Mapping[str, str]) -> None:
        tenant, now = self._tenant(tenant_id), self.clock.now()
        for header, window in (("X-MinLimit-Remaining", tenant.minute), ("X-DayLimit-Remaining", tenant.day),
                               ("X-AppMinLimit-Remaining", self._app)):
            value = headers.get(header)
            if value is not None and value.isdigit():
                window.fill_to(int(value), now)

    def throttled(self, tenant_id: str, retry_after: float) -> None:
        tenant = self._tenant(tenant_id)
        tenant.throttled += 1
        tenant.paused_until = max(tenant.paused_until, self.clock.now() + retry_after)

    def remaining(self, tenant_id: str) -> dict[str, int]:
        tenant, now = self._tenant(tenant_id), self.clock.now()
        return {"minute": tenant.minute.remaining(now), "day": tenant.day.remaining(now),
                "app_minute": self._app.remaining(now)}

    def throttle_count(self, tenant_id: str) -> int:
        return self._tenant(tenant_id).throttled
