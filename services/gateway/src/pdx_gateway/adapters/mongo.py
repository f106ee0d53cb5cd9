"""The gateway's store: per-company webhook credentials, and the webhook events already published."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Literal

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Claim = Literal["claimed", "published", "busy"]

# Compared against when the company is unknown, so a wrong company id costs the same time as a wrong password.
_DUMMY = hashlib.sha256(b"no such company").hexdigest()


def password_digest(password: str) -> str:
    # The password is a random 32-byte secret we generate, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(password.encode()).hexdigest()


class MongoWebhookCredentials:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.companies

    async def set(self, company_id: str, user: str, password: str) -> None:
        await self._col.update_one({"_id": company_id}, {"$set": {
            "webhook_user": user, "webhook_password_sha256": password_digest(password)}}, upsert=True)

    async def verify(self, company_id: str, user: str, password: str) -> bool:
        doc = await self._col.find_one({"_id": company_id}) or {}
        expected_user = doc.get("webhook_user", "")
        expected_digest = doc.get("webhook_password_sha256", _DUMMY)
        user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
        password_ok = hmac.compare_digest(password_digest(password), expected_digest)
        # A company without stored credentials never authenticates, whatever digest the dummy stands in for.
        return "webhook_password_sha256" in doc and user_ok and password_ok

    async def webhook_id(self, company_id: str) -> int | str | None:
        """The id of the Pipedrive webhook we registered for the company, if any."""
        doc = await self._col.find_one({"_id": company_id}, {"webhook_id": 1}) or {}
        return doc.get("webhook_id")

    async def remember_webhook(self, company_id: str, webhook_id: int | str) -> None:
        await self._col.update_one({"_id": company_id}, {"$set": {"webhook_id": webhook_id}}, upsert=True)

    async def forget(self, company_id: str) -> None:
        await self._col.delete_one({"_id": company_id})


class MongoSeenEvents:
    """Pipedrive event ids and how far their publishing got, so Pipedrive's retries of one event publish it once and
    an event is never called a duplicate before it is durably published.

    A claim is ``publishing`` (with an owner and a lease) until its publish succeeds, then ``published``. A claim
    whose owner died (kill -9 between the claim and the publish) is taken over once its lease has run out.
    """

    def __init__(self, db: AsyncDatabase, lease_seconds: float = 30.0) -> None:
        self._col = db.webhook_events
        self._lease = timedelta(seconds=lease_seconds)

    async def ensure_indexes(self) -> None:
        # Pipedrive retries an event for at most 3 days: a week of memory is plenty, and the collection stays small.
        await self._col.create_index("at", expireAfterSeconds=7 * 86_400)

    async def claim(self, company_id: str, event_id: str, deal_id: str, owner: str) -> Claim:
        """``claimed`` for the delivery that must publish; ``published`` for a retry of a published event;
        ``busy`` while another delivery holds a live claim."""
        key, now = f"{company_id}:{event_id}", datetime.now(UTC)
        try:
            await self._col.insert_one({"_id": key, "deal_id": deal_id, "state": "publishing", "owner": owner,
                                        "lease_until": now + self._lease, "at": now})
            return "claimed"
        except DuplicateKeyError:
            pass
        taken = await self._col.find_one_and_update(
            {"_id": key, "state": "publishing", "lease_until": {"$lt": now}},
            {"$set": {"owner": owner, "lease_until": now + self._lease}})
        if taken is not None:
            return "claimed"
        doc = await self._col.find_one({"_id": key}, {"state": 1})
        if doc is None:  # released between our insert and our read: try again as a first delivery
            return await self.claim(company_id, event_id, deal_id, owner)
        return "published" if doc.get("state", "published") == "published" else "busy"

    async def published(self, company_id: str, event_id: str, owner: str) -> None:
        await self._col.update_one({"_id": f"{company_id}:{event_id}", "owner": owner},
                                   {"$set": {"state": "published"}, "$unset": {"lease_until": ""}})

    async def release(self, company_id: str, event_id: str, owner: str) -> None:
        await self._col.delete_one({"_id": f"{company_id}:{event_id}", "owner": owner, "state": "publishing"})
