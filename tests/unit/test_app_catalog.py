"""The pickers' sources read through fakes of the two APIs: what each offers (revenue accounts only, tax rates usable
on sales, active tracking options, custom fields with their keys) and a source that fails becoming a reason."""

from decimal import Decimal
from typing import Any

import pytest

from pdx_common.http import ApiError, ConnectionMissing
from pdx_gateway.adapters.pipedrive_catalog import FieldInfo, PipedriveCatalog, Stage
from pdx_gateway.adapters.xero_catalog import Account, BrandingTheme, TaxRate, TrackingCategory, XeroCatalog
from pdx_gateway.app_ui import mappings
from pdx_gateway.app_ui.catalog import Source, _load, merged, picker

KEY = "a" * 40


class FakeApi:
    """Answers by path; a path missing from ``answers`` is a 404, an exception in it is raised."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers, self.calls = answers, []

    async def request(self, method: str, path: str, *, params=None, json=None, idempotency_key=None) -> Any:
        self.calls.append((method, path, params))
        if path not in self.answers:
            raise ApiError("pipedrive", 404, {"error": "unknown"}, path)
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_xero_revenue_accounts_are_active_revenue_class_accounts_with_a_code():
    api = FakeApi({"/Accounts": {"Accounts": [
        {"Code": "200", "Name": "Sales", "Type": "REVENUE", "Class": "REVENUE", "Status": "ACTIVE"},
        {"Code": "260", "Name": "Other Revenue", "Type": "OTHERINCOME", "Class": "REVENUE", "Status": "ACTIVE"},
        {"Code": "210", "Name": "Old sales", "Type": "REVENUE", "Class": "REVENUE", "Status": "ARCHIVED"},
        {"Code": "400", "Name": "Advertising", "Type": "EXPENSE", "Class": "EXPENSE", "Status": "ACTIVE"},
        {"Name": "No code", "Type": "REVENUE", "Class": "REVENUE", "Status": "ACTIVE"}]}})
    assert await XeroCatalog(api).revenue_accounts() == [Account("200", "Sales"), Account("260", "Other Revenue")]


async def test_xero_tax_rates_are_active_ones_a_sale_can_use_with_their_percentage():
    api = FakeApi({"/TaxRates": {"TaxRates": [
        {"TaxType": "OUTPUT2", "Name": "GST on Income", "Status": "ACTIVE", "EffectiveRate": 15.0,
         "CanApplyToRevenue": True},
        {"TaxType": "INPUT2", "Name": "GST on Expenses", "Status": "ACTIVE", "EffectiveRate": 15.0,
         "CanApplyToRevenue": False},
        {"TaxType": "OLD", "Name": "Old", "Status": "DELETED", "EffectiveRate": 12.5, "CanApplyToRevenue": True}]}})
    rates = await XeroCatalog(api).tax_rates()
    assert rates == [TaxRate("OUTPUT2", "GST on Income", Decimal("15.0"))]
    assert rates[0].label == "GST on Income (15%)"
    assert TaxRate("OUTPUT2", "15% GST on Income", Decimal("15")).label == "15% GST on Income"  # said once


async def test_xero_tracking_categories_keep_active_options_and_themes_come_in_xeros_order():
    api = FakeApi({
        "/TrackingCategories": {"TrackingCategories": [
            {"Name": "Region", "Status": "ACTIVE", "Options": [{"Name": "North", "Status": "ACTIVE"},
                                                              {"Name": "Gone", "Status": "ARCHIVED"}]},
            {"Name": "Old", "Status": "ARCHIVED", "Options": []}]},
        "/BrandingThemes": {"BrandingThemes": [{"BrandingThemeID": "b", "Name": "Special", "SortOrder": 1},
                                               {"BrandingThemeID": "a", "Name": "Standard", "SortOrder": 0}]},
        "/Organisation": {"Organisations": [{"Name": "Demo Company (NZ)"}]}})
    catalog = XeroCatalog(api)
    assert await catalog.tracking_categories() == [TrackingCategory("Region", ("North",))]
    assert await catalog.branding_themes() == [BrandingTheme("a", "Standard"), BrandingTheme("b", "Special")]
    assert await catalog.organisation_name() == "Demo Company (NZ)"


async def test_pipedrive_stages_and_fields_custom_ones_with_their_keys():
    api = FakeApi({
        "/api/v2/stages": [{"id": 5, "name": "Won", "pipeline_id": 1, "order_nr": 5},
                           {"id": 1, "name": "Lead In", "pipeline_id": 1, "order_nr": 1},
                           {"id": 9, "name": "Deleted", "pipeline_id": 1, "is_deleted": True}],
        "/api/v2/dealFields": [{"field_name": "Title", "field_code": "title", "field_type": "varchar",
                                "is_custom_field": False},
                               {"field_name": "PO number", "field_code": KEY, "field_type": "varchar",
                                "is_custom_field": True}],
        "/api/v1/personFields": [{"name": "Email", "key": "email", "field_type": "varchar", "edit_flag": False}]})
    catalog = PipedriveCatalog(api)
    assert await catalog.stages() == [Stage(1, "Lead In", 1), Stage(5, "Won", 1)]
    assert await catalog.fields("deal") == [FieldInfo("Title", "title", "varchar", False),
                                            FieldInfo("PO number", KEY, "varchar", True)]
    # v1's field list where v2 has none
    assert await catalog.fields("person") == [FieldInfo("Email", "email", "varchar", False)]


@pytest.mark.parametrize(("error", "reason"), [
    (ConnectionMissing("xero", "7001"), "Connect Xero"),
    (ApiError("xero", 503, "down", "/Accounts"), "did not answer"),
    (TimeoutError(), "did not answer"),
])
async def test_a_failing_source_becomes_a_reason_not_an_error(error, reason):
    async def failing() -> list:
        raise error

    source = await _load(failing(), "Connect Xero to pick from your organisation's accounts",
                         "Xero did not answer just now")
    assert source == Source(None, source.why_not) and reason in source.why_not


def test_a_picker_keeps_a_stored_value_its_source_does_not_list():
    pk = picker(Source([Account("200", "Sales")]), lambda a: (a.code, f"{a.code} · {a.name}"), "999", None, "200")
    assert pk == {"ok": True, "why_not": None,
                  "options": [("200", "200 · Sales"), ("999", "999 (not found in Xero)")]}
    assert picker(Source(None, "Connect Xero"), lambda a: a, "200") == {"ok": False, "options": [],
                                                                        "why_not": "Connect Xero"}


def test_a_section_merges_into_its_settings_key_by_key():
    current = {"version": 3, "money": {"sales_account_code": "200", "tax_types": {"15": "OUTPUT2"}}, "triggers": [1]}
    assert merged(current, {"money": {"tax_types": {}}, "triggers": []}) == {
        "version": 3, "money": {"sales_account_code": "200", "tax_types": {}}, "triggers": []}


def test_insert_a_field_offers_names_and_no_ids_or_timestamps():
    person = Source([FieldInfo("Job title", "job_title", "varchar", False),
                     FieldInfo("Owner", "owner_id", "user", False),
                     FieldInfo("Person created", "add_time", "date", False),
                     FieldInfo("Customer number", "a" * 40, "varchar", True)])
    deal = Source([FieldInfo("PO number", "b" * 40, "varchar", True), FieldInfo("Owner", "owner_id", "user", False)])
    groups = dict(mappings.insertable(deal, person, Source(None, "down")))
    assert ("{deal.custom.PO number}", "PO number (custom field)") in groups["Deal"]
    assert ("{person.job_title}", "Job title") in groups["Contact person"]
    assert ("{person.custom.Customer number}", "Customer number (custom field)") in groups["Contact person"]
    offered = [p for group in groups.values() for p, _ in group]
    assert not [p for p in offered if "owner_id" in p or "add_time" in p]
    assert ("{org.name}", "Name") in groups["Organisation"]  # Pipedrive could not list them: the standard ones
    errors = mappings._placeholder_errors({"reference": "{person.custom.Customer number}"}, deal, person,
                                          Source(None, "down"))
    assert errors == {}

