from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.company_settings import CompanySettings, stored_settings


class MongoSettingsRepository:
    """Reads a company's settings; a company with none has no triggers, so nothing fires."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.company_settings

    async def get(self, company_id: str) -> CompanySettings:
        doc = await self._col.find_one({"_id": company_id})
        if doc is None:
            return CompanySettings()
        return stored_settings(doc)
