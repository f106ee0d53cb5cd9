"""Builders of realistic Pipedrive v2 reads (deal, deal products with their product, person, organisation, deal fields)
and company settings, for the mapping table. Shapes follow pipedrive-openapi-v2.yaml."""

from datetime import date
from decimal import Decimal
from typing import Any

from pdx_common.company_settings import CompanySettings, Trigger
from pdx_mapper.domain.mapping import DealSnapshot

D = Decimal
TODAY = date(2025, 6, 30)
INVOICE = Trigger(pipeline_id=1, stage_id=5, action="invoice")
QUOTE = Trigger(pipeline_id=2, stage_id=7, action="quote")
PO_KEY = "9f3c1a7e5b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f"
DUE_KEY = "1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"
REGION_KEY = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
BUDGET_KEY = "b0d9e7a6c5b4a3928170f6e5d4c3b2a190807060"
DEAL_FIELDS = [  # GET /api/v2/dealFields
    {"field_name": "Deal Title", "field_code": "title", "field_type": "varchar", "options": None,
     "is_custom_field": False, "is_optional_response_field": False},
    {"field_name": "PO number", "field_code": PO_KEY, "field_type": "varchar", "options": None,
     "is_custom_field": True, "is_optional_response_field": False},
    {"field_name": "Payment terms (days)", "field_code": DUE_KEY, "field_type": "double", "options": None,
     "is_custom_field": True, "is_optional_response_field": False},
    {"field_name": "Region", "field_code": REGION_KEY, "field_type": "enum", "is_custom_field": True,
     "is_optional_response_field": False,
     "options": [{"id": 11, "label": "Auckland", "color": None}, {"id": 12, "label": "North Island", "color": None}]},
    {"field_name": "Budget", "field_code": BUDGET_KEY, "field_type": "monetary", "options": None,
     "is_custom_field": True, "is_optional_response_field": False,
     "subfields": [{"field_code": "value", "field_name": "Amount", "field_type": "double"},
                   {"field_code": "currency", "field_name": "Currency", "field_type": "varchar"}]},
]


def deal(deal_id: int, title: str, value: float | None, currency: str | None, **extra: Any) -> dict[str, Any]:
    return {"id": deal_id, "title": title, "value": value, "currency": currency, "status": "won", "stage_id": 5,
            "pipeline_id": 1, "person_id": 201, "org_id": 101, "won_time": "2025-06-29T22:14:03Z",
            "custom_fields": {}, **extra}


def item(name: str, code: str | None, quantity: float, price: float, tax: float = 15, tax_method: str = "exclusive",
         discount: float = 0, discount_type: str = "percentage", *, enabled: bool = True, comments: str = "",
         description: str | None = None, product_id: int = 301) -> dict[str, Any]:
    """A deal product (GET /api/v2/deals/{id}/products) with its product (GET /api/v2/products/{id})."""
    return {"id": product_id + 1000, "deal_id": 1001, "product_id": product_id, "name": name, "quantity": quantity,
            "item_price": price, "sum": quantity * price, "tax": tax, "tax_method": tax_method, "discount": discount,
            "discount_type": discount_type, "is_enabled": enabled, "comments": comments, "currency": "NZD",
            "billing_frequency": "one-time", "product_variation_id": None,
            "product": {"id": product_id, "name": name, "code": code, "description": description, "unit": "",
                        "tax": tax, "prices": [{"currency": "NZD", "price": price}]}}


def person(person_id: int = 201, name: str = "Aroha Ngata", *, emails: list | None = None, phones: list | None = None,
           org_id: int | None = 101, **extra: Any) -> dict[str, Any]:
    return {"id": person_id, "name": name, "org_id": org_id,
            "emails": [{"value": "aroha@kiwiwidgets.example", "primary": True, "label": "work"}]
            if emails is None else emails,
            "phones": [{"value": "+64 21 555 0101", "primary": True, "label": "mobile"}] if phones is None else phones,
            **extra}


def org(org_id: int = 101, name: str = "Kiwi Widgets Ltd", address: str | None = None) -> dict[str, Any]:
    return {"id": org_id, "name": name, "owner_id": 1,
            "address": {"value": address, "country": "New Zealand", "locality": "Auckland", "postal_code": "1010"}
            if address else None}


AROHA = person(first_name="Aroha", last_name="Ngata", postal_address={
    "value": "4 Ponsonby Road, Auckland 1011", "country": "New Zealand", "locality": "Auckland"})
KIWI = org(address="12 Queen Street, Auckland 1010, New Zealand")


def snap(the_deal: dict[str, Any], *lines: dict[str, Any], who: dict | None = AROHA, company: dict | None = KIWI,
         discounts: tuple[dict, ...] = (), fields: list[dict] | None = None) -> DealSnapshot:
    return DealSnapshot(deal=the_deal, products=list(lines), person=who, org=company, discounts=list(discounts),
                        deal_fields=DEAL_FIELDS if fields is None else fields, company_domain="acme")


def discount(kind: str, amount: float, description: str) -> dict[str, Any]:
    """A deal-level discount (GET /api/v2/deals/{id}/discounts)."""
    return {"id": "30195b0e-7577-4f52-a5cf-f3ee39b9d1e0", "type": kind, "amount": amount, "description": description,
            "deal_id": 1001, "created_at": "2025-06-12T10:30:05Z", "created_by": 1}


def settings(**parts: dict[str, Any]) -> CompanySettings:
    """An NZ company: GST 15% is OUTPUT2, zero-rated is NONE; ``parts`` override sections (money, products...)."""
    money = {"tax_types": {"15": "OUTPUT2", "0": "NONE"}, **parts.pop("money", {})}
    return CompanySettings.model_validate({"version": 3, "triggers": [INVOICE.model_dump(), QUOTE.model_dump()],
                                           "money": money, **parts})
