"""Each (deal, trigger)'s last outcome: newer outcomes win, and nothing that arrives late un-makes a draft."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentSkipped
from pdx_crmcard.adapters.deal_status import MongoDealStatus

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)


def failed(at: datetime, trigger: str | None = "p1-s5") -> DocumentFailed:
    return DocumentFailed(company_id="7", deal_id="9", trigger_id=trigger, stage="mapping", code="no_customer",
                          message="The deal has no customer.", fix="Link one.", occurred_at=at)


def created(at: datetime) -> DocumentCreated:
    return DocumentCreated(company_id="7", deal_id="9", command_id="c", trigger_id="p1-s5", kind="invoice",
                           tenant_id="t", xero_id="x", number="INV-1", total=Decimal("10"), currency_code="NZD",
                           status="DRAFT", xero_url="u", contact_name="Kiwi", occurred_at=at)


async def states(mongo_db) -> list[tuple[str | None, str]]:
    return [(d["trigger_id"], d["state"]) async for d in mongo_db.deal_status.find({}).sort("_id")]


async def test_a_failure_arriving_after_the_draft_changes_nothing_and_is_not_told(mongo_db):
    status = MongoDealStatus(mongo_db)
    assert await status.record(failed(T0))
    assert await status.record(created(T0 + timedelta(seconds=5)))
    assert not await status.record(failed(T0 + timedelta(seconds=9)))  # an old event's mapping, arriving late
    assert await states(mongo_db) == [("p1-s5", "created")]


async def test_a_skip_after_the_draft_is_told_and_the_deal_stays_created(mongo_db):
    status = MongoDealStatus(mongo_db)
    await status.record(created(T0))
    skip = DocumentSkipped(company_id="7", deal_id="9", trigger_id="p1-s5", source_event_id="e2", reason="again",
                           occurred_at=T0 + timedelta(seconds=1))
    assert await status.record(skip)
    assert await states(mongo_db) == [("p1-s5", "created")]


async def test_an_older_outcome_never_replaces_a_newer_one(mongo_db):
    status = MongoDealStatus(mongo_db)
    await status.record(created(T0 + timedelta(seconds=5)))
    await status.record(failed(T0))
    assert await states(mongo_db) == [("p1-s5", "created")]


async def test_a_failure_racing_the_draft_never_overwrites_it(mongo_db):
    status = MongoDealStatus(mongo_db)
    late_failure = failed(T0 + timedelta(seconds=9))
    real_find_one = status._col.find_one  # noqa: SLF001

    async def draft_lands_meanwhile(*args, **kwargs):
        found = await real_find_one(*args, **kwargs)  # the check sees no draft yet...
        await MongoDealStatus(mongo_db).record(created(T0 + timedelta(seconds=5)))  # ...which another replica writes
        status._col.find_one = real_find_one  # noqa: SLF001
        return found

    status._col.find_one = draft_lands_meanwhile  # noqa: SLF001
    assert not await status.record(late_failure)
    assert await states(mongo_db) == [("p1-s5", "created")]
