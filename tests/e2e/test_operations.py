"""Operating the stack: metrics every service exposes, and SIGTERM in the middle of a burst of deals."""

import asyncio

import aiohttp

from tests.e2e.helpers import create_deal, eventually, invoices, move

SERIES = {
    "gateway": ["pdx_webhooks_total"],
    "mapper": ["pdx_messages_handled_total", "pdx_pipedrive_calls_total", "pdx_consumer_lag"],
    "xero-writer": ["pdx_messages_handled_total", "pdx_xero_calls_total", "pdx_xero_throttled_total",
                    "pdx_consumer_lag"],
    "crm-card": ["pdx_messages_handled_total", "pdx_pipedrive_calls_total", "pdx_panel_latency_seconds"],
    "metering": ["pdx_messages_handled_total"],
}


async def metrics(url: str, token: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            return await resp.text()


async def test_every_service_exposes_the_named_series(stack):
    deal = await create_deal(stack, title="Counted")
    await move(stack, deal["id"], "Won")
    await eventually(lambda: _invoice_count(stack, [deal["id"]]))
    for service, names in SERIES.items():
        text = await metrics(stack.urls[service], stack.api_token)
        for name in names:
            assert f"# TYPE {name.removesuffix('_total')}" in text, f"{service} lacks {name}"
    writer = await metrics(stack.urls["xero-writer"], stack.api_token)
    assert 'pdx_xero_calls_total{status="200"}' in writer and stack.seeded.tenant_id not in writer
    samples = {  # counted, not only declared
        "gateway": 'pdx_webhooks_total{outcome="accepted",source="pipedrive"}',
        "mapper": 'pdx_messages_handled_total{consumer="pdx-mapper",topic="pdx.deal-events"}',
        "xero-writer": 'pdx_messages_handled_total{consumer="pdx-xero-writer",topic="pdx.xero-commands"}',
        "crm-card": 'pdx_messages_handled_total{consumer="pdx-crm-card-activities",topic="pdx.document-results"}',
        "metering": 'pdx_messages_handled_total{consumer="pdx-metering",topic="pdx.document-results"}',
    }
    for service, sample in samples.items():  # the consumers after the writer count a moment later
        await eventually(lambda s=service, m=sample: _has(stack, s, m), timeout=30)


async def _has(stack, service: str, sample: str) -> bool:
    return sample in await metrics(stack.urls[service], stack.api_token)


async def test_sigterm_during_a_burst_of_200_deals_loses_none_and_duplicates_none(stack):
    deals = [await create_deal(stack, title=f"Burst {n}") for n in range(200)]
    ids = [d["id"] for d in deals]
    for start in range(0, 200, 25):
        await asyncio.gather(*(move(stack, deal_id, "Won") for deal_id in ids[start:start + 25]))
    await eventually(lambda: _invoice_count(stack, ids, at_least=10), timeout=120)

    for service in ("mapper", "xero-writer"):  # SIGTERM mid-burst, as a rolling deploy does
        stack.stop_service(service)
    for service in ("mapper", "xero-writer"):
        await stack.start_service(service)

    await eventually(lambda: _invoice_count(stack, ids, at_least=200), timeout=300, every=1.0)
    await asyncio.sleep(3)  # room for a late duplicate to show
    per_deal = await _per_deal(stack, ids)
    assert sorted(per_deal) == sorted(ids) and set(per_deal.values()) == {1}


async def _per_deal(stack, ids: list[int]) -> dict[int, int]:
    wanted, counts = {f"/deal/{i}?" : i for i in ids}, {}
    for invoice in await invoices(stack):
        url = invoice.get("Url") or ""
        for marker, deal_id in wanted.items():
            if marker in url:
                counts[deal_id] = counts.get(deal_id, 0) + 1
    return counts


async def _invoice_count(stack, ids: list[int], at_least: int = 1) -> bool:
    return sum((await _per_deal(stack, ids)).values()) >= at_least
