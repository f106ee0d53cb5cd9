"""A backfill's dry run tells the admin to check again after a fix, never to replay a deal that was never tried."""

from pdx_gateway.app_ui.backfill import checked_again


def test_the_engines_replay_advice_becomes_check_again():
    assert checked_again("Link an organisation or a person to the deal in Pipedrive, then replay the deal.") == \
        "Link an organisation or a person to the deal in Pipedrive, then press Check again on this page."


def test_other_advice_is_kept():
    assert checked_again("Enable NZD under Settings > Currencies in Xero.") == \
        "Enable NZD under Settings > Currencies in Xero."
    assert checked_again(None) is None
