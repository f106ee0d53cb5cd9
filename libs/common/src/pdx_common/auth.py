"""Checks every service's inbound requests share: constant-time comparisons of presented secrets."""

import hmac
from collections.abc import Callable

from aiohttp import web


def bearer_matches(authorization: str, expected: str) -> bool:
    """True when ``Authorization: Bearer <token>`` carries ``expected`` (compared in constant time)."""
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def bearer_middleware(expected: Callable[[web.Request], str], refuse: Callable[[], Exception]):
    """An aiohttp middleware that lets through only requests bearing ``expected(request)``; others get ``refuse()``
    raised (each service's own 401 in its own error format)."""

    @web.middleware
    async def check(request: web.Request, handler):
        if not bearer_matches(request.headers.get("Authorization", ""), expected(request)):
            raise refuse()
        return await handler(request)

    return check
