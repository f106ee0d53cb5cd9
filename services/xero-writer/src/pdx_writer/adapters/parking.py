"""Commands parked while a company's Xero connection is broken. The gateway re-publishes them on reconnect."""

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_common.contracts import CreateInvoice, CreateQuote


class MongoParking:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.parked_commands

    async def park(self, command: CreateInvoice | CreateQuote) -> bool:
        """Park the command; True when it is the deal's first parked command (so the deal hears of it once)."""
        first = await self._col.find_one({"company_id": command.company_id, "deal_id": command.deal_id}) is None
        try:
            await self._col.insert_one({"_id": command.id, "company_id": command.company_id,
                                        "deal_id": command.deal_id, "payload": command.model_dump(mode="json"),
                                        "parked_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return first
