"""The branding theme reaches Xero: ``BrandingThemeID`` on invoices and quotes when the settings name one, as
Xero's spec names the field on both; nothing when they don't (the organisation's default theme)."""

import pytest

from pdx_common.contracts import COMMAND
from pdx_writer.domain.explain import explain
from tests.unit.test_xero_payloads import as_sent, body, command, spec_errors

THEME = "dabc7637-62c1-4941-8a6e-ee44fa5090e7"


@pytest.mark.parametrize(("kind", "collection"), [("invoice", "Invoices"), ("quote", "Quotes")])
@pytest.mark.parametrize(("theme", "sent"), [(THEME, THEME), (None, None)])
def test_the_branding_theme_is_sent_on_invoices_and_quotes(kind, collection, theme, sent):
    payload = as_sent(body(command(kind, branding_theme_id=theme)))
    assert spec_errors(collection, payload) == []
    assert payload[collection][0].get("BrandingThemeID") == sent


def test_xero_refusing_the_branding_theme_is_explained_with_the_setting_to_change():
    explanation = explain(["Branding Theme ID 'dabc7637' is not valid."])
    assert explanation.code == "unknown_branding_theme"
    assert "branding theme" in explanation.message and "Field mappings > Branding theme" in explanation.fix


@pytest.mark.parametrize("kind", ["invoice", "quote"])
def test_a_command_without_a_theme_is_written_as_before_so_the_previous_writer_still_reads_it(kind):
    plain = command(kind)
    assert "branding_theme_id" not in plain.model_dump(mode="json")
    assert "branding_theme_id" not in plain.model_dump_json()
    assert COMMAND.validate_json(plain.model_dump_json()) == plain
    themed = command(kind, branding_theme_id=THEME)
    assert themed.model_dump(mode="json")["branding_theme_id"] == THEME
    assert COMMAND.validate_json(themed.model_dump_json()) == themed
