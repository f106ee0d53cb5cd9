"""Signed, expiring links: connect Xero, choose its organisation, replay or create from a deal. Pure: now is given.

A link's query is its fields plus ``expires`` (unix seconds) and ``sig`` = hex HMAC-SHA256 over the purpose and the
fields, so a connect link cannot be replayed as a choose link, nor one company's link edited into another's.
"""

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlencode


def _message(purpose: str, fields: Mapping[str, str], expires: int) -> bytes:
    parts = [purpose, *(f"{name}={fields[name]}" for name in sorted(fields)), f"expires={expires}"]
    return "\n".join(parts).encode()


def signature(key: str, purpose: str, fields: Mapping[str, str], expires: int) -> str:
    return hmac.new(key.encode(), _message(purpose, fields, expires), hashlib.sha256).hexdigest()


def signed_query(key: str, purpose: str, fields: Mapping[str, str], expires: int) -> str:
    return urlencode({**fields, "expires": expires, "sig": signature(key, purpose, fields, expires)})


def verify(key: str, purpose: str, query: Mapping[str, str], names: tuple[str, ...], now: float) -> dict[str, str]:
    """The link's fields when its signature is right and it has not expired; otherwise ``InvalidLink``."""
    fields = {name: query.get(name, "") for name in names}
    try:
        expires = int(query.get("expires", ""))
    except ValueError:
        raise InvalidLink("the link is incomplete") from None
    expected = signature(key, purpose, fields, expires)
    # Compared before anything else is said about the link, and in constant time.
    if not hmac.compare_digest(expected.encode(), query.get("sig", "").encode()) or not all(fields.values()):
        raise InvalidLink("the link is not valid")
    if expires <= now:
        raise InvalidLink("the link has expired; ask for a new one")
    return fields


class InvalidLink(Exception):
    pass
