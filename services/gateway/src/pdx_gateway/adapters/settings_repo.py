"""Company settings in MongoDB: versioned, validated before they are stored, with a history of every change."""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pdx_common.company_settings import CompanySettings, stored_settings


class VersionConflict(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(f"the settings are at version {current}")
        self.current = current


class MongoSettingsStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.company_settings
        self._history = db.company_settings_history

    async def get(self, company_id: str) -> CompanySettings:
        doc = await self._col.find_one({"_id": company_id})
        if doc is None:
            return CompanySettings(version=1)
        return stored_settings(doc)

    async def replace(self, company_id: str, new: CompanySettings, expected_version: int) -> CompanySettings:
        """Store ``new`` as version ``expected_version + 1``, only if the stored version is still the expected one."""
        stored = new.model_copy(update={"version": expected_version + 1})
        doc: dict[str, Any] = {**stored.model_dump(mode="json"), "updated_at": datetime.now(UTC)}
        if await self._col.find_one({"_id": company_id}, {"_id": 1}) is None:
            if expected_version != 1:
                raise VersionConflict(1)
            await self._col.insert_one({"_id": company_id, **doc})
        else:
            result = await self._col.replace_one({"_id": company_id, "version": expected_version}, doc)
            if result.matched_count == 0:
                raise VersionConflict((await self.get(company_id)).version)
        await self._history.insert_one({"company_id": company_id, **doc})
        return stored

    async def create_default(self, company_id: str) -> bool:
        """Store the default settings (no triggers) unless the company has settings; True when they were stored."""
        doc = {**CompanySettings().model_dump(mode="json"), "updated_at": datetime.now(UTC)}
        try:
            await self._col.insert_one({"_id": company_id, **doc})
        except DuplicateKeyError:
            return False
        await self._history.insert_one({"company_id": company_id, **doc})
        return True

    async def delete(self, company_id: str) -> None:
        await self._col.delete_one({"_id": company_id})
        await self._history.delete_many({"company_id": company_id})
