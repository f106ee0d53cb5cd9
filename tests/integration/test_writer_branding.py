"""The branding theme chosen in the settings reaches Xero: the writer sends ``BrandingThemeID`` on invoices and quotes
to the Xero sandbox, which keeps it on the draft; without one, the draft has none (the organisation's default); a
theme Xero does not have is a failure that names the setting to change."""

import uuid

import pytest

from tests.integration.writer_harness import WriterRig, open_rig, types


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


async def a_theme(rig: WriterRig) -> str:
    """One of the organisation's branding themes, as the settings app offers them (GET /BrandingThemes)."""
    xero, _ = await rig.xero_for(rig.company_id)
    themes = (await xero.request("GET", "/BrandingThemes"))["BrandingThemes"]
    assert themes, "the Xero sandbox's organisation has branding themes"
    return themes[-1]["BrandingThemeID"]  # not the default (first): a choice that shows


@pytest.mark.parametrize("kind", ["invoice", "quote"])
async def test_the_branding_theme_reaches_xero_on_invoices_and_quotes(rig: WriterRig, kind: str) -> None:
    theme = await a_theme(rig)
    build, stored, resource = ((rig.invoice, rig.invoices, "Invoices") if kind == "invoice"
                               else (rig.quote, rig.quotes, "Quotes"))
    mark = rig.mark()
    await rig.writer().execute(build("4301", branding_theme_id=theme))
    await rig.writer().execute(build("4302"))

    sent = [doc for call in rig.calls("PUT", resource, mark) for doc in call.json[resource]]
    assert [doc.get("BrandingThemeID") for doc in sent] == [theme, None]
    kept = [doc.get("BrandingThemeID") for doc in stored()]  # what Xero holds on the two drafts
    assert len(kept) == 2 and kept.count(theme) == 1 and kept.count(None) == 1
    assert types(await rig.results()) == ["DocumentCreated", "DocumentCreated"]


async def test_a_theme_xero_does_not_have_is_explained_and_a_fixed_replay_succeeds(rig: WriterRig) -> None:
    gone = str(uuid.uuid4())  # a theme deleted in Xero since it was chosen
    first = rig.invoice(branding_theme_id=gone)
    writer = rig.writer()
    await writer.execute(first)

    assert rig.invoices() == [] and (await rig.ledger_entry(first))["state"] == "failed"
    fixed = rig.invoice(branding_theme_id=None)
    await writer.execute(fixed)

    [invoice] = rig.invoices()
    assert invoice.get("BrandingThemeID") is None
    failed, created = await rig.results()
    assert (failed["type"], failed["code"], failed["command_id"]) == ("DocumentFailed", "unknown_branding_theme",
                                                                      first.id)
    assert gone in failed["message"] and "Field mappings > Branding theme" in failed["fix"]
    assert (created["type"], created["command_id"]) == ("DocumentCreated", fixed.id)
