"""Commands the xero-writer parked while a company's Xero connection was broken (collection ``parked_commands``).

``{"_id": <command id>, "company_id": "7001", "deal_id": "42", "payload": {<CreateInvoice|CreateQuote>},
"parked_at": datetime}``
"""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


class MongoParkedCommands:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.parked_commands

    async def of_company(self, company_id: str) -> list[dict[str, Any]]:
        cursor = self._col.find({"company_id": company_id}).sort([("parked_at", 1), ("_id", 1)])
        return [doc async for doc in cursor]

    async def remove(self, command_id: str) -> None:
        await self._col.delete_one({"_id": command_id})
