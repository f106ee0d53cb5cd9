"""The gateway's store: per-company webhook credentials and webhook ids, and the webhook events already published."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Claim = Literal["claimed", "published", "busy"]

# Compared against when the company is unknown, so a wrong company id costs the same time as a wrong password.
_DUMMY = hashlib.sha256(b"no such company").hexdigest()


def password_digest(password: str) -> str:
    # The password is a random 32-byte secret we generate, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(password.encode()).hexdigest()


class MongoWebhookCredentials:
    """One document per installed company (collection ``companies``): the Basic credentials its four webhooks (deal,
    person, organization, product) share, and the webhooks' ids::

        {"_id": "7001", "webhook_user": "pdx-...", "webhook_password_sha256": "...",
         "webhook_id": 11,                                      # the deal webhook (as before issue 12)
         "webhook_ids": {"deal": 11, "person": 12, "organization": 13, "product": 14},
         "previous_credentials": [{"user": ..., "password_sha256": ..., "until": datetime | None}],  # rotating
         "retired_webhook_ids": [7],                            # replaced, still to delete in Pipedrive
         "webhooks_lease": {"owner": ..., "until": datetime},   # one gateway at a time changes the webhooks
         "webhooks_state": {"ok": False, "reason": "Pipedrive refused ... (403)", "at": datetime}}  # the last try
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.companies

    async def set(self, company_id: str, user: str, password: str) -> None:
        """New credentials; the old ones stop working at once (an install)."""
        await self._col.update_one({"_id": company_id}, {"$set": {
            "webhook_user": user, "webhook_password_sha256": password_digest(password)},
            "$unset": {"previous_credentials": ""}}, upsert=True)

    async def rotate(self, company_id: str, user: str, password: str, retire: list[int | str]) -> bool:
        """New credentials while the old ones keep working: the webhooks in ``retire`` (still using them) are to be
        deleted, and ``settle`` gives the old credentials their last hours once they are. False when the company is
        gone (uninstalled meanwhile)."""
        doc = await self._col.find_one({"_id": company_id})
        if doc is None:
            return False
        previous = [p for p in doc.get("previous_credentials") or [] if _live(p, datetime.now(UTC))]
        if "webhook_password_sha256" in doc:
            previous.append({"user": doc.get("webhook_user", ""), "password_sha256": doc["webhook_password_sha256"],
                             "until": None})
        result = await self._col.update_one({"_id": company_id}, {
            "$set": {"webhook_user": user, "webhook_password_sha256": password_digest(password),
                     "previous_credentials": previous},
            "$addToSet": {"retired_webhook_ids": {"$each": list(retire)}},
            "$unset": {"webhook_ids": "", "webhook_id": ""}})
        return result.matched_count == 1

    async def settle(self, company_id: str, grace: timedelta) -> None:
        """The replaced webhooks are deleted: their credentials keep working ``grace`` longer (Pipedrive retries a
        delivery minutes later), then never again."""
        doc = await self._col.find_one({"_id": company_id}, {"previous_credentials": 1, "retired_webhook_ids": 1})
        if not doc or doc.get("retired_webhook_ids") or not doc.get("previous_credentials"):
            return
        now = datetime.now(UTC)
        previous = [{**p, "until": p["until"] or now + grace} for p in doc["previous_credentials"] if _live(p, now)]
        await self._col.update_one({"_id": company_id, "retired_webhook_ids.0": {"$exists": False}},
                                   {"$set": {"previous_credentials": previous}})

    async def verify(self, company_id: str, user: str, password: str) -> bool:
        doc = await self._col.find_one({"_id": company_id}) or {}
        now = datetime.now(UTC)
        accepted = [(doc.get("webhook_user", ""), doc.get("webhook_password_sha256", _DUMMY))]
        accepted += [(p.get("user", ""), p.get("password_sha256", _DUMMY))
                     for p in doc.get("previous_credentials") or [] if _live(p, now)]
        digest, ok = password_digest(password), False
        for expected_user, expected_digest in accepted:  # every set compared, so timing tells nothing
            user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
            password_ok = hmac.compare_digest(digest, expected_digest)
            ok |= user_ok and password_ok
        # A company without stored credentials never authenticates, whatever digest the dummy stands in for.
        return "webhook_password_sha256" in doc and ok

    async def installed(self, company_id: str) -> bool:
        return await self._col.find_one({"_id": company_id, "webhook_user": {"$exists": True}}, {"_id": 1}) is not None

    async def webhook_id(self, company_id: str) -> int | str | None:
        """The id of the Pipedrive deal webhook we registered for the company, if any."""
        return (await self.webhook_ids(company_id)).get("deal")

    async def webhook_ids(self, company_id: str) -> dict[str, int | str]:
        """``{entity: webhook id}`` of the company's current webhooks (a company installed before issue 12 has
        only ``{"deal": ...}``)."""
        doc = await self._col.find_one({"_id": company_id}, {"webhook_id": 1, "webhook_ids": 1}) or {}
        ids = dict(doc.get("webhook_ids") or {})
        if "deal" not in ids and doc.get("webhook_id") is not None:
            ids["deal"] = doc["webhook_id"]
        return ids

    async def retired(self, company_id: str) -> list[int | str]:
        doc = await self._col.find_one({"_id": company_id}, {"retired_webhook_ids": 1}) or {}
        return list(doc.get("retired_webhook_ids") or [])

    async def remember_webhook(self, company_id: str, webhook_id: int | str, entity: str = "deal") -> None:
        fields: dict[str, int | str] = {f"webhook_ids.{entity}": webhook_id}
        if entity == "deal":
            fields["webhook_id"] = webhook_id
        await self._col.update_one({"_id": company_id}, {"$set": fields})

    async def retire(self, company_id: str, webhook_ids: list[int | str]) -> None:
        """Webhooks about to be deleted (remembered until they are, so a crash leaves none behind)."""
        await self._col.update_one({"_id": company_id}, {"$addToSet": {"retired_webhook_ids": {"$each": webhook_ids}},
                                                         "$unset": {"webhook_ids": "", "webhook_id": ""}})

    async def note_webhooks(self, company_id: str, reason: str | None) -> None:
        """How the last registration (or check) of the company's webhooks went: ``reason`` None when it worked."""
        await self._col.update_one({"_id": company_id, "webhook_user": {"$exists": True}}, {"$set": {
            "webhooks_state": {"ok": reason is None, "reason": reason, "at": datetime.now(UTC)}}})

    async def webhooks_state(self, company_id: str) -> dict[str, Any] | None:
        """``{"ok", "reason", "at"}`` of the last registration or check; None when not installed or never noted
        (companies installed before it was noted)."""
        doc = await self._col.find_one({"_id": company_id, "webhook_user": {"$exists": True}},
                                       {"webhooks_state": 1})
        return None if doc is None else (doc.get("webhooks_state") or {})

    async def deleted(self, company_id: str, webhook_id: int | str) -> None:
        await self._col.update_one({"_id": company_id}, {"$pull": {"retired_webhook_ids": webhook_id}})

    async def lacking_webhooks(self, entities: tuple[str, ...]) -> list[str]:
        """Installed companies missing one of ``entities``' webhooks, or with replaced ones still to delete."""
        missing: list[dict[str, Any]] = [{f"webhook_ids.{e}": {"$exists": False}} for e in entities]
        missing.append({"retired_webhook_ids.0": {"$exists": True}})
        query = {"webhook_user": {"$exists": True}, "$or": missing}
        return [doc["_id"] async for doc in self._col.find(query, {"_id": 1}).sort("_id", 1)]

    async def take_webhooks_lease(self, company_id: str, owner: str, seconds: float, *, create: bool = False) -> bool:
        """One gateway at a time changes a company's webhooks; a dead one's lease lapses. ``create``: also for a
        company not stored yet (its first install)."""
        now = datetime.now(UTC)
        query: dict[str, Any] = {"_id": company_id, "$or": [{"webhooks_lease": None},
                                                            {"webhooks_lease.until": {"$lt": now}},
                                                            {"webhooks_lease.owner": owner}]}
        if not create:
            query["webhook_user"] = {"$exists": True}
        lease = {"$set": {"webhooks_lease": {"owner": owner, "until": now + timedelta(seconds=seconds)}}}
        try:
            taken = await self._col.find_one_and_update(query, lease, {"_id": 1}, upsert=create)
        except DuplicateKeyError:  # stored, and leased by another
            return False
        return create or taken is not None

    async def release_webhooks_lease(self, company_id: str, owner: str) -> None:
        await self._col.update_one({"_id": company_id, "webhooks_lease.owner": owner},
                                   {"$unset": {"webhooks_lease": ""}})

    async def forget(self, company_id: str) -> None:
        await self._col.delete_one({"_id": company_id})


def _live(previous: dict[str, Any], now: datetime) -> bool:
    """Old credentials work while a webhook may still use them (``until`` None), then until ``until``."""
    until = previous.get("until")
    return until is None or (until.replace(tzinfo=UTC) if until.tzinfo is None else until) > now


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


class MongoRecordSyncs:
    """The xero-writer's last outcome per synced customer or product (collection ``record_syncs``, ``_id`` =
    ``<company>:<tenant>:<contact|item>:<key>``, the same key as its link), read for the operators' links list."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.record_syncs

    async def of(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        return {doc["_id"]: doc async for doc in self._col.find({"_id": {"$in": ids}})}
