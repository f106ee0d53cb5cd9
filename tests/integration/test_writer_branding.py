"""The branding theme chosen in the settings reaches Xero: the writer sends ``BrandingThemeID`` on invoices and quotes
to the Xero sandbox, which keeps it on the draft; without one, the draft has none (the organisation's default)."""

import pytest

from pdx_common.http import ApiError
from tests.integration.writer_harness import WriterRig, open_rig, types

FALLBACK_THEME = "dabc7637-62c1-4941-8a6e-ee44fa5090e7"  # Xero's own example id


@pytest.fixture
async def rig(infra, mongo_db, run_id):
    async with open_rig(infra.kafka_bootstrap, mongo_db, run_id) as opened:
        yield opened


async def a_theme(rig: WriterRig) -> str:
    """One of the organisation's branding themes, as the settings app offers them; Xero's example id when the
    sandbox lists none."""
    xero, _ = await rig.xero_for(rig.company_id)
    try:
        themes = (await xero.request("GET", "/BrandingThemes")).get("BrandingThemes") or []
    except ApiError:
        themes = []
    return themes[0]["BrandingThemeID"] if themes else FALLBACK_THEME


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
