"""The triggers section on the real store, without Pipedrive or Xero connected (pickers fall back to numbers):
saving, errors beside the field with nothing saved, a stale form refused, non-admins refused, history records who."""

import pytest

from tests.integration.test_app_settings_support import field_error, open_browser, with_values

COMPANY = "7001"


@pytest.fixture
async def admin(gateway, mongo_db):
    browser = await open_browser(gateway, mongo_db, COMPANY)
    yield browser
    await browser.http.close()


async def test_an_admin_adds_a_trigger_and_the_page_says_what_it_does(admin):
    form = await admin.form("/app/triggers")
    status, _, location = await admin.post("/app/triggers", with_values(
        form, triggers__0__pipeline_id="1", triggers__0__stage_id="5", triggers__0__action="quote",
        timezone="Pacific/Auckland"))
    assert (status, location) == (303, "/app/triggers?saved=1")
    stored = await admin.settings()
    assert stored["version"] == 2 and stored["timezone"] == "Pacific/Auckland"
    assert stored["triggers"] == [{"pipeline_id": 1, "stage_id": 5, "action": "quote", "enabled": True}]
    status, page = await admin.get(location)
    assert status == 200 and "✓ Saved." in page
    assert "become a DRAFT quote" in page and "once Xero is connected" in page
    assert "Reconnect Pipedrive under Connections" in page  # no Pipedrive here: numbers, and why


async def test_a_trigger_is_switched_off_and_removed(admin):
    form = await admin.form("/app/triggers")
    await admin.post("/app/triggers", with_values(form, triggers__0__pipeline_id="1", triggers__0__stage_id="5"))
    form = await admin.form("/app/triggers")
    off = [(n, v) for n, v in form if not (n == "triggers.0.enabled" and v == "true")]
    status, _, _ = await admin.post("/app/triggers", off)
    assert status == 303
    assert (await admin.settings())["triggers"][0]["enabled"] is False
    assert "Switched off" in (await admin.get("/app/triggers"))[1]
    status, _, _ = await admin.post("/app/triggers", [*await admin.form("/app/triggers"),
                                                      ("triggers.0.remove", "true")])
    assert status == 303 and (await admin.settings())["triggers"] == []


async def test_a_bad_value_is_shown_beside_its_field_and_nothing_is_saved(admin):
    form = await admin.form("/app/triggers")
    status, page, _ = await admin.post("/app/triggers", with_values(
        form, triggers__0__pipeline_id="0", triggers__0__stage_id="5"))
    assert status == 400
    assert field_error(page, "triggers.0.pipeline_id") == "Must be more than 0"
    assert "Nothing was saved" in page and 'value="0"' in page  # the input is kept
    assert await admin.settings() == {}


async def test_the_same_stage_twice_is_shown_beside_the_second(admin):
    form = await admin.form("/app/triggers")
    await admin.post("/app/triggers", with_values(form, triggers__0__pipeline_id="1", triggers__0__stage_id="5"))
    form = await admin.form("/app/triggers")
    status, page, _ = await admin.post("/app/triggers", with_values(
        form, triggers__1__pipeline_id="1", triggers__1__stage_id="5"))
    assert status == 400 and "already has a trigger" in field_error(page, "triggers.1.stage_id")
    assert "has two triggers" not in page  # said beside the second trigger, not as a problem of the whole page
    assert len((await admin.settings())["triggers"]) == 1


async def test_a_stale_form_is_refused_and_keeps_the_input(admin, gateway, mongo_db):
    stale = await admin.form("/app/triggers")
    other = await open_browser(gateway, mongo_db, COMPANY, user_id="12009", user_name="Bo Other")
    try:
        await other.post("/app/triggers", with_values(await other.form("/app/triggers"), on_reentry="new_draft"))
    finally:
        await other.http.close()
    status, page, _ = await admin.post("/app/triggers", with_values(
        stale, triggers__0__pipeline_id="1", triggers__0__stage_id="5"))
    assert status == 409
    assert "changed by someone else while you were editing; reload to see their change" in page
    # Focused like the error summary (app.js focuses #error-summary), and above the heading as it is.
    assert page.index('role="alert" tabindex="-1" id="error-summary"') < page.index("<h1>")
    assert 'name="triggers.0.stage_id" type="number" value="5"' in page
    stored = await admin.settings()
    assert stored["triggers"] == [] and stored["on_reentry"] == "new_draft" and stored["version"] == 2


async def test_a_non_admin_sees_the_section_read_only_and_cannot_post(gateway, mongo_db, admin):
    viewer = await open_browser(gateway, mongo_db, COMPANY, admin=False, user_id="12002", user_name="Sam Seller")
    try:
        status, page = await viewer.get("/app/triggers")
        assert status == 200 and "View only" in page and "Save triggers" not in page
        assert 'name="timezone"' in page and " disabled" in page
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        status, page, _ = await viewer.post("/app/triggers", {"csrf": csrf, "version": "1", "timezone": "UTC",
                                                              "on_reentry": "new_draft"})
        assert status == 403 and "Only admins can change this" in page
    finally:
        await viewer.http.close()
    assert await admin.settings() == {}


async def test_the_history_says_who_changed_what(admin):
    await admin.post("/app/triggers", with_values(await admin.form("/app/triggers"), on_reentry="new_draft"))
    [entry] = await admin.db.company_settings_history.find({"company_id": COMPANY}).to_list()
    assert entry["changed_by"] == {"user_id": "12001", "name": "Ann Admin"}
    assert entry["changes"] == [{"path": "on_reentry", "old": "no_second_draft", "new": "new_draft"}]
    status, page = await admin.get("/app/history")
    assert status == 200 and "Ann Admin" in page and "When a deal enters the stage again" in page


async def test_a_trigger_without_a_stage_never_reads_stage_none(admin):
    status, page, _ = await admin.post("/app/triggers", with_values(
        await admin.form("/app/triggers"), triggers__0__pipeline_id="1"))
    assert status == 400 and field_error(page, "triggers.0.stage_id") == "Choose the stage that makes the draft."
    assert "stage None" not in page and "No stage chosen yet" in page
    assert "Trigger 1 · Stage: choose the stage that makes the draft." in page  # the summary names the field


async def test_document_offers_invoice_and_quote_and_a_tampered_value_reads_in_plain_words(admin):
    _, page = await admin.get("/app/triggers")
    assert ">Invoice</option>" in page and ">Quote</option>" in page and "Nothing (keep" not in page
    assert "Untick to switch this trigger off: it then makes no drafts." in page
    status, page, _ = await admin.post("/app/triggers", with_values(
        await admin.form("/app/triggers"), triggers__0__pipeline_id="1", triggers__0__stage_id="5",
        triggers__0__action="bogus"))
    assert status == 400 and field_error(page, "triggers.0.action") == "Must be one of the choices in the list"
    assert "&#39;invoice&#39;" not in page and "'invoice'" not in page


async def test_the_time_zone_picker_lists_common_zones_with_their_offsets(admin):
    _, page = await admin.get("/app/triggers")
    assert "Auckland</option>" in page and "(UTC+00:00) UTC</option>" in page
    assert "Africa/Asmera" not in page and "Etc/GMT+5" not in page
