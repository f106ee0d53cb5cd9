"""Each deal's last stage event (the one a replay re-publishes), and the deals whose last outcome was a failure."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.contracts import DealChanged


class MongoDealEvents:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.deal_stage_events
        self._status = db.deal_status  # written by the crm-card's results consumer

    async def remember_stage_event(self, event: DealChanged) -> None:
        await self._col.replace_one({"_id": f"{event.company_id}:{event.deal_id}"},
                                    event.model_dump(mode="json"), upsert=True)

    async def last_stage_event(self, company_id: str, deal_id: str) -> DealChanged | None:
        doc = await self._col.find_one({"_id": f"{company_id}:{deal_id}"})
        if doc is None:
            return None
        doc.pop("_id")
        return DealChanged.model_validate(doc)

    async def failed_deals(self, company_id: str) -> list[str]:
        cursor = self._status.find({"company_id": company_id, "state": "failed"}, {"deal_id": 1})
        return sorted({doc["deal_id"] async for doc in cursor}, key=lambda d: (len(d), d))

    async def status(self, company_id: str, deal_id: str) -> list[dict[str, Any]]:
        cursor = self._status.find({"company_id": company_id, "deal_id": deal_id}, {"_id": 0})
        return [doc async for doc in cursor]
