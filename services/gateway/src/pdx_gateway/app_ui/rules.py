"""Customers, products and money: who the Xero contact is, what the lines look like, and which revenue accounts and
tax rates they use, picked from the company's Xero organisation (items, tax rates, revenue accounts) and Pipedrive
(pipelines, products).

Form (``POST /app/rules``, the whole section): ``customer.contact_from``, ``customer.create_missing``,
``products.unmatched``, ``products.default_item_code``, ``products.no_products``, ``products.description_from``,
``money.sales_account_code``, ``money.account_by_pipeline.<pipeline id>``, ``money.account_by_product.<product id>``
(blank: no account of its own) plus ``new_product.product_id`` and ``new_product.account_code`` to add one,
``tax_types.<n>.rate`` and ``tax_types.<n>.tax_type`` (a blank last row adds one), ``money.default_tax_type``,
``version``.
"""

import asyncio
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from pdx_gateway.app_ui.catalog import CONFLICT, blank_to_none, checked, choices, picker, save_section, saved_notice
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.keys import SETTINGS_STORE

routes = web.RouteTableDef()
PATH = "/app/rules"
TAX_ROW = re.compile(r"tax_types\.(\d+)\.rate")
CONTACT_FROM = (("organization_then_person", "The deal's organisation (its contact person when it has none)"),
                ("person", "The deal's contact person"))
UNMATCHED = (("description_only", "Use the product's name and price as the line, without a Xero item"),
             ("default_item", "Sell them as the default item below"),
             ("create_item", "Create the item in Xero with the product's code, name and price"))
NO_PRODUCTS = (("single_line", "One line for the deal's value"), ("refuse", "Make no draft; the deal says why"))
DESCRIPTION_FROM = (("name_and_comments", "Product name, then the deal product's comments"),
                    ("name", "Product name only"), ("product_description", "The product's description in Pipedrive"),
                    ("comments", "The deal product's comments"))


@routes.get("/rules")
async def show(request: web.Request) -> web.StreamResponse:
    settings = await request.config_dict[SETTINGS_STORE].get(app_session(request).company_id)
    return await _page(request, settings.model_dump(mode="json"), settings.version)


@routes.post("/rules")
async def save(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    tax_types, errors, tax_rows = _tax_types(form)
    product_accounts, product_errors = await _product_accounts(request, form)
    errors.update(product_errors)
    part = {
        "customer": {"contact_from": form.get("customer.contact_from", ""),
                     "create_missing": checked(form, "customer.create_missing")},
        "products": {"unmatched": form.get("products.unmatched", ""),
                     "default_item_code": blank_to_none(form.get("products.default_item_code")),
                     "no_products": form.get("products.no_products", ""),
                     "description_from": form.get("products.description_from", "")},
        "money": {"sales_account_code": form.get("money.sales_account_code", "").strip(),
                  "tax_types": tax_types,
                  "default_tax_type": blank_to_none(form.get("money.default_tax_type")),
                  "account_by_pipeline": _accounts(form, "money.account_by_pipeline."),
                  "account_by_product": product_accounts}}

    async def page(document: dict[str, Any], version: int, **kwargs: Any) -> web.StreamResponse:
        if kwargs.get("notice"):  # nothing changed: the stored settings as they are
            return await _page(request, document, version, **kwargs)
        return await _page(request, document, version, new_product=_new_product(form), tax_rows=tax_rows, **kwargs)

    return await save_section(request, form, part, page, PATH, errors)


def _tax_types(form: Any) -> tuple[dict[str, str], dict[str, str], list[dict[str, str]]]:
    """Rows of percentage and Xero tax rate; a row with neither is left out. Each row is checked here, its problem
    shown beside the row's own input (one message per problem); a row with a problem is not passed on, and the rows
    come back as posted (without blank ones) for the form to show again, numbered as the errors are."""
    mapping: dict[str, str] = {}
    seen: dict[Decimal, str] = {}
    errors: dict[str, str] = {}
    rows: list[dict[str, str]] = []
    for posted in sorted(int(m[1]) for name in form if (m := TAX_ROW.fullmatch(name))):
        rate = form.get(f"tax_types.{posted}.rate", "").strip().removesuffix("%").strip()
        tax_type = form.get(f"tax_types.{posted}.tax_type", "").strip()
        if not rate and not tax_type:
            continue
        index = len(rows)
        rows.append({"rate": rate, "tax_type": tax_type})
        rate_error = _rate_problem(rate, seen)
        if rate_error:
            errors[f"tax_types.{index}.rate"] = rate_error
        if not tax_type:
            errors[f"tax_types.{index}.tax_type"] = (f"Choose the Xero tax rate for {rate}%." if not rate_error
                                                     else "Choose the Xero tax rate for this percentage.")
        if not rate_error:
            seen[Decimal(rate)] = rate
            if tax_type:
                mapping[rate] = tax_type
    return mapping, errors, rows


def _rate_problem(rate: str, seen: dict[Decimal, str]) -> str | None:
    if not rate:
        return "Type the Pipedrive tax percentage this Xero tax rate is for."
    try:
        number = Decimal(rate)
    except InvalidOperation:
        return f"'{rate[:20]}' is not a percentage: type a number such as 15 or 12.5."
    if not number.is_finite() or not 0 <= number <= 100:
        return f"{rate[:20]} is not a percentage between 0 and 100."
    if number in seen:
        return f"{seen[number]}% is already mapped above; keep one row per percentage."
    return None


def _accounts(form: Any, prefix: str) -> dict[str, str]:
    return {name.removeprefix(prefix): value.strip() for name, value in form.items()
            if name.startswith(prefix) and isinstance(value, str) and value.strip()}


def _new_product(form: Any) -> dict[str, str]:
    return {"product_id": form.get("new_product.product_id", "").strip(),
            "account_code": form.get("new_product.account_code", "").strip()}


async def _product_accounts(request: web.Request, form: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The products' own accounts; a half-filled "Add a product's account" is pointed out beside its empty input."""
    accounts = _accounts(form, "money.account_by_product.")
    new = _new_product(form)
    if new["product_id"] and new["account_code"]:
        accounts[new["product_id"]] = new["account_code"]
    elif new["product_id"]:
        products = await choices(request, app_session(request).company_id).pipedrive(
            "products", lambda c: c.products())
        name = next((p.name for p in products.values or [] if str(p.id) == new["product_id"]), "this product")
        return accounts, {"new_product.account_code": f"Choose the revenue account for {name}."}
    elif new["account_code"]:
        return accounts, {"new_product.product_id": "Choose the product this account is for."}
    return accounts, {}


async def _page(request: web.Request, document: dict[str, Any], version: int, *,
                errors: dict[str, str] | None = None, conflict: bool = False, status: int = 200,
                notice: str | None = None, new_product: dict[str, str] | None = None,
                tax_rows: list[dict[str, str]] | None = None) -> web.Response:
    source = choices(request, app_session(request).company_id)
    items, rates, accounts, pipelines, products = await asyncio.gather(
        source.xero("items", lambda x: x.items()), source.xero("tax rates", lambda x: x.tax_rates()),
        source.xero("revenue accounts", lambda x: x.revenue_accounts()),
        source.pipedrive("pipelines", lambda c: c.pipelines()),
        source.pipedrive("products", lambda c: c.products()))
    money, products_rules = document.get("money") or {}, document.get("products") or {}
    by_pipeline, by_product = money.get("account_by_pipeline") or {}, money.get("account_by_product") or {}
    tax_types = money.get("tax_types") or {}
    account = _pair_account
    pipeline_rows, product_rows = _pipeline_rows(pipelines, by_pipeline), _product_rows(products, by_product)
    if tax_rows is None:
        tax_rows = [{"rate": rate, "tax_type": tax_type} for rate, tax_type in tax_types.items()]
    context = {
        "document": document, "version": version, "errors": errors or {}, **saved_notice(request, notice),
        "error_labels": _labels(pipeline_rows, product_rows, len(tax_rows)),
        "new_product": new_product or {"product_id": "", "account_code": ""},
        "conflict": CONFLICT if conflict else None,
        "contact_from": CONTACT_FROM, "unmatched": UNMATCHED, "no_products": NO_PRODUCTS,
        "description_from": DESCRIPTION_FROM,
        "items": picker(items, lambda i: (i.code, f"{i.code} · {i.name}"), products_rules.get("default_item_code")),
        "accounts": picker(accounts, account, money.get("sales_account_code"), *by_pipeline.values(),
                           *by_product.values()),
        "tax_rates": picker(rates, lambda r: (r.tax_type, r.label), money.get("default_tax_type"),
                            *tax_types.values(), *(row["tax_type"] for row in tax_rows)),
        "pipeline_rows": pipeline_rows, "pipelines_why_not": pipelines.why_not, "product_rows": product_rows,
        "products_picker": picker(products, lambda p: (str(p.id), p.name + (f" ({p.code})" if p.code else "")),
                                  unknown="not found in Pipedrive"),
        "tax_rows": tax_rows,
    }
    return render(request, "rules.html", context, status=status)


LABELS = {"customer.contact_from": "Xero contact", "customer.create_missing": "Create the contact in Xero",
          "products.description_from": "Line description", "products.unmatched": "Products Xero doesn't know",
          "products.default_item_code": "Default item", "products.no_products": "Deals without products",
          "money.sales_account_code": "Sales account", "money.default_tax_type": "Default tax rate",
          "money.tax_types": "Tax rates", "money.account_by_pipeline": "Account per pipeline",
          "money.account_by_product": "Account per product",
          "new_product.product_id": "Add a product's account · Product",
          "new_product.account_code": "Add a product's account · Revenue account"}


def _labels(pipeline_rows: list[dict[str, str]], product_rows: list[dict[str, str]], taxes: int) -> dict[str, str]:
    labels = dict(LABELS)
    labels.update({f"money.account_by_pipeline.{r['id']}": f"Account for {r['name']}" for r in pipeline_rows})
    labels.update({f"money.account_by_product.{r['id']}": f"Account for {r['name']}" for r in product_rows})
    for index in range(taxes + 1):
        where = f"Tax rate {index + 1}" if index < taxes else "Add a tax rate"
        labels[f"tax_types.{index}.rate"] = f"{where} · Pipedrive tax %"
        labels[f"tax_types.{index}.tax_type"] = f"{where} · Xero tax rate"
    return labels


def _pair_account(account: Any) -> tuple[str, str]:
    return account.code, f"{account.code} · {account.name}"


def _pipeline_rows(pipelines: Any, stored: dict[str, str]) -> list[dict[str, str]]:
    """Every pipeline by name; without Pipedrive, the pipelines that already have an account, by number."""
    if pipelines.ok:
        rows = [{"id": str(p.id), "name": p.name} for p in pipelines.values]
        known = {row["id"] for row in rows}
        rows += [{"id": key, "name": f"Pipeline {key} (not found in Pipedrive)"} for key in stored if key not in known]
    else:
        rows = [{"id": key, "name": f"Pipeline {key}"} for key in stored]
    return [{**row, "account": stored.get(row["id"], "")} for row in rows]


def _product_rows(products: Any, stored: dict[str, str]) -> list[dict[str, str]]:
    names = {str(p.id): p.name for p in products.values or []}
    return [{"id": key, "name": names.get(key, f"Product {key}"), "account": code} for key, code in stored.items()]
