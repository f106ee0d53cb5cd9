"""Company settings in MongoDB: versioned, validated before they are stored, with a history of every change.

A history entry (collection ``company_settings_history``) is the stored document as it became, plus who changed it
and what changed: ``{"company_id": "7001", "version": 3, ..., "updated_at": datetime,
"changed_by": {"user_id": "12", "name": "Ann Admin"}, "changes": [{"path": "fields.due_days", "old": 14, "new": 30}]}``.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
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

    async def replace(self, company_id: str, new: CompanySettings, expected_version: int, *,
                      changed_by: dict[str, Any] | None = None,
                      changes: list[dict[str, Any]] | None = None) -> CompanySettings:
        """Store ``new`` as version ``expected_version + 1``, only if the stored version is still the expected one.
        ``changed_by`` and ``changes`` go to the history entry only (``pdx_gateway.settings_changes`` makes them)."""
        stored = new.model_copy(update={"version": expected_version + 1})
        doc: dict[str, Any] = {**stored.model_dump(mode="json"), "updated_at": datetime.now(UTC)}
        if await self._col.find_one({"_id": company_id}, {"_id": 1}) is None:
            if expected_version != 1:
                raise VersionConflict(1)
            try:
                await self._col.insert_one({"_id": company_id, **doc})
            except DuplicateKeyError:  # a first save at the same moment won
                raise VersionConflict((await self.get(company_id)).version) from None
        else:
            result = await self._col.replace_one({"_id": company_id, "version": expected_version}, doc)
            if result.matched_count == 0:
                raise VersionConflict((await self.get(company_id)).version)
        await self._history.insert_one({"company_id": company_id, **doc, "changed_by": changed_by,
                                        "changes": changes if changes is not None else []})
        return stored

    async def history(self, company_id: str, limit: int = 100, *, documents: bool = False) -> list[dict[str, Any]]:
        """The company's changes, newest first: ``version``, ``updated_at``, ``changed_by``, ``changes`` (and, with
        ``documents``, the whole settings document as that change left it)."""
        fields = {"_id": 0} if documents else {"_id": 0, "version": 1, "updated_at": 1, "changed_by": 1, "changes": 1}
        cursor = self._history.find({"company_id": company_id}, fields)
        return await cursor.sort([("updated_at", DESCENDING), ("version", DESCENDING)]).limit(limit).to_list()

    async def ensure_indexes(self) -> None:
        await self._history.create_index([("company_id", 1), ("updated_at", DESCENDING)])

    async def create_default(self, company_id: str) -> bool:
        """Store the default settings (no triggers) unless the company has settings; True when they were stored."""
        doc = {**CompanySettings().model_dump(mode="json"), "updated_at": datetime.now(UTC)}
        try:
            await self._col.insert_one({"_id": company_id, **doc})
        except DuplicateKeyError:
            return False
        await self._history.insert_one({"company_id": company_id, **doc, "changed_by": None, "changes": []})
        return True

    async def delete(self, company_id: str) -> None:
        await self._col.delete_one({"_id": company_id})
        await self._history.delete_many({"company_id": company_id})
