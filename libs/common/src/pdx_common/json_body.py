"""One bounded reader for every inbound JSON body: a size limit, a nesting limit and "it must be an object".

The nesting depth is measured on the raw bytes, without recursion, *before* ``json.loads`` runs: the C parser
recurses once per ``[`` or ``{``, so a body nested 5,000 levels deep would otherwise raise ``RecursionError`` (a 500)
instead of a clear 400. NaN, Infinity and numbers too large for a float are not JSON and are refused too, and so
are integers beyond 64 bits and unpaired surrogates (``"\ud800"``): the store and the broker's consumers cannot
carry them, so they would fail later, after part of the work was done.

Each service maps ``BodyTooLarge`` to 413 and every other ``BodyRefused`` to 400 in its one error table::

    body = await read_json_object(request, max_bytes=settings.max_body_bytes)
"""

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

from aiohttp import web

MAX_BYTES = 1_048_576
MAX_DEPTH = 32  # Pipedrive's webhooks nest about 4 levels, Xero's 3, the settings 4

# A JSON string, or an unterminated one up to the end: always matches at a quote, so the scan stays linear.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNED_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 opens, -1 (as a signed byte) closes


class BodyRefused(ValueError):
    """An inbound body this service will not read; ``message`` says why in words an integrator can act on."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BodyTooLarge(BodyRefused):
    status = 413


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw`` (strings' contents ignored), in linear time, no recursion."""
    brackets = _STRING.sub(b'""', raw).translate(_SIGNED_STEPS, _NOT_BRACKETS)
    return max(accumulate(array("b", brackets)), default=0)


def parse_json(raw: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` as JSON within the limits, or ``BodyRefused``."""
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"the body is larger than {max_bytes} bytes")
    if nesting_depth(raw) > max_depth:
        raise BodyRefused(f"the body nests deeper than {max_depth} levels")
    try:
        # UTF-8 only (RFC 8259): json.loads would also guess UTF-16 and UTF-32, which the depth scan does not read.
        body = json.loads(raw.decode("utf-8"), parse_constant=_not_json, parse_float=_finite, parse_int=_int64)
        if b"\\u" in raw:  # an escaped unpaired surrogate parses to a str that cannot be encoded again
            _encodable(body)
        return body
    except BodyRefused:
        raise
    except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, over-long integers; RecursionError cannot
        # happen after the depth check, but a 500 is never the answer to a body
        raise BodyRefused("the body is not JSON") from None


def parse_object(raw: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    body = parse_json(raw, max_bytes=max_bytes, max_depth=max_depth)
    if not isinstance(body, dict):
        raise BodyRefused("the body must be a JSON object")
    return body


async def read_limited(request: web.Request, max_bytes: int = MAX_BYTES) -> bytes:
    """The raw body, refused before reading when its declared length is over the limit (a chunked body is checked
    as read: aiohttp stops at the application's ``client_max_size``)."""
    if (request.content_length or 0) > max_bytes:
        raise BodyTooLarge(f"the body is larger than {max_bytes} bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(f"the body is larger than {max_bytes} bytes") from None
    if len(raw) > max_bytes:
        raise BodyTooLarge(f"the body is larger than {max_bytes} bytes")
    return raw


async def read_json_object(request: web.Request, *, max_bytes: int = MAX_BYTES,
                           max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The request's body as a JSON object within the limits, or ``BodyRefused``. Call it after authentication."""
    return parse_object(await read_limited(request, max_bytes), max_bytes=max_bytes, max_depth=max_depth)


def _not_json(constant: str) -> Any:
    raise BodyRefused(f"{constant} is not a JSON number")


def _encodable(body: Any) -> None:
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BodyRefused("a string in the body is not valid Unicode (an unpaired surrogate)") from None


def _int64(text: str) -> int:
    number = int(text)
    if not -(2**63) <= number < 2**63:
        raise BodyRefused(f"the number {text[:40]} is larger than 64 bits")
    return number


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BodyRefused(f"the number {text[:40]} is too large")
    return number
