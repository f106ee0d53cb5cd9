"""The history section: who changed what and when, newest first, whether through the app or the operators' API; and
each company sees only its own settings and history."""

import aiohttp

from tests.integration.conftest import API_TOKEN
from tests.integration.test_app_settings_support import open_browser, with_values

COMPANY, OTHER = "7004", "7005"


async def test_history_shows_app_and_api_changes_newest_first_with_who_and_what(gateway, mongo_db):
    admin = await open_browser(gateway, mongo_db, COMPANY)
    try:
        await admin.post("/app/mappings", with_values(await admin.form("/app/mappings"), fields__due_days="30"))
        async with aiohttp.ClientSession() as http:
            async with http.patch(admin.url(f"/api/companies/{COMPANY}/settings"),
                                  json={"version": 2, "on_reentry": "new_draft"},
                                  headers={"Authorization": f"Bearer {API_TOKEN}"}) as resp:
                assert resp.status == 200
        status, page = await admin.get("/app/history")
    finally:
        await admin.http.close()
    assert status == 200
    page = page.split('id="main"', 1)[1]  # the header names the viewer too
    api_at, app_at = page.index("Our support team"), page.index("Ann Admin")
    assert api_at < app_at  # newest first
    assert page.index("<code>on_reentry</code>") < app_at < page.index("<code>fields.due_days</code>")
    assert "<td>14</td><td>30</td>" in page


async def test_a_session_sees_and_changes_only_its_own_company(gateway, mongo_db):
    ours = await open_browser(gateway, mongo_db, COMPANY)
    theirs = await open_browser(gateway, mongo_db, OTHER, user_id="99001", user_name="Other Admin")
    try:
        await theirs.post("/app/mappings", with_values(await theirs.form("/app/mappings"),
                                                       fields__reference="Secret {deal.id}"))
        status, page = await ours.get("/app/mappings")
        assert status == 200 and "Secret {deal.id}" not in page
        assert "Other Admin" not in (await ours.get("/app/history"))[1]
        # A form naming the other company's version still saves only to the session's own company.
        await ours.post("/app/mappings", with_values(await ours.form("/app/mappings"), fields__reference="Ours"))
    finally:
        await ours.http.close()
        await theirs.http.close()
    other = await mongo_db.company_settings.find_one({"_id": OTHER})
    assert other["fields"]["reference"] == "Secret {deal.id}" and other["version"] == 2
    assert (await mongo_db.company_settings.find_one({"_id": COMPANY}))["fields"]["reference"] == "Ours"
