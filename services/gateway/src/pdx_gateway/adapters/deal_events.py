"""Each deal's newest stage event (by Pipedrive's own timestamps, never by arrival), and each trigger's last
outcome (written by the crm-card's results consumer), which replays read."""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_common.contracts import DealChanged

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def happened_at(event: DealChanged) -> datetime:
    """When the change happened in Pipedrive: the webhook's timestamp, else the deal's own update time."""
    if event.event_timestamp is not None:
        return event.event_timestamp if event.event_timestamp.tzinfo else event.event_timestamp.replace(tzinfo=UTC)
    raw = (event.data or {}).get("update_time")
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        parsed = None
    if parsed is None:
        return EPOCH
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class MongoDealEvents:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.deal_stage_events
        self._status = db.deal_status  # written by the crm-card's results consumer

    async def remember_stage_event(self, event: DealChanged) -> None:
        """Keeps the newer of the stored and this event: Pipedrive's retries (3, 30, 150 s) often deliver an older
        event after a newer one, and the late one must not replace it."""
        at = happened_at(event)
        try:
            await self._col.replace_one(
                {"_id": f"{event.company_id}:{event.deal_id}",
                 "$or": [{"happened_at": {"$lte": at}}, {"happened_at": {"$exists": False}}]},
                {"event": event.model_dump(mode="json"), "happened_at": at}, upsert=True)
        except DuplicateKeyError:
            return  # a newer stage event is stored

    async def last_stage_event(self, company_id: str, deal_id: str) -> DealChanged | None:
        doc = await self._col.find_one({"_id": f"{company_id}:{deal_id}"})
        if doc is None:
            return None
        stored = doc.get("event") or {k: v for k, v in doc.items() if k not in ("_id", "happened_at")}
        return DealChanged.model_validate(stored)

    async def failed_triggers(self, company_id: str, deal_id: str) -> list[str | None]:
        """The triggers of the deal whose last outcome is a failure (None: failed before a trigger was known)."""
        cursor = self._status.find({"company_id": company_id, "deal_id": deal_id, "state": "failed"},
                                   {"trigger_id": 1})
        return sorted({doc.get("trigger_id") async for doc in cursor}, key=lambda t: (t is None, t or ""))

    async def created_triggers(self, company_id: str, deal_id: str) -> list[str]:
        """The triggers of the deal whose last outcome is a draft made (a Replay regenerates them in place)."""
        cursor = self._status.find({"company_id": company_id, "deal_id": deal_id, "state": "created",
                                    "trigger_id": {"$type": "string"}}, {"trigger_id": 1})
        return sorted({doc["trigger_id"] async for doc in cursor})

    async def failed_deals(self, company_id: str) -> list[str]:
        cursor = self._status.find({"company_id": company_id, "state": "failed"}, {"deal_id": 1})
        return sorted({doc["deal_id"] async for doc in cursor}, key=lambda d: (len(d), d))

    async def status(self, company_id: str, deal_id: str) -> list[dict[str, Any]]:
        """Each of the deal's triggers' last outcome (state, trigger_id, kind, number, message, ...)."""
        cursor = self._status.find({"company_id": company_id, "deal_id": deal_id}, {"_id": 0})
        return [doc async for doc in cursor]
