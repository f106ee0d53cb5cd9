"""The settings app's preview: the draft the settings would make for a deal, from the engine's own mapping, or the
problem a person can act on; it reads the deal and writes nothing."""

from datetime import date

import aiohttp
import pytest

from pdx_common.contracts import CreateInvoice, CreateQuote
from pdx_common.http import ApiError, ConnectionMissing
from pdx_mapper.domain.mapping import DealSnapshot, MappingProblem
from pdx_mapper.preview import DraftPreview, preview_draft
from tests.unit.deals import deal, item, settings, snap

TODAY = date(2026, 11, 30)
THEME = "dabc7637-62c1-4941-8a6e-ee44fa5090e7"
WON = snap(deal(42, "Kiwi rollout", 1200, "NZD", pipeline_id=3, stage_id=9),
           item("Brand workshop", "WS-1", 1, 1200, comments="2 days", description="Facilitated workshop"))


class FakeReader:
    """Answers one deal, or raises what Pipedrive would; records every read (and has nothing to write with)."""

    def __init__(self, answer: DealSnapshot | Exception) -> None:
        self.answer, self.reads = answer, []

    async def read(self, company_id: str, deal_id: str) -> DealSnapshot:
        self.reads.append((company_id, deal_id))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def preview(answer, deal_id="42", action="invoice", company=None) -> tuple[DraftPreview, FakeReader]:
    reader = FakeReader(answer)
    return await preview_draft(reader, "7001", deal_id, company or settings(), action, TODAY), reader


@pytest.mark.parametrize(("action", "kind"), [("invoice", CreateInvoice), ("quote", CreateQuote)])
async def test_a_deal_previews_as_the_draft_the_engine_would_send(action, kind):
    company = settings(products={"description_from": "product_description"},
                       money={"account_by_pipeline": {"3": "210"}}, fields={"branding_theme_id": THEME})
    result, reader = await preview(WON, action=action, company=company)
    assert result.problem is None and isinstance(result.command, kind)
    command = result.command
    assert reader.reads == [("7001", "42")]
    assert (command.company_id, command.deal_id, command.trigger_id, command.date) == ("7001", "42", "p3-s9", TODAY)
    assert [(li.description, li.account_code) for li in command.line_items] == [("Facilitated workshop", "210")]
    assert command.branding_theme_id == THEME and command.settings_version == company.version
    assert command.deal_url == "https://acme.pipedrive.com/deal/42"


async def test_the_preview_ignores_whether_a_trigger_is_set_for_the_deals_stage():
    # Deal in pipeline 3, stage 9: no trigger there (the fixtures' triggers are p1-s5 and p2-s7), still previewed.
    result, _ = await preview(WON, action="quote")
    assert isinstance(result.command, CreateQuote) and result.command.title == "Kiwi rollout"


async def test_a_deal_that_cannot_map_comes_back_as_its_problem_not_an_exception():
    no_currency = snap(deal(42, "Kiwi rollout", 1200, None), item("Brand workshop", "WS-1", 1, 1200))
    result, _ = await preview(no_currency)
    assert result.command is None and isinstance(result.problem, MappingProblem)
    assert (result.problem.code, result.problem.message) == ("no_currency", "The deal has no currency.")
    assert "currency" in result.problem.fix


async def test_a_deal_without_a_stage_still_previews():
    loose = snap(deal(42, "Kiwi rollout", 1200, "NZD", pipeline_id=None, stage_id=None))
    result, _ = await preview(loose)
    assert result.problem is None and result.command.line_items[0].description == "Kiwi rollout"


@pytest.mark.parametrize(("raised", "code", "says", "fix_says"), [
    (ConnectionMissing("pipedrive", "7001"), "pipedrive_not_connected", "Pipedrive is not connected", "reconnect"),
    (ConnectionMissing("pipedrive", "7001", "disconnected (Pipedrive refused our access)"),
     "pipedrive_not_connected", "Pipedrive is disconnected", "reconnect"),
    (ApiError("pipedrive", 404, {"success": False}, "https://x/api/v2/deals/42"), "deal_not_found",
     "Pipedrive has no deal 42", "another deal"),
    (ApiError("pipedrive", 503, "busy", "https://x/api/v2/deals/42"), "pipedrive_unavailable", "503", "again"),
    (aiohttp.ClientConnectionError("refused"), "pipedrive_unavailable", "did not answer", "again"),
    (TimeoutError(), "pipedrive_unavailable", "did not answer", "again"),
])
async def test_pipedrive_trouble_comes_back_as_a_problem_in_plain_words(raised, code, says, fix_says):
    result, _ = await preview(raised)
    assert result.command is None and result.problem.code == code
    assert says in result.problem.message and fix_says in result.problem.fix
    for sentence in (result.problem.message, result.problem.fix):
        assert sentence[0].isupper() and sentence.endswith(".")


@pytest.mark.parametrize("deal_id", ["", "abc", "0", "-4", "42/../../users", "4 2", "1" * 30])
async def test_something_that_is_not_a_deal_number_is_refused_before_reading_pipedrive(deal_id):
    result, reader = await preview(WON, deal_id=deal_id)
    assert reader.reads == [] and result.command is None and result.problem.code == "not_a_deal_id"


async def test_a_deal_number_with_spaces_around_it_is_read():
    result, reader = await preview(WON, deal_id=" 42 ")
    assert reader.reads == [("7001", "42")] and result.command is not None
