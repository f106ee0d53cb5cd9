"""The sync log says what happened to a draft since it was made: updated in place by a Replay, or left untouched by
one (it was approved in Xero), from the outcomes the crm-card records."""

import uuid
from datetime import timedelta
from decimal import Decimal

from pdx_common.contracts import DocumentSkipped, DocumentUpdated
from pdx_crmcard.adapters.deal_status import MongoDealStatus
from tests.integration.test_app_log_usage import T0, created, seed_company, stack, words  # noqa: F401 (fixture)


async def test_a_replayed_draft_says_it_was_updated_then_left_untouched(stack):  # noqa: F811
    s = stack
    await seed_company(s, s.a)
    status = MongoDealStatus(s.db)
    first = created(s.a, "41", T0, f"INV-{s.a.mark}")
    await status.record(DocumentUpdated(**{**first.model_dump(exclude={"id", "type", "occurred_at"}),
                                           "total": Decimal("400.00")}, occurred_at=T0 + timedelta(days=1)))
    async with s.browser(s.a) as browser:
        _, page = await browser.get("/app/log?state=created")
    assert "Since then: Updated in place by a Replay. (21 Nov 2026, 22:30 NZDT)" in words(page)
    assert f"Draft invoice INV-{s.a.mark}, 400.00 NZD" in words(page)

    reason = (f"Invoice INV-{s.a.mark} is approved in Xero (awaiting payment), so Replay left it untouched: an "
              "approved invoice is changed in Xero itself.")
    await status.record(DocumentSkipped(company_id=s.a.id, deal_id="41", trigger_id="p1-s5", reason=reason,
                                        source_event_id=uuid.uuid4().hex, occurred_at=T0 + timedelta(days=2)))
    await status.record(DocumentSkipped(company_id=s.a.id, deal_id="41", trigger_id="p1-s5", reason="older",
                                        source_event_id=uuid.uuid4().hex, occurred_at=T0 + timedelta(hours=1)))
    async with s.browser(s.a) as browser:
        _, page = await browser.get("/app/log?state=created")
    assert f"Since then: {reason} (22 Nov 2026, 22:30 NZDT)" in words(page)
    assert "older" not in words(page)
