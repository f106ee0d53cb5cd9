"""Xero's API rate limits (developer.xero.com/faq/limits), counted on the sandbox clock.

Retry-After is given in sandbox seconds, as Xero would send it; a client talking to a fast clock must divide it by
the X-Sandbox-Clock-Speed header to know how long to sleep on the wall clock.
"""

import math
from collections import deque
from dataclasses import dataclass, field

MINUTE = 60.0
DAY = 86400.0


@dataclass(frozen=True)
class Limits:
    """Defaults are Xero's: per tenant 5 concurrent, 60 per minute, 5000 per day; app-wide 10,000 per minute."""

    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10_000


@dataclass
class Throttle:
    """Why a call was refused: the X-Rate-Limit-Problem value and the Retry-After seconds."""

    problem: str
    retry_after: int


@dataclass
class _TenantWindow:
    minute: deque[float] = field(default_factory=deque)
    day: deque[float] = field(default_factory=deque)
    in_flight: int = 0


class RateLimiter:
    """Sliding windows per tenant and app-wide. Refused calls do not count against the windows."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._tenants: dict[str, _TenantWindow] = {}
        self._app_minute: deque[float] = deque()

    def _window(self, tenant_id: str) -> _TenantWindow:
        return self._tenants.setdefault(tenant_id, _TenantWindow())

    def _expire(self, now: float, window: _TenantWindow) -> None:
        _drop_before(window.minute, now - MINUTE)
        _drop_before(window.day, now - DAY)
        _drop_before(self._app_minute, now - MINUTE)

    def acquire(self, tenant_id: str, now: float) -> Throttle | None:
        """Count one call for the tenant, or say which limit it hit. A granted call must be released."""
        window = self._window(tenant_id)
        self._expire(now, window)
        refused = self._check(window, now)
        if refused:
            return refused
        window.minute.append(now)
        window.day.append(now)
        self._app_minute.append(now)
        window.in_flight += 1
        return None

    def _check(self, window: _TenantWindow, now: float) -> Throttle | None:
        if window.in_flight >= self.limits.concurrent:
            return Throttle("concurrent", 1)
        if len(window.day) >= self.limits.per_day:
            return Throttle("day", _seconds_until(window.day[0] + DAY, now))
        if len(window.minute) >= self.limits.per_minute:
            return Throttle("minute", _seconds_until(window.minute[0] + MINUTE, now))
        if len(self._app_minute) >= self.limits.app_per_minute:
            return Throttle("appminute", _seconds_until(self._app_minute[0] + MINUTE, now))
        return None

    def release(self, tenant_id: str) -> None:
        self._window(tenant_id).in_flight -= 1

    def headers(self, tenant_id: str, now: float) -> dict[str, str]:
        window = self._window(tenant_id)
        self._expire(now, window)
        return {
            "X-DayLimit-Remaining": str(max(0, self.limits.per_day - len(window.day))),
            "X-MinLimit-Remaining": str(max(0, self.limits.per_minute - len(window.minute))),
            "X-AppMinLimit-Remaining": str(max(0, self.limits.app_per_minute - len(self._app_minute))),
        }

    def in_flight(self, tenant_id: str) -> int:
        return self._window(tenant_id).in_flight


def _drop_before(times: deque[float], cutoff: float) -> None:
    while times and times[0] <= cutoff:
        times.popleft()


def _seconds_until(when: float, now: float) -> int:
    return max(1, math.ceil(when - now))
