"""Xero's validation messages become what is wrong and how to fix it, never the raw message alone."""

import pytest

from pdx_writer.domain.explain import explain

CASES = [
    ("The TaxType code 'OUTPUT9' does not exist or cannot be used for this type of transaction.", "unknown_tax_type",
     "OUTPUT9", "money.tax_types"),
    ("Account code '999' is not a valid code for this document.", "unknown_account", "999", "sales_account_code"),
    ("Account must be valid.", "unknown_account", "sales account", "sales_account_code"),
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
