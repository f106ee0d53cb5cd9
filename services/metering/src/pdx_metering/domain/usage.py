"""Billing counts drafts really created in Xero, once each, in the UTC month their DocumentCreated happened.

Pure: no I/O, no clock. A month is the text ``YYYY-MM``, which sorts in time order.
"""

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pdx_common.contracts import DocumentCreated, DocumentKind

MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class InvalidMonth(ValueError):
    """A month a person typed that is not ``YYYY-MM``, or a range that ends before it starts."""


@dataclass(frozen=True)
class BillableDraft:
    """One draft Xero holds: ``(company_id, tenant_id, xero_id)`` is what makes two results the same draft."""

    company_id: str
    tenant_id: str
    xero_id: str
    kind: DocumentKind
    month: str
    deal_id: str
    trigger_id: str
    number: str | None
    result_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class MonthUsage:
    month: str
    drafts: int
    invoices: int
    quotes: int

    def to_json(self) -> dict:
        return asdict(self)


def month_of(moment: datetime) -> str:
    """The UTC month of ``moment``; a time without a zone is taken as UTC (what every producer sends)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"


def billable(created: DocumentCreated) -> BillableDraft:
    return BillableDraft(company_id=created.company_id, tenant_id=created.tenant_id, xero_id=created.xero_id,
                         kind=created.kind, month=month_of(created.occurred_at), deal_id=created.deal_id,
                         trigger_id=created.trigger_id, number=created.number, result_id=created.id,
                         occurred_at=created.occurred_at)


def parse_month(text: str) -> str:
    if not MONTH.fullmatch(text):
        raise InvalidMonth(f"{text!r} is not a month; write it as YYYY-MM, e.g. 2026-11")
    return text


def month_range(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """``(first, last)``, both inclusive and optional, validated."""
    first = parse_month(first) if first is not None else None
    last = parse_month(last) if last is not None else None
    if first and last and first > last:
        raise InvalidMonth(f"the range ends ({last}) before it starts ({first})")
    return first, last
