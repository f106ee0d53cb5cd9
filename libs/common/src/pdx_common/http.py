"""What every outbound HTTP adapter shares: one error type that says which system failed and whether to retry."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

log = structlog.get_logger()
E = TypeVar("E", bound=Exception)


@dataclass
class ApiError(Exception):
    system: str  # "xero" | "pipedrive"
    status: int
    body: Any
    url: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.system} answered {self.status} for {self.url}: {str(self.body)[:300]}"

    @property
    def transient(self) -> bool:
        return self.status == 429 or self.status >= 500


class ConnectionMissing(Exception):
    """The company has not connected this system (or the connection is broken): a person must act."""

    def __init__(self, system: str, company_id: str, reason: str = "not connected") -> None:
        super().__init__(f"{system} is {reason} for company {company_id}")
        self.system, self.company_id, self.reason = system, company_id, reason


def parsed_body(raw: bytes) -> Any:
    """An API's answer: JSON, or the text a proxy in front of it answered instead (an HTML 502 page), kept for the
    error rather than failing to read it, so the status decides what the failure is."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:2000]


def translated(exc: Exception, own: type[E], foreign: dict[type[Exception], Callable[[Exception], E]],
               internal: Callable[..., E]) -> E:
    """One service's error table applied: its own errors as they are, a known foreign one translated (most specific
    first), anything else an ``internal`` error whose details go to the log under a reference, never to the caller."""
    if isinstance(exc, own):
        return exc
    for kind, translate in foreign.items():
        if isinstance(exc, kind):
            return translate(exc)
    reference = uuid.uuid4().hex[:12]
    log.error("request failed", reference=reference, error=f"{type(exc).__name__}: {exc}"[:500], exc_info=exc)
    return internal("the request failed on our side; try again, and quote the reference if it keeps failing",
                    reference=reference)
