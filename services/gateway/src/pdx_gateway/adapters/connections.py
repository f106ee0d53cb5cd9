"""The gateway's reads and changes of stored connections that need no token (status, organisation, removal).

Tokens are written and decrypted only through ``pdx_common.connections.ConnectionStore``; this adapter never
returns them.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from pdx_common.connections import System

_NO_TOKENS = {"access_token": 0, "refresh_token": 0}


class MongoConnections:
    def __init__(self, db: AsyncDatabase) -> None:
        self._col = db.connections

    async def get(self, system: System, company_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": f"{system}:{company_id}"}, _NO_TOKENS)

    async def choose_tenant(self, company_id: str, tenant: dict[str, str], usable: bool) -> bool:
        """Choose one of the connection's organisations; False when it is not one of them."""
        change: dict[str, Any] = {"tenant_id": tenant["tenantId"], "tenant_name": tenant["tenantName"],
                                  "updated_at": datetime.now(UTC)}
        if usable:
            change.update(status="ok", broken_reason=None)
        result = await self._col.update_one({"_id": f"xero:{company_id}", "tenants.tenantId": tenant["tenantId"]},
                                            {"$set": change})
        return result.matched_count == 1

    async def delete(self, system: System, company_id: str) -> None:
        await self._col.delete_one({"_id": f"{system}:{company_id}"})

    async def grant_shared(self, company_id: str, xero_user_id: str | None) -> bool:
        """Whether another company's Xero connection was granted by the same Xero user (a bookkeeper connecting
        several clients): revoking that user's grant would disconnect them too. Unknown user: assume shared."""
        if not xero_user_id:
            return True
        other = await self._col.find_one({"system": "xero", "xero_user_id": xero_user_id,
                                          "company_id": {"$ne": company_id}}, {"_id": 1})
        return other is not None
