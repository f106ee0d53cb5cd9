"""Checks every service's inbound requests share: constant-time comparisons of presented secrets."""

import hmac


def bearer_matches(authorization: str, expected: str) -> bool:
    """True when ``Authorization: Bearer <token>`` carries ``expected`` (compared in constant time)."""
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
