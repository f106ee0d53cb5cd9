"""Metering's pure parts and its API with a fake store: month bucketing, which results bill, auth, the table."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError
from structlog.testing import capture_logs

from pdx_common.contracts import DocumentCreated, DocumentFailed, DocumentParked, DocumentSkipped
from pdx_metering.cli import parser, table
from pdx_metering.domain.usage import BillableDraft, InvalidMonth, MonthUsage, billable, month_of, month_range
from pdx_metering.entrypoints.api import create_api
from pdx_metering.errors import BadRequest, MeteringError, Unauthorized, error_response
from pdx_metering.handlers import meter_result
from pdx_metering.keys import SETTINGS, USAGE
from pdx_metering.settings import MeteringSettings

TOKEN = "unit-test-token-0123456789abcdef"
NZ = timezone(timedelta(hours=13))


def created(xero_id: str = "inv-1", kind: str = "invoice", at: datetime = datetime(2026, 11, 27, 9, tzinfo=UTC),
            **fields) -> DocumentCreated:
    return DocumentCreated(company_id="7001", deal_id="42", command_id="c1", trigger_id="won-invoice", kind=kind,
                           tenant_id="tenant-1", xero_id=xero_id, number="INV-0001", total=Decimal("100"),
                           currency_code="NZD", status="DRAFT", xero_url="https://go.xero.com/x",
                           contact_name="Kowhai", occurred_at=at, **fields)


@pytest.mark.parametrize(("moment", "month"), [
    (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), "2026-11"),
    (datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), "2026-11"),
    (datetime(2026, 12, 1, 5, 0, tzinfo=NZ), "2026-11"),  # still November in UTC
    (datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "2027-01"),
    (datetime(2026, 1, 1, 0, 0), "2026-01"),  # no zone: taken as UTC
])
def test_month_is_the_utc_month(moment: datetime, month: str) -> None:
    assert month_of(moment) == month


@pytest.mark.parametrize(("first", "last"), [("2026-01", "2026-12"), ("2026-05", "2026-05"), (None, "2026-02"),
                                             ("2026-02", None), (None, None)])
def test_valid_month_ranges(first: str | None, last: str | None) -> None:
    assert month_range(first, last) == (first, last)


@pytest.mark.parametrize(("first", "last"), [("2026-13", None), ("2026-00", None), ("2026-1", None),
                                             (None, "26-01"), ("2026-01-01", None), ("", None), ("2026-12", "2026-01"),
                                             (" 2026-01", None), ("2026-01\n", None)])
def test_invalid_month_ranges(first: str | None, last: str | None) -> None:
    with pytest.raises(InvalidMonth):
        month_range(first, last)


def test_billable_draft_is_keyed_by_the_xero_document() -> None:
    draft = billable(created(kind="quote", at=datetime(2026, 12, 1, 1, tzinfo=NZ)))
    assert (draft.company_id, draft.tenant_id, draft.xero_id, draft.kind, draft.month) == \
        ("7001", "tenant-1", "inv-1", "quote", "2026-11")


class FakeDrafts:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str], BillableDraft] = {}

    async def record(self, draft: BillableDraft) -> bool:
        key = (draft.company_id, draft.tenant_id, draft.xero_id)
        new = key not in self.records
        self.records.setdefault(key, draft)
        return new

    async def usage(self, company_id: str, first: str | None = None, last: str | None = None) -> list[MonthUsage]:
        self.asked = (company_id, first, last)
        return [MonthUsage("2026-11", 3, 2, 1)]


async def test_a_created_document_bills_once_however_often_it_arrives() -> None:
    drafts = FakeDrafts()
    event = created()
    with capture_logs() as logs:
        outcomes = [await meter_result(event, drafts=drafts), await meter_result(event, drafts=drafts),
                    await meter_result(created(), drafts=drafts)]  # re-published with a new message id
    assert outcomes == [True, False, False] and len(drafts.records) == 1
    assert not [entry for entry in logs if entry["log_level"] == "error"]


@pytest.mark.parametrize("result", [
    DocumentFailed(company_id="7001", deal_id="42", stage="xero", code="x", message="m", fix="f"),
    DocumentSkipped(company_id="7001", deal_id="42", trigger_id="t", source_event_id="e", reason="r"),
    DocumentParked(company_id="7001", deal_id="42", command_id="c", trigger_id="t", kind="invoice", reason="r"),
])
async def test_failed_skipped_and_parked_results_never_bill(result) -> None:
    drafts = FakeDrafts()
    assert await meter_result(result, drafts=drafts) is False
    assert drafts.records == {}


@pytest.mark.parametrize(("error", "status", "code"), [
    (Unauthorized("no"), 401, "unauthorized"), (BadRequest("bad"), 400, "bad_request"),
    (MeteringError("boom"), 500, "internal_error"),
])
def test_error_table(error: MeteringError, status: int, code: str) -> None:
    response = error_response(error)
    assert response.status == status and code in response.text


@pytest.fixture
async def api():
    drafts = FakeDrafts()
    app = web.Application()
    app[SETTINGS] = MeteringSettings(api_token=TOKEN)
    app[USAGE] = drafts
    app.add_subapp("/api", create_api())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, drafts


@pytest.mark.parametrize("header", [None, "", f"Basic {TOKEN}", "Bearer wrong-token", f"Bearer {TOKEN}x", "Bearer"])
async def test_the_api_needs_the_token(api, header: str | None) -> None:
    client, _ = api
    resp = await client.get("/api/companies/7001/usage", headers={"Authorization": header} if header else {})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized" and "Bearer" in resp.headers["WWW-Authenticate"]


async def test_usage_answers_with_months(api) -> None:
    client, drafts = api
    resp = await client.get("/api/companies/7001/usage?from=2026-01&to=2026-12",
                            headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200
    assert await resp.json() == {"company_id": "7001",
                                 "months": [{"month": "2026-11", "drafts": 3, "invoices": 2, "quotes": 1}]}
    assert drafts.asked == ("7001", "2026-01", "2026-12")


@pytest.mark.parametrize("query", ["from=2026-13", "to=nov", "from=2026-12&to=2026-01", "from="])
async def test_bad_months_are_400(api, query: str) -> None:
    client, _ = api
    resp = await client.get(f"/api/companies/7001/usage?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_request"


def test_settings_refuse_a_short_token_without_echoing_it(monkeypatch) -> None:
    monkeypatch.setenv("PDX_METERING_API_TOKEN", "short-secret")
    with pytest.raises(ValidationError) as info:
        MeteringSettings()
    assert "short-secret" not in str(info.value)


def test_settings_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PDX_METERING_API_TOKEN", TOKEN)
    monkeypatch.setenv("PDX_METERING_PORT", "9999")
    monkeypatch.setenv("PDX_METERING_MONGO_DB", "billing")
    settings = MeteringSettings()
    assert (settings.port, settings.mongo_db, settings.api_token.get_secret_value()) == (9999, "billing", TOKEN)


def test_table_has_a_total_row() -> None:
    text = table([{"month": "2026-10", "drafts": 1, "invoices": 1, "quotes": 0},
                  {"month": "2026-11", "drafts": 12, "invoices": 10, "quotes": 2}])
    assert [line.split() for line in text.splitlines()] == [
        ["month", "drafts", "invoices", "quotes"], ["2026-10", "1", "1", "0"], ["2026-11", "12", "10", "2"],
        ["total", "13", "11", "2"]]


def test_table_without_drafts() -> None:
    assert table([]).splitlines()[1].split() == ["(none)", "0", "0", "0"]


@pytest.mark.parametrize("argv", [["--json", "usage", "--company", "7"], ["usage", "--company", "7", "--json"]])
def test_cli_json_flag_before_or_after_the_command(argv: list[str]) -> None:
    assert parser().parse_args(argv).json is True


def test_cli_reads_url_and_token_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PDX_METERING_URL", "http://metering:8084")
    monkeypatch.setenv("PDX_API_TOKEN", TOKEN)
    args = parser().parse_args(["usage", "--company", "7", "--from", "2026-01"])
    assert (args.url, args.token, args.first, args.last, args.json) == ("http://metering:8084", TOKEN, "2026-01",
                                                                        None, False)
