"""Xero's numbers on the deal: the pure part (the words, the amount by field type, which document the deal shows,
its pipeline, the one PATCH body, a digest that is the same for the same values), then the write through its ports
with fakes (once per change, values that return to earlier ones written again, a refusal recorded, a passing failure
released for the retry, values seen during a write written after it)."""

import pytest

from pdx_common.company_settings import CompanySettings, DealFieldRef, DealFields, PaidStage
from pdx_common.http import ApiError, ConnectionMissing
from pdx_crmcard.adapters.deal_field_writes import Claim
from pdx_crmcard.deal_numbers import DealNumbers
from pdx_crmcard.domain import deal_numbers
from pdx_crmcard.domain.deal_numbers import digest, headline, pipeline_of, status_words, values

STATUS, DUE, NUMBER, LINK = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)
ALL = DealFields(status=DealFieldRef(key=STATUS), amount_due=DealFieldRef(key=DUE, field_type="monetary"),
                 number=DealFieldRef(key=NUMBER), link=DealFieldRef(key=LINK),
                 paid_stages=(PaidStage(pipeline_id=1, stage_id=5), PaidStage(pipeline_id=2, stage_id=8)))


def doc(**fields) -> dict:
    base = {"kind": "invoice", "xero_id": "inv-1", "number": "INV-0042", "status": "AUTHORISED",
            "date": "2026-11-27", "total": "1725.00", "amount_due": "1725.00", "amount_paid": "0.00",
            "currency": "NZD", "url": "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=inv-1",
            "deal_id": "42", "trigger_id": "p1-s4"}
    return {**base, **fields}


@pytest.mark.parametrize(("kind", "status", "words"), [
    ("invoice", "DRAFT", "Draft"), ("invoice", "SUBMITTED", "Awaiting approval"),
    ("invoice", "AUTHORISED", "Awaiting payment"), ("invoice", "PAID", "Paid"), ("invoice", "VOIDED", "Voided"),
    ("invoice", "DELETED", "Deleted"), ("quote", "DRAFT", "Draft"), ("quote", "SENT", "Sent"),
    ("quote", "ACCEPTED", "Accepted"), ("quote", "DECLINED", "Declined"), ("quote", "INVOICED", "Invoiced"),
    ("quote", "DELETED", "Deleted"),
])
def test_the_status_in_words(kind, status, words) -> None:
    assert status_words(doc(kind=kind, status=status)) == words


@pytest.mark.parametrize(("field_type", "written"), [
    ("double", 1000.5), ("monetary", {"value": 1000.5, "currency": "NZD"}), ("varchar", "NZD 1,000.50"),
    ("text", "NZD 1,000.50"),
])
def test_the_amount_due_takes_the_fields_type(field_type, written) -> None:
    assert deal_numbers.amount(DealFieldRef(key=DUE, field_type=field_type), "1000.50", "NZD") == written


def test_an_unpaid_invoice_fills_the_four_fields_and_moves_nothing() -> None:
    assert values(doc(), ALL) == {"custom_fields": {
        STATUS: "Awaiting payment", DUE: {"value": 1725.0, "currency": "NZD"}, NUMBER: "INV-0042",
        LINK: "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=inv-1"}}


def test_a_paid_invoice_moves_the_deal_to_its_pipelines_paid_stage() -> None:
    paid = values(doc(status="PAID", amount_due="0.00", amount_paid="1725.00"), ALL)
    assert paid["stage_id"] == 5 and paid["custom_fields"][STATUS] == "Paid"
    assert paid["custom_fields"][DUE] == {"value": 0.0, "currency": "NZD"}
    assert values(doc(status="PAID", trigger_id="p2-won"), ALL)["stage_id"] == 8
    assert values(doc(status="PAID", pipeline_id=2, trigger_id="manual-invoice"), ALL)["stage_id"] == 8


@pytest.mark.parametrize("fields", [
    {"status": "PAID", "trigger_id": "manual-invoice"},  # on demand: the pipeline is unknown
    {"status": "PAID", "trigger_id": "p3-s1"},  # a pipeline without a paid stage
    {"status": "AUTHORISED", "amount_paid": "10.00", "amount_due": "1715.00"},  # part paid
    {"kind": "quote", "status": "ACCEPTED", "amount_due": None},
])
def test_no_stage_move_unless_an_invoice_is_paid_in_a_pipeline_with_a_paid_stage(fields) -> None:
    assert "stage_id" not in values(doc(**fields), ALL)


def test_only_the_chosen_fields_are_written_and_nothing_when_none_applies() -> None:
    just_stage = DealFields(paid_stages=(PaidStage(pipeline_id=1, stage_id=5),))
    assert values(doc(), just_stage) == {}
    assert values(doc(status="PAID"), just_stage) == {"stage_id": 5}
    number_only = DealFields(number=DealFieldRef(key=NUMBER))
    assert values(doc(), number_only) == {"custom_fields": {NUMBER: "INV-0042"}}
    assert values(doc(number=None), number_only) == {}


def test_a_quote_has_no_amount_due() -> None:
    written = values(doc(kind="quote", status="SENT", amount_due=None, number="QU-0007"), ALL)["custom_fields"]
    assert written == {STATUS: "Sent", NUMBER: "QU-0007", LINK: doc()["url"]}


def test_the_deal_shows_its_newest_standing_invoice_before_any_quote() -> None:
    quote = doc(kind="quote", xero_id="q", status="INVOICED", date="2026-11-30")
    voided = doc(xero_id="v", status="VOIDED", date="2026-11-29")
    standing = doc(xero_id="s", status="AUTHORISED", date="2026-11-01")
    newer = doc(xero_id="n", status="DRAFT", date="2026-11-02")
    assert headline([quote, voided, standing])["xero_id"] == "s"
    assert headline([quote, voided, standing, newer])["xero_id"] == "n"
    assert headline([quote, voided])["xero_id"] == "v"
    assert headline([quote])["xero_id"] == "q" and headline([]) is None


@pytest.mark.parametrize(("fields", "pipeline"), [
    ({"pipeline_id": 3}, 3), ({"trigger_id": "p12-s40"}, 12), ({"trigger_id": "p2-won@1"}, 2),
    ({"trigger_id": "manual-invoice"}, None), ({"trigger_id": None}, None),
])
def test_the_pipeline_comes_from_the_result_else_the_trigger(fields, pipeline) -> None:
    assert pipeline_of({**doc(), **fields}) == pipeline


def test_the_digest_changes_with_the_values_only() -> None:
    first = digest(values(doc(), ALL))
    assert first == digest(dict(reversed(list(values(doc(), ALL).items()))))
    assert first != digest(values(doc(status="PAID"), ALL))


# --- the write, through its ports with fakes ------------------------------------------------------------------------


class FakeDocs:
    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs

    async def for_deal(self, company_id: str, tenant_id: str, deal_id: str) -> list[dict]:
        return [d for d in self.docs if d.get("deal_id") == deal_id]


class FakeWrites:
    """The store's rules, one deal document each: skip the values the deal has (or is getting), take others, and
    tell a busy writer to look again."""

    def __init__(self) -> None:
        self.deals: dict[str, dict] = {}
        self.failures: list[dict] = []
        self.taken = 0

    async def claim(self, company_id: str, deal_id: str, *, xero_id: str, body: dict, digest: str) -> Claim | None:
        last = self.deals.get(deal_id)
        if last is not None and last["state"] == "writing":
            last["again"] = last["again"] or last["digest"] != digest
            return None
        if last is not None and last["digest"] == digest:
            return None
        self.taken += 1
        claim = Claim(deal_id, f"t{self.taken}", company_id, deal_id, xero_id, body, digest)
        self.deals[deal_id] = {"digest": digest, "state": "writing", "again": False, "token": claim.token}
        return claim

    async def _finish(self, claim: Claim, state: str) -> bool:
        last = self.deals[claim.deal_id]
        assert last["token"] == claim.token
        again, last["again"], last["state"] = last["again"], False, state
        return again

    async def written(self, claim: Claim) -> bool:
        return await self._finish(claim, "written")

    async def refused(self, claim: Claim, reason: str) -> bool:
        self.failures.append({"deal_id": claim.deal_id, "state": "failed", "reason": reason})
        return await self._finish(claim, "refused")

    async def release(self, claim: Claim) -> None:
        self.deals[claim.deal_id].update(state="released", digest=None)


def numbers(docs: list[dict], fails: Exception | None = None, fields: DealFields | None = ALL, during=None):
    """(the writer, what it sent, its store); ``during(body)`` runs while a PATCH is under way."""
    sent: list[tuple[str, str, dict]] = []
    writes = FakeWrites()

    async def settings_of(company_id: str) -> CompanySettings | None:
        return CompanySettings(deal_fields=fields) if fields is not None else None

    async def update_deal(company_id: str, deal_id: str, body: dict) -> None:
        if fails is not None:
            raise fails
        sent.append((company_id, deal_id, body))
        if during is not None:
            await during(body)

    return DealNumbers(settings_of, FakeDocs(docs), writes, update_deal), sent, writes


def ours(**fields) -> dict:
    return doc(company_id="7001", tenant_id="t", **fields)


def statuses(sent: list[tuple[str, str, dict]]) -> list[tuple[str, str, int | None]]:
    return [(deal, body["custom_fields"][STATUS], body.get("stage_id")) for _, deal, body in sent]


async def test_one_write_per_distinct_change_of_what_the_deal_shows() -> None:
    quote = ours(kind="quote", xero_id="q", status="SENT", amount_due=None, number="QU-1")
    invoice = ours()
    writer, sent, writes = numbers([quote, invoice])
    for _ in range(3):
        await writer.tell(invoice)
        await writer.tell(quote)  # the quote's news: the deal still shows its invoice
    invoice["status"] = "PAID"
    await writer.tell(invoice)
    assert statuses(sent) == [("42", "Awaiting payment", None), ("42", "Paid", 5)]
    assert writes.deals["42"]["state"] == "written"


async def test_values_that_return_to_earlier_ones_are_written_again_the_same_news_thrice_once() -> None:
    invoice = ours()
    writer, sent, _ = numbers([invoice])
    for status, due in (("AUTHORISED", "1725.00"), ("PAID", "0.00"), ("AUTHORISED", "1725.00")):  # payment removed
        invoice.update(status=status, amount_due=due)
        for _ in range(3):  # Xero says so three times
            await writer.tell(invoice)
    assert statuses(sent) == [("42", "Awaiting payment", None), ("42", "Paid", 5), ("42", "Awaiting payment", None)]
    assert sent[2][2]["custom_fields"][DUE] == {"value": 1725.0, "currency": "NZD"}


async def test_values_seen_while_a_write_is_under_way_are_written_after_it() -> None:
    invoice = ours()

    async def paid_meanwhile(body: dict) -> None:
        if body["custom_fields"][STATUS] == "Awaiting payment":
            invoice.update(status="PAID", amount_due="0.00")
            await writer.tell(invoice)  # another webhook, while the first PATCH is under way: not written by it

    writer, sent, writes = numbers([invoice], during=paid_meanwhile)
    await writer.tell(invoice)
    assert statuses(sent) == [("42", "Awaiting payment", None), ("42", "Paid", 5)]
    assert writes.deals["42"]["state"] == "written"


async def test_nothing_without_a_deal_or_without_chosen_fields() -> None:
    writer, sent, _ = numbers([ours()], fields=DealFields())
    await writer.tell(ours())
    writer_none, sent_none, _ = numbers([ours()], fields=None)
    await writer_none.tell(ours())
    writer_all, sent_all, _ = numbers([])
    await writer_all.tell(ours(deal_id=None))
    assert sent == sent_none == sent_all == []


async def test_a_refusal_is_recorded_and_not_raised_a_passing_failure_is_released_and_raised() -> None:
    refused = ApiError("pipedrive", 400, {"success": False, "error": "unknown custom fields: ['a...']"}, "u")
    writer, _, writes = numbers([ours()], fails=refused)
    await writer.tell(ours())
    assert writes.failures == [{"deal_id": "42", "state": "failed", "reason": (
        "Pipedrive refused the update of the deal (400): unknown custom fields: ['a...']")}]
    await writer.tell(ours())  # never tried again
    assert len(writes.failures) == 1 and writes.deals["42"]["state"] == "refused"

    for passing in (ApiError("pipedrive", 503, "busy", "u"), ConnectionMissing("pipedrive", "7001"), TimeoutError()):
        writer, _, writes = numbers([ours()], fails=passing)
        with pytest.raises(type(passing)):
            await writer.tell(ours())
        assert writes.deals["42"] == {"digest": None, "state": "released", "again": False, "token": "t1"}
