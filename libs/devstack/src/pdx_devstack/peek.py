"""Looking into the sandboxes as a user would: Xero's API with the company's stored token, Pipedrive's activities."""

from typing import Any

import aiohttp

from pdx_common.connections import ConnectionStore
from pdx_common.crypto import TokenCipher
from pdx_common.mongo import connect_mongo


async def xero_get(*, mongo_url: str, mongo_db: str, token_key: str, company_id: str, xero_url: str, path: str,
                   params: dict[str, str] | None = None) -> dict[str, Any]:
    client = connect_mongo(mongo_url)
    try:
        store = ConnectionStore(client[mongo_db], TokenCipher(token_key))
        doc = await store.get("xero", company_id)
        if doc is None:
            raise RuntimeError(f"company {company_id} has no Xero connection")
        token = store.decrypt(doc, "access_token")
    finally:
        await client.close()
    headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": doc["tenant_id"], "Accept": "application/json"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{xero_url}/api.xro/2.0{path}", headers=headers, params=params) as resp:
            return await resp.json()


async def sandbox_get(base_url: str, path: str, params: dict[str, str] | None = None) -> Any:
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}{path}", params=params) as resp:
        body = await resp.json()
        return body.get("data", body) if isinstance(body, dict) else body


async def sandbox_post(base_url: str, path: str, body: dict[str, Any]) -> Any:
    async with aiohttp.ClientSession() as session, session.post(f"{base_url}{path}", json=body) as resp:
        answer = await resp.json()
        if resp.status >= 300:
            raise RuntimeError(f"{path} answered {resp.status}: {answer}")
        return answer.get("data", answer) if isinstance(answer, dict) else answer
