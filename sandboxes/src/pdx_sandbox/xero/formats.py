"""Xero wire formats: "/Date(ms+0000)/" timestamps, YYYY-MM-DD dates and 2-dp money."""

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def ms_date(ts: float) -> str:
    """Xero's timestamp format, e.g. /Date(1552327126117+0000)/."""
    return f"/Date({int(ts * 1000)}+0000)/"


def ms_date_of_day(day: date) -> str:
    return ms_date(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def day_string(day: date) -> str:
    """The *String twin of a date field, e.g. DateString 2019-03-11T00:00:00."""
    return f"{day.isoformat()}T00:00:00"


def iso_utc(ts: float) -> str:
    """ISO form used by the identity API (createdDateUtc) and webhooks (eventDateUtc)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def iso_seconds(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_day(value: object) -> date | None:
    """Accept YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or /Date(ms)/; None when it is none of these."""
    if not isinstance(value, str):
        return None
    match = _MS_DATE.match(value)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC).date()
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def to_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def quantize(value: Decimal, places: int = 2) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def money(value: Decimal, places: int = 2) -> float:
    return float(quantize(value, places))
