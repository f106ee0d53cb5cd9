"""The usage store on the real store: a draft is recorded once even when its results race each other."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from pdx_metering.adapters.usage_store import MongoUsageStore
from pdx_metering.domain.usage import BillableDraft, MonthUsage

DRAFT = BillableDraft(company_id="7001", tenant_id="tenant-1", xero_id="inv-1", kind="invoice", month="2026-11",
                      deal_id="42", trigger_id="won-invoice", number="INV-0001", result_id="r1",
                      occurred_at=datetime(2026, 11, 27, tzinfo=UTC))


async def test_racing_results_record_one_draft(mongo_db) -> None:
    store = MongoUsageStore(mongo_db)
    await store.ensure_indexes()
    outcomes = await asyncio.gather(*(store.record(replace(DRAFT, result_id=f"r{i}")) for i in range(8)))
    assert sorted(outcomes) == [False] * 7 + [True]
    assert await store.usage("7001") == [MonthUsage("2026-11", 1, 1, 0)]


async def test_a_late_republish_keeps_the_first_month(mongo_db) -> None:
    store = MongoUsageStore(mongo_db)
    assert await store.record(DRAFT) is True
    assert await store.record(replace(DRAFT, month="2026-12", result_id="r2")) is False
    assert await store.usage("7001") == [MonthUsage("2026-11", 1, 1, 0)]
    assert await store.usage("7001", "2026-12") == []
