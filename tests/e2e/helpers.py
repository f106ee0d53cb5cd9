import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from pdx_devstack.peek import sandbox_get, sandbox_post
from pdx_devstack.stack import Stack


async def eventually(probe: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, every: float = 0.25) -> Any:
    """The probe's first truthy answer; the last answer is in the assertion message when time runs out."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"nothing came within {timeout}s; last answer: {last!r}")


async def invoices(stack: Stack) -> list[dict]:
    """The organisation's invoices as the Xero sandbox holds them (its control API: polling it spends none of the
    organisation's 60 calls a minute)."""
    assert stack.seeded
    return await sandbox_get(stack.urls["xero"], f"/_sandbox/tenants/{stack.seeded.tenant_id}/invoices")


async def invoices_for_deal(stack: Stack, deal_id: int) -> list[dict]:
    return [i for i in await invoices(stack) if f"/deal/{deal_id}?" in (i.get("Url") or "")]


async def activities(stack: Stack, deal_id: int) -> list[dict]:
    return await sandbox_get(stack.urls["pipedrive"], "/_sandbox/activities", {"deal_id": str(deal_id)})


async def create_deal(stack: Stack, **fields: Any) -> dict:
    body = {"title": "E2E deal", "currency": "NZD", "stage": "Negotiations Started", "org_id": 101,
            "person_id": 201, "products": [{"product_id": 301, "quantity": 3, "item_price": 150, "tax": 15,
                                            "tax_method": "exclusive"}], **fields}
    return await sandbox_post(stack.urls["pipedrive"], "/_sandbox/deals", body)


async def move(stack: Stack, deal_id: int, stage: str) -> dict:
    return await sandbox_post(stack.urls["pipedrive"], f"/_sandbox/deals/{deal_id}/move", {"stage": stage})


async def events_for(stack: Stack, deal_id: int) -> list[dict]:
    """Webhook events the sandbox sent for the deal: ``{"id": meta.id, "body": {"meta", "data", "previous"}}``."""
    return [e for e in await sandbox_get(stack.urls["pipedrive"], "/_sandbox/events")
            if str(e["body"]["meta"]["entity_id"]) == str(deal_id)]


async def quotes(stack: Stack) -> list[dict]:
    assert stack.seeded
    return await sandbox_get(stack.urls["xero"], f"/_sandbox/tenants/{stack.seeded.tenant_id}/quotes")


async def edit_deal(stack: Stack, deal_id: int, **changes: Any) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.patch(f"{stack.urls['pipedrive']}/_sandbox/deals/{deal_id}", json=changes) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["data"]


async def admin(stack: Stack, *args: str) -> tuple[int, Any]:
    """The admin CLI, as an operator runs it, against the stack's gateway."""
    assert stack.seeded
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pdx_gateway.cli", "--url", stack.urls["gateway"], f"--token={stack.api_token}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, json.loads(out) if out.strip() else err.decode()


def subjects(activity_list: list[dict]) -> list[str]:
    return [a["subject"] for a in activity_list]
