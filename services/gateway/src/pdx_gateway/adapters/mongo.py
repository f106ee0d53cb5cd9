"""The gateway's store: per-company webhook credentials, and the webhook events already published."""

import hashlib
import hmac
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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
    """Pipedrive event ids already published, so its retries of one event publish it once."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.webhook_events

    async def ensure_indexes(self) -> None:
        # Pipedrive retries an event for at most 3 days: a week of memory is plenty, and the collection stays small.
        await self._col.create_index("at", expireAfterSeconds=7 * 86_400)

    async def claim(self, company_id: str, event_id: str, deal_id: str) -> bool:
        """True for the first delivery of an event; False for every retry, even one arriving at the same time."""
        try:
            await self._col.insert_one({"_id": f"{company_id}:{event_id}", "deal_id": deal_id,
                                        "at": datetime.now(UTC)})
            return True
        except DuplicateKeyError:
            return False

    async def release(self, company_id: str, event_id: str) -> None:
        await self._col.delete_one({"_id": f"{company_id}:{event_id}"})
