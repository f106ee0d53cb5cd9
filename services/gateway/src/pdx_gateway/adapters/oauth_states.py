"""OAuth ``state`` values in MongoDB (collection ``oauth_states``): random, single use, expiring.

``{"_id": <state>, "flow": "pipedrive" | "xero" | "deal-login", "expires_at": ..., ...}``; a Xero state also holds
the company id and the PKCE code verifier; a ``deal-login`` state (a salesperson signing in with Pipedrive to a deal's
link, pdx_gateway.deal_actions.identity) the link's company id and address. A TTL index clears what was never used.
"""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

DEAL_LOGIN = "deal-login"


class MongoOAuthStates:
    def __init__(self, db: AsyncDatabase, ttl_seconds: int) -> None:
        self._col = db.oauth_states
        self._ttl = timedelta(seconds=ttl_seconds)

    async def ensure_indexes(self) -> None:
        await self._col.create_index("expires_at", expireAfterSeconds=0)

    async def create(self, flow: str, lifetime_seconds: float | None = None, **data: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        ttl = self._ttl if lifetime_seconds is None else timedelta(seconds=lifetime_seconds)
        await self._col.insert_one({"_id": state, "flow": flow, "created_at": now, "expires_at": now + ttl, **data})
        return state

    async def consume(self, flow: str, state: str) -> dict[str, Any] | None:
        """The state's document, deleted in the same step so a replay finds nothing; None if unknown or expired."""
        if not state:
            return None
        return await self._col.find_one_and_delete(
            {"_id": state, "flow": flow, "expires_at": {"$gt": datetime.now(UTC)}})
