"""Xero wire formats: "/Date(ms+0000)/" timestamps, YYYY-MM-DD dates and 2-dp money."""

import json
import re
import uuid
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


# Fields the accounting spec (xero_accounting.yaml) types `number`, per element of a write. Xero reads a body into
# typed objects before it validates any element, so a value of the wrong type fails the whole request (HTTP 400,
# PostDataInvalidException), whatever summarizeErrors says. Xero's own reader is lenient with "180"; the sandbox
# holds writers to the spec, so a number sent as a string is refused here.
_LINE_NUMBERS = ("Quantity", "UnitAmount", "TaxAmount", "LineAmount", "DiscountRate", "DiscountAmount")
_DOCUMENT_NUMBERS = ("CurrencyRate",)
_DETAIL_NUMBERS = ("UnitPrice",)
_DOCUMENT_GUIDS = ("BrandingThemeID",)  # format: uuid in the spec; Json.NET refuses anything else
DECIMAL_MAX = Decimal("79228162514264337593543950335")  # .NET's decimal, which Xero reads amounts into
# Characters XML 1.0 cannot hold: Xero stores documents as XML, and answers "hexadecimal value 0x02, is an invalid
# character" for a body carrying one (Xero-NetStandard#61, xero-php#832).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def type_error(key: str, index: int, element: dict) -> str | None:
    """The first spec type violation in one element of a ``{key: [...]}`` body, as Xero's reader words it."""
    for field, kind in (("LineItems", list), ("Contact", dict), ("SalesDetails", dict), ("PurchaseDetails", dict)):
        if element.get(field) is not None and not isinstance(element[field], kind):
            shape = "array" if kind is list else "object"
            return (f"Cannot deserialize the current JSON value into a JSON {shape}. "
                    f"Path '{key}[{index}].{field}'.")
    for field in _DOCUMENT_GUIDS:
        value = element.get(field)
        if value not in (None, "") and not _is_guid(value):
            return (f"Error converting value {json.dumps(value)} to type 'System.Nullable`1[System.Guid]'. "
                    f"Path '{key}[{index}].{field}'.")
    paths: list[tuple[str, object]] = [(f"{key}[{index}].{f}", element.get(f)) for f in _DOCUMENT_NUMBERS]
    lines = element.get("LineItems")
    for n, line in enumerate(lines or []):
        if not isinstance(line, dict):
            return ("Cannot deserialize the current JSON value into a JSON object. "
                    f"Path '{key}[{index}].LineItems[{n}]'.")
        paths += [(f"{key}[{index}].LineItems[{n}].{f}", line.get(f)) for f in _LINE_NUMBERS]
    for details in ("SalesDetails", "PurchaseDetails"):
        if isinstance(element.get(details), dict):
            paths += [(f"{key}[{index}].{details}.{f}", element[details].get(f)) for f in _DETAIL_NUMBERS]
    for path, value in paths:
        problem = _number_problem(value)
        if problem:
            return f"{problem} Path '{path}'."
    return None


def _is_guid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _number_problem(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"Could not convert {type(value).__name__} to decimal: {str(value)[:40]}."
    if abs(Decimal(str(value))) > DECIMAL_MAX:
        return "Value was either too large or too small for a Decimal."
    return None


def invalid_character(data: object) -> str | None:
    """Xero's words for the first character XML cannot hold anywhere in a parsed body, e.g. "hexadecimal value
    0x02, is an invalid character"."""
    if isinstance(data, str):
        match = _XML_INVALID.search(data)
        return None if match is None else f"hexadecimal value 0x{ord(match.group()):02X}, is an invalid character."
    values = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in values:
        found = invalid_character(key) or invalid_character(value)
        if found:
            return found
    return None
