"""Xero's validation messages become what is wrong and how to fix it, never the raw message alone."""

import re

import pytest

from pdx_writer.domain.explain import RULES, explain

CASES = [
    ("The TaxType code 'OUTPUT9' does not exist or cannot be used for this type of transaction.", "unknown_tax_type",
     "OUTPUT9", "Customers, products & money > Tax rates"),
    ("Account code '999' is not a valid code for this document.", "unknown_account", "999", "as the Sales account"),
    ("Account must be valid.", "unknown_account", "sales account", "Account per product"),
    ("Item code 'GHOST-1' is not valid.", "unknown_item", "GHOST-1", "product code"),
    ("Organisation is not subscribed to currency JPY", "currency_not_enabled", "JPY", "Currencies"),
    ("A Contact must be specified for this type of transaction", "unknown_contact", "customer", "organisation"),
    ("The contact with ContactID 'abc' could not be found.", "unknown_contact", "customer", "replay"),
    ("The contact name Acme is already assigned to another contact. The contact name must be unique across all "
     "active contacts.", "duplicate_contact_name", "name", "Merge or rename"),
    ("Something nobody has seen before", "xero_rejected", "Something nobody has seen before", "replay"),
]


IDS = [c[1] + ":" + c[0][:30] for c in CASES]


@pytest.mark.parametrize(("xero_says", "code", "in_message", "in_fix"), CASES, ids=IDS)
def test_each_xero_message_is_explained_with_a_fix(xero_says, code, in_message, in_fix):
    explanation = explain([xero_says])
    assert explanation.code == code
    assert in_message in explanation.message
    assert in_fix in explanation.fix
    assert xero_says in explanation.message  # quoted, so support can match it to Xero's docs


SETTING_PATH = re.compile(r"\b(?:money|fields|products|customer|triggers)\.[a-z_]|\bon_reentry\b|app settings")


@pytest.mark.parametrize(("code", "message", "fix"), [rule[1:] for rule in RULES], ids=[rule[1] for rule in RULES])
def test_a_fix_names_the_settings_by_the_labels_the_admin_sees(code, message, fix):
    for sentence in (message, fix):
        assert not SETTING_PATH.search(sentence), sentence
    if "app's settings" in fix:
        assert "(Pipedrive: Settings > Apps > Xero drafts)" in fix
