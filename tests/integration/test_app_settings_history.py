"""The history section: who changed what and when, newest first, whether through the app or the operators' API; and
each company sees only its own settings and history."""

import aiohttp

from tests.integration.conftest import API_TOKEN
from tests.integration.test_app_settings_support import open_browser, with_values

COMPANY, OTHER = "7004", "7005"
COMPANY_SENTENCES, COMPANY_UNCHANGED = "7006", "7007"


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
    assert page.index("When a deal enters the stage again") < app_at < page.index("Due after (days)")
    assert "<td>14</td><td>30</td>" in page
    assert "Make a new draft every time the deal enters the stage" in page  # the choice in words, not its value
    assert "version" not in page and "operator API" not in page and "<code>" not in page
    assert " UTC</time>" in page  # in the company's time zone (UTC until the company chooses one)


async def test_history_tells_triggers_as_sentences_cuts_long_values_and_shows_local_times(gateway, mongo_db):
    admin = await open_browser(gateway, mongo_db, COMPANY_SENTENCES)
    try:
        form = await admin.form("/app/triggers")
        await admin.post("/app/triggers", with_values(form, triggers__0__pipeline_id="1", triggers__0__stage_id="5",
                                                      timezone="Pacific/Auckland"))
        form = await admin.form("/app/triggers")
        await admin.post("/app/triggers", with_values(form, triggers__1__pipeline_id="1", triggers__1__stage_id="3",
                                                      triggers__1__action="quote"))
        form = await admin.form("/app/triggers")  # remove the first: the second is not "changed" by renumbering
        await admin.post("/app/triggers", with_values(form, triggers__0__remove="true"))
        await admin.post("/app/mappings", with_values(await admin.form("/app/mappings"),
                                                      fields__quote_summary="y" * 1000))
        status, page = await admin.get("/app/history")
    finally:
        await admin.http.close()
    assert status == 200
    page = page.split('id="main"', 1)[1]
    # No Pipedrive here: the pipeline and stage by number, in the sentence the Triggers page shows.
    assert "Added: Deals entering stage 3 in pipeline 1 become a DRAFT quote." in page
    assert "Removed: Deals entering stage 5 in pipeline 1 become a DRAFT invoice." in page
    assert "Changed:" not in page
    assert "y" * 119 + "…" in page and "y" * 121 not in page
    assert "NZDT</time>" in page or "NZST</time>" in page


async def test_a_save_that_changes_nothing_stores_nothing(gateway, mongo_db):
    admin = await open_browser(gateway, mongo_db, COMPANY_UNCHANGED)
    try:
        await admin.post("/app/mappings", with_values(await admin.form("/app/mappings"), fields__due_days="30"))
        before = await admin.settings()
        for path in ("/app/mappings", "/app/rules", "/app/triggers"):
            status, _, location = await admin.post(path, await admin.form(path))
            assert (status, location) == (303, f"{path}?saved=unchanged")
            _, page = await admin.get(location)
            assert "Nothing to save: no setting changed." in page and "✓ Saved." not in page
        assert (await admin.settings())["version"] == before["version"] == 2
        assert await mongo_db.company_settings_history.count_documents({"company_id": COMPANY_UNCHANGED}) == 1
        _, page = await admin.get("/app/history")
        assert "Saved with no change" not in page
    finally:
        await admin.http.close()


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
