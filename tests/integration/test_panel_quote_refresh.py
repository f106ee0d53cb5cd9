"""Xero sends no quote events: the scheduled refresh re-reads open quotes within a per-organisation budget and
tells the deal when a quote we created is accepted (once)."""

from pdx_sandbox.xero import NZ_TENANT_ID
from tests.integration.test_panel_rig import AROHA, PERSON_AROHA, CardRig, open_card


async def set_quote_status(rig: CardRig, quote_id: str, status: str) -> None:
    await rig.xero_client().request("POST", f"/Quotes/{quote_id}", json={"Quotes": [{"Status": status}]})


def quote_calls(rig: CardRig, since: int) -> int:
    return len([r for r in rig.xero.requests[since:] if r.path == "/api.xro/2.0/Quotes" and r.method == "GET"])


async def test_an_accepted_quote_is_told_to_its_deal_once(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, quote_refresh_calls=1) as rig:
        kiwi = await rig.draft(5, kind="quote")
        aroha = await rig.draft(7, AROHA, kind="quote")
        await set_quote_status(rig, kiwi["QuoteID"], "ACCEPTED")
        await set_quote_status(rig, aroha["QuoteID"], "DECLINED")
        refresher, mark = rig.res.quote_refresher, len(rig.xero.requests)

        assert await refresher.round() == 1  # the budget: one call for this organisation this round
        assert quote_calls(rig, mark) == 1
        assert await refresher.round() == 0  # not due again before quote_refresh_seconds
        await rig.db.xero_refresh_marks.delete_many({"_id": {"$regex": "^quotes:"}})  # the next hour
        assert await refresher.round() == 1
        await rig.db.xero_refresh_marks.delete_many({"_id": {"$regex": "^quotes:"}})
        assert await refresher.round() == 0  # no open quotes left
        _, panel = await rig.panel("person", PERSON_AROHA)

    assert [a["subject"] for a in rig.activities(5)][1:] == [f"Quote {kiwi['QuoteNumber']} accepted"]
    assert [a["subject"] for a in rig.activities(7)][1:] == [f"Quote {aroha['QuoteNumber']} declined"]
    shown = next(o for o in panel["data"] if o["id"] == aroha["QuoteID"])
    assert shown["status"] == {"color": "red", "label": "Declined"}
    assert panel["data"][0]["open_quotes"] == 0
    assert NZ_TENANT_ID == rig.tenant_id
