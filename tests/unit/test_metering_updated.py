"""A Replay's DocumentUpdated is the same draft again: the metering consumer reads it off the results topic and
never bills it."""

from decimal import Decimal

from structlog.testing import capture_logs

from pdx_common.contracts import RESULT, DocumentCreated, DocumentUpdated
from pdx_metering.domain.usage import BillableDraft
from pdx_metering.handlers import meter_result

FACTS = {"company_id": "7001", "deal_id": "42", "command_id": "c1", "trigger_id": "won-invoice", "kind": "invoice",
         "tenant_id": "tenant-1", "xero_id": "inv-1", "number": "INV-0001", "total": Decimal("100"),
         "currency_code": "NZD", "status": "DRAFT", "xero_url": "https://go.xero.com/x", "contact_name": "Kowhai"}


class FakeDrafts:
    def __init__(self) -> None:
        self.records: dict[str, BillableDraft] = {}

    async def record(self, draft: BillableDraft) -> bool:
        new = draft.xero_id not in self.records
        self.records.setdefault(draft.xero_id, draft)
        return new


async def test_an_updated_draft_is_read_and_never_billed() -> None:
    drafts = FakeDrafts()
    wire = DocumentUpdated(**{**FACTS, "command_id": "c2", "total": Decimal("250")}).model_dump(mode="json")
    updated = RESULT.validate_python(wire)  # as the consumer reads it
    assert isinstance(updated, DocumentUpdated) and not isinstance(updated, DocumentCreated)
    with capture_logs() as logs:
        assert await meter_result(updated, drafts=drafts) is False
        assert await meter_result(DocumentCreated(**FACTS), drafts=drafts) is True
        assert await meter_result(updated, drafts=drafts) is False
    assert list(drafts.records) == ["inv-1"]
    assert not [entry for entry in logs if entry["log_level"] in ("error", "warning")]
