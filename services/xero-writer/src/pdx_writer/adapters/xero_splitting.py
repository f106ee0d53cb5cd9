"""Xero requests that one bad element cannot sink.

Xero refuses some requests as a whole, whatever ``summarizeErrors`` says: a body it cannot read into its types or
that carries a character XML cannot hold (400 PostDataInvalidException), a body over 3.5 MB (413), a ``where`` it
cannot parse (400 QueryParseException) or a query string over 2048 characters (IIS's 404.15). Nothing in such a
request was created, so it is split and each part sent again under its own idempotency key, down to the single
element at fault, which gets its own reason; the others are created. When Xero names the element ("Path
'Invoices[3]...'") it is sent alone and the others together; otherwise the request is halved.

Idempotency keys are derived from what a request carries (the command ids and the exact body), never from the batch
it came from: a half that succeeded and is sent again (the writer crashed, the batch was redelivered) replays
Xero's first answer, and the whole request's refused answer is never replayed for a half.
"""

import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote_plus

import structlog

from pdx_common.http import ApiError
from pdx_common.xero import where_equals, xero_json

log = structlog.get_logger()
T = TypeVar("T")
WRITE_REFUSALS = {400, 413}
LOOKUP_REFUSALS = {400, 404, 414}
MAX_WHERE = 1800  # encoded characters of one `where`: IIS's 2048-character query string, less room to spare
WHERE_VALUES = 25  # values per `where ... OR ...` query
_PATH = re.compile(r"Path '[A-Za-z]+\[(\d+)\]")


@dataclass(frozen=True)
class Refusal:
    """Xero refused the request that carried this element alone."""

    status: int
    body: Any


Outcome = dict[str, Any] | Refusal
Send = Callable[[list[T], str], Awaitable[list[dict[str, Any]]]]
Settle = Callable[[list[T], list[Outcome]], Awaitable[None]]


async def send_split(send: Send, items: list[T], key: Callable[[list[T]], str], settle: Settle) -> None:
    """Send ``items`` in one request; when Xero refuses it as a whole, halve it and send the halves. ``settle`` is
    told each part's outcomes as they come, so what was created is recorded before the next part is sent."""
    try:
        elements = await send(items, key(items))
    except ApiError as refused:
        if refused.status not in WRITE_REFUSALS:
            raise
        if len(items) == 1:
            log.info("xero refused the request of one element", status=refused.status)
            await settle(items, [Refusal(refused.status, refused.body)])
            return
        log.warning("xero refused a whole request; splitting it", elements=len(items), status=refused.status)
        for part in _parts(items, refused.body):
            await send_split(send, part, key, settle)
        return
    await settle(items, list(elements))


def _parts(items: list[T], body: Any) -> list[list[T]]:
    """The element Xero's reader named ("... Path 'Invoices[3].LineItems[0].Quantity'") alone, then the others;
    halves when it named none. Either way each part is smaller, so splitting ends."""
    named = _PATH.search(str(body.get("Message") or "")) if isinstance(body, dict) else None
    index = int(named.group(1)) if named else -1
    if 0 <= index < len(items):
        return [[items[index]], items[:index] + items[index + 1:]]
    middle = len(items) // 2
    return [items[:middle], items[middle:]]


def request_key(kind: str, ids: Sequence[str], body: Any) -> str:
    """An Idempotency-Key for one request: the same for the same commands and body, different for any part."""
    digest = hashlib.sha256("|".join(ids).encode() + b"\n" + xero_json(body)).hexdigest()[:48]
    return f"pdx-{kind.lower()}-{digest}"


def sized_groups(items: list[T], sizes: list[int], most_items: int, most_bytes: int) -> list[list[T]]:
    """Consecutive groups of at most ``most_items`` whose bodies together stay under ``most_bytes`` (an element
    bigger than that alone gets a group of its own: the caller refuses it)."""
    groups: list[list[T]] = []
    current: list[T] = []
    used = 0
    for item, size in zip(items, sizes, strict=True):
        if current and (len(current) >= most_items or used + size + 1 > most_bytes):
            groups.append(current)
            current, used = [], 0
        current.append(item)
        used += size + 1
    if current:
        groups.append(current)
    return groups


async def find_split(find: Callable[[str], Awaitable[list[dict[str, Any]]]], field: str,
                     values: list[str]) -> list[dict[str, Any]]:
    """Every record whose ``field`` equals one of ``values``, in as few ``where ... OR ...`` queries as fit Xero's
    query string. A query Xero cannot take is split; a value it cannot take alone is left unmatched (logged)."""
    return await find_any(find, [(field, value) for value in values])


async def find_any(find: Callable[[str], Awaitable[list[dict[str, Any]]]],
                   pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every record with one of the (field, value) pairs, fields mixed in one ``where A OR B OR ...`` (a batch's
    customers by number, name and email in one look-up), split as ``find_split`` splits."""
    found: list[dict[str, Any]] = []
    for group in _where_groups(list(dict.fromkeys(pairs))):
        found += await _find_group(find, group)
    return found


async def _find_group(find, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    try:
        return await find(_or(pairs))
    except ApiError as refused:
        if refused.status not in LOOKUP_REFUSALS:
            raise
        if len(pairs) == 1:
            log.warning("xero cannot look this value up; treated as not found", field=pairs[0][0],
                        status=refused.status)
            return []
    middle = len(pairs) // 2
    return await _find_group(find, pairs[:middle]) + await _find_group(find, pairs[middle:])


def _or(pairs: list[tuple[str, str]]) -> str:
    return " OR ".join(where_equals(field, value) for field, value in pairs)


def _where_groups(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    sizes = [len(quote_plus(where_equals(field, value), safe="")) for field, value in pairs]
    fitting = [(p, s) for p, s in zip(pairs, sizes, strict=True) if s <= MAX_WHERE]
    for (field, value), size in zip(pairs, sizes, strict=True):
        if size > MAX_WHERE:
            log.warning("value too long to look up in xero; treated as not found", field=field, length=len(value))
    separator = len(quote_plus(" OR ", safe=""))
    return sized_groups([p for p, _ in fitting], [s + separator for _, s in fitting], WHERE_VALUES, MAX_WHERE)
