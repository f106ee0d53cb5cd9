"""The Triggers section's "When a deal is marked won" triggers and its "On demand" choices, on the real store without
Pipedrive or Xero connected (pipelines fall back to numbers): saved, said in a sentence, switched off and removed,
two for one pipeline shown beside the second, and a form from before these choices leaves them as stored."""

import pytest

from tests.integration.test_app_settings_support import field_error, open_browser, with_values

COMPANY = "7001"


@pytest.fixture
async def admin(gateway, mongo_db):
    browser = await open_browser(gateway, mongo_db, COMPANY)
    yield browser
    await browser.http.close()


async def test_an_admin_adds_a_won_trigger_and_chooses_what_salespeople_may_create(admin):
    form = await admin.form("/app/triggers")
    status, _, location = await admin.post("/app/triggers", with_values(
        form, won_triggers__0__pipeline_id="1", won_triggers__0__action="quote", on_demand__quote="false",
        on_demand__more_than_once="true"))
    assert (status, location) == (303, "/app/triggers?saved=1")
    stored = await admin.settings()
    assert stored["won_triggers"] == [{"pipeline_id": 1, "action": "quote", "enabled": True}]
    assert stored["on_demand"] == {"invoice": True, "quote": False, "more_than_once": True}
    assert stored["triggers"] == []  # the stage triggers' empty "add" row adds none

    status, page = await admin.get(location)
    assert status == 200 and "✓ Saved." in page
    assert "Deals marked won in <em>pipeline 1</em> become a DRAFT quote" in " ".join(page.split())
    assert 'name="on_demand.quote" type="checkbox" value="true" aria-describedby' in page  # unticked: no "checked"
    assert 'name="on_demand.more_than_once" type="checkbox" value="true" checked' in page


async def test_each_on_demand_choice_says_what_it_means(admin):
    _, page = await admin.get("/app/triggers")
    for words in ("Salespeople may create a draft invoice from a deal",
                  "Salespeople may create a draft quote from a deal", "Allow more than one per deal",
                  "is refused and names it",
                  "every confirmed request makes a new draft", "When a deal is marked won",
                  "No pipeline makes a draft when a deal is marked won"):
        assert words in page, words


async def test_a_won_trigger_is_switched_off_and_removed(admin):
    await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"), won_triggers__0__pipeline_id="2"))
    form = await admin.form("/app/triggers")
    status, _, _ = await admin.post("/app/triggers", with_values(form, won_triggers__0__enabled="false"))
    assert status == 303 and (await admin.settings())["won_triggers"][0]["enabled"] is False
    _, page = await admin.get("/app/triggers")
    assert "Switched off: deals marked won in <em>pipeline 2</em> make nothing." in " ".join(page.split())

    status, _, _ = await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"),
                                                                 won_triggers__0__remove="true"))
    assert status == 303 and (await admin.settings())["won_triggers"] == []


async def test_two_won_triggers_for_one_pipeline_are_shown_beside_the_second_and_nothing_is_saved(admin):
    await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"), won_triggers__0__pipeline_id="1"))
    status, page, _ = await admin.post("/app/triggers", with_values(
        await admin.form("/app/triggers"), won_triggers__1__pipeline_id="1", won_triggers__1__action="quote"))
    assert status == 400
    assert "already has a \"deal marked won\" trigger above" in field_error(page, "won_triggers.1.pipeline_id")
    assert "has two" not in page and "Nothing was saved" in page
    assert "Add a won trigger · Pipeline" not in page  # the row is shown as a trigger of its own, kept as typed
    assert len((await admin.settings())["won_triggers"]) == 1


async def test_a_bad_pipeline_is_shown_beside_its_field(admin):
    status, page, _ = await admin.post("/app/triggers", with_values(
        await admin.form("/app/triggers"), won_triggers__0__pipeline_id="0"))
    assert status == 400 and field_error(page, "won_triggers.0.pipeline_id") == "Must be more than 0"
    assert "Won trigger 1 · Pipeline" in page  # the error summary names the field
    assert await admin.settings() == {}


async def test_a_form_from_before_these_choices_leaves_them_as_stored(admin):
    await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"), won_triggers__0__pipeline_id="1",
                                                  on_demand__invoice="false"))
    older = [(name, value) for name, value in await admin.form("/app/triggers")
             if not name.startswith(("won_triggers.", "on_demand."))]
    status, _, _ = await admin.post("/app/triggers", with_values(older, on_reentry="new_draft"))
    assert status == 303
    stored = await admin.settings()
    assert stored["on_reentry"] == "new_draft" and stored["won_triggers"][0]["pipeline_id"] == 1
    assert stored["on_demand"]["invoice"] is False


async def test_a_non_admin_sees_the_won_triggers_and_on_demand_read_only(gateway, mongo_db, admin):
    await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"), won_triggers__0__pipeline_id="1"))
    viewer = await open_browser(gateway, mongo_db, COMPANY, admin=False, user_id="12002", user_name="Sam Seller")
    try:
        status, page = await viewer.get("/app/triggers")
    finally:
        await viewer.http.close()
    assert status == 200 and "Add a won trigger" not in page and "Deals marked won in" in page
    assert 'name="on_demand.invoice" type="checkbox" value="true" checked aria-describedby' in page
    assert page.count(" disabled>") >= 3


async def test_a_won_trigger_making_what_a_stage_of_its_pipeline_makes_is_refused_beside_its_document(admin):
    """A deal moved into that stage and marked won would get two invoices for one sale."""
    await admin.post("/app/triggers", with_values(
        await admin.form("/app/triggers"), triggers__0__pipeline_id="1", triggers__0__stage_id="5",
        triggers__0__action="invoice"))
    status, page, _ = await admin.post("/app/triggers", with_values(
        await admin.form("/app/triggers"), won_triggers__0__pipeline_id="1", won_triggers__0__action="invoice"))
    assert status == 400 and "Nothing was saved" in page
    assert "would get two invoices" in field_error(page, "won_triggers.0.action")
    assert (await admin.settings())["won_triggers"] == []

    status, _, _ = await admin.post("/app/triggers", with_values(
        await admin.form("/app/triggers"), won_triggers__0__pipeline_id="1", won_triggers__0__action="quote"))
    assert status == 303  # a quote at the stage's side is another document: allowed
