"""A company's settings as the gateway stored them (``company_settings``, written by the settings app), read only:
its time zone for the panel's "overdue", whether drafts create missing Xero contacts (the panel's "Not in Xero yet"),
and which deal fields get Xero's numbers."""

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.company_settings import CompanySettings, stored_settings


class MongoCompanySettings:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.company_settings

    async def of(self, company_id: str) -> CompanySettings | None:
        """None: the company saved no settings yet."""
        doc = await self._col.find_one({"_id": company_id})
        return stored_settings(doc) if doc else None

    async def timezone(self, company_id: str) -> str:
        settings = await self.of(company_id)
        return settings.timezone if settings else "UTC"

    async def creates_contacts(self, company_id: str) -> bool:
        """``customer.create_missing`` (on unless the company switched it off)."""
        settings = await self.of(company_id)
        return settings.customer.create_missing if settings else True
