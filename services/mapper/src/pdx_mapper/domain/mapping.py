"""A Pipedrive deal, as read, into a Xero command. Pure: no I/O, no clock (``today`` is passed in), no await.

Raises ``MappingProblem`` with words a salesperson can act on when the deal cannot become a draft.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pdx_common.company_settings import AnyTrigger, CompanySettings
from pdx_common.contracts import Contact, CreateInvoice, CreateQuote, DealChanged, LineItem, NewItem
from pdx_mapper.domain import records
from pdx_mapper.domain.templates import custom_field, render

CENT = Decimal("0.01")
_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # a Pipedrive company domain: one DNS label
UNIT_PRICE = Decimal("0.0001")  # Xero keeps unit prices to 4 decimals (unitdp=4)
QUANTITY = Decimal("0.0001")  # and quantities to 4 decimals: a finer quantity would change the total, so it is refused
# Every amount (a unit price, a line, a discount, the total) stays below a trillion: Xero's fields are 2-dp
# (4-dp units) decimals that hold at most 12 digits before the point, and a larger one could not even be rounded
# in Python's 28-digit decimal context (1e26 to cents raises InvalidOperation).
MAX_AMOUNT = Decimal("1e12")
# ISO 4217 currencies without minor units: an amount we compute (a deal discount) is whole, like Pipedrive's.
ZERO_DECIMAL_CURRENCIES = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
                                     "VUV", "XAF", "XOF", "XPF"})
TAX_METHODS = {"exclusive": "Exclusive", "inclusive": "Inclusive", "none": "NoTax"}


# Where an admin changes a setting: the app's settings inside Pipedrive, by the section and label they see there.
APP_SETTINGS = "the app's settings (Pipedrive: Settings > Apps > Xero drafts)"


class MappingProblem(Exception):
    def __init__(self, code: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.code, self.message, self.fix = code, message, fix


@dataclass(frozen=True)
class DealSnapshot:
    """Everything read from Pipedrive for one deal. ``products`` are deal products, each with its ``product``."""

    deal: dict[str, Any]
    products: list[dict[str, Any]] = field(default_factory=list)
    person: dict[str, Any] | None = None
    org: dict[str, Any] | None = None
    discounts: list[dict[str, Any]] = field(default_factory=list)
    deal_fields: list[dict[str, Any]] = field(default_factory=list)
    person_fields: list[dict[str, Any]] = field(default_factory=list)  # v2 /personFields, read only for custom values
    org_fields: list[dict[str, Any]] = field(default_factory=list)  # v2 /organizationFields, likewise
    company_domain: str | None = None  # "acme" for acme.pipedrive.com, saved at install (never a webhook's host)


def dec(value: Any, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return Decimal(default)
    return number if number.is_finite() else Decimal(default)


def number(value: Any, what: str, default: str = "0", *, limit: Decimal | None = MAX_AMOUNT) -> Decimal:
    """A number read from Pipedrive (``what`` names it for a person); text, NaN, Infinity or a magnitude Xero cannot
    hold is a ``MappingProblem``, never a silent default."""
    if value is None or value == "":
        return Decimal(default)
    shown = str(value).strip()[:40]
    try:
        parsed = None if isinstance(value, bool) else Decimal(str(value).strip())
    except InvalidOperation:
        parsed = None
    if parsed is None or not parsed.is_finite():
        raise MappingProblem("not_a_number", f"{what} is '{shown}', which is not a number.",
                             f"Set {_lower(what)} to a number in Pipedrive, then replay the deal.")
    if limit is not None and abs(parsed) >= limit:
        raise MappingProblem("amount_too_large", f"{what} is {shown}, larger than Xero accepts (at most "
                             f"{limit - CENT:,}).", f"Correct {_lower(what)} in Pipedrive, then replay the deal.")
    return parsed


def _lower(what: str) -> str:
    return what[0].lower() + what[1:]


def build_command(snapshot: DealSnapshot, settings: CompanySettings, trigger: AnyTrigger, event: DealChanged,
                  today: date) -> CreateInvoice | CreateQuote:
    deal = snapshot.deal
    currency = _currency(deal)
    lines, amount_types = _lines(snapshot, settings, currency)
    lines = _with_tracking(lines, snapshot, settings)
    today = _document_date(snapshot, settings, today)
    common = dict(
        company_id=event.company_id, deal_id=event.deal_id, trigger_id=trigger.id, source_event_id=event.origin_id,
        settings_version=settings.version, contact=_contact(snapshot, settings), line_items=tuple(lines),
        create_contact=settings.customer.create_missing,
        currency_code=currency, line_amount_types=amount_types, date=today,
        reference=_text(render(settings.fields.reference, snapshot), 255), deal_title=str(deal.get("title") or ""),
        deal_value=_deal_value(deal), branding_theme_id=settings.fields.branding_theme_id,
        deal_url=deal_url(snapshot.company_domain, event.deal_id), pipeline_id=_pipeline(deal))
    if trigger.action == "quote":
        fields = settings.fields
        return CreateQuote(**common, expiry_date=today + timedelta(days=fields.quote_expiry_days),
                           title=_text(render(fields.quote_title, snapshot), 100),
                           summary=_text(render(fields.quote_summary, snapshot), 3000),
                           terms=_text(render(fields.quote_terms, snapshot), 4000))
    return CreateInvoice(**common, due_date=today + timedelta(days=_due_days(snapshot, settings)))


def _pipeline(deal: dict[str, Any]) -> int | None:
    pipeline = _id_text(deal.get("pipeline_id"))
    return int(pipeline) if pipeline is not None and int(pipeline) > 0 else None


def _text(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


def _currency(deal: dict[str, Any]) -> str:
    currency = str(deal.get("currency") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise MappingProblem("no_currency", "The deal has no currency.",
                             "Set the deal's currency in Pipedrive, then replay the deal.")
    return currency


def _deal_value(deal: dict[str, Any]) -> Decimal | None:
    return number(deal.get("value"), "The deal's value") if deal.get("value") not in (None, "") else None


def _money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1) if currency in ZERO_DECIMAL_CURRENCIES else CENT, ROUND_HALF_UP)


def _unit_price(value: Any, name: str) -> Decimal:
    price = number(value, f"The price of '{name}'")
    return price.quantize(UNIT_PRICE, ROUND_HALF_UP) if price.as_tuple().exponent < -4 else price


def deal_url(company_domain: str | None, deal_id: str) -> str:
    """The deal's page in Pipedrive, on the company's own domain saved at install (never a host an event names)."""
    if company_domain and _DOMAIN.fullmatch(company_domain):
        return f"https://{company_domain}.pipedrive.com/deal/{deal_id}"
    return f"https://app.pipedrive.com/deal/{deal_id}"


def _contact(snapshot: DealSnapshot, settings: CompanySettings) -> Contact:
    person, org = snapshot.person, snapshot.org
    use_org = settings.customer.contact_from == "organization_then_person" and org
    if use_org:
        _required_name(org)
        tax = records.tax_number(org, snapshot.org_fields, settings)
        return _within_contact_limits(records.org_contact(org, tax=tax, person=person), "organisation")
    if person:
        _required_name(person)
        tax = records.tax_number(person, snapshot.person_fields, settings)
        return _within_contact_limits(records.person_contact(person, tax=tax), "person")
    if settings.customer.contact_from == "person":
        raise MappingProblem("no_customer", "The deal has no customer: it is linked to no person (the app's "
                             "settings address drafts to the deal's contact person, not its organisation).",
                             "Link a person to the deal in Pipedrive, then replay the deal. Or, in "
                             f"{APP_SETTINGS}, open Customers, products & money and set Xero contact to The deal's "
                             "organisation (its contact person when it has none).")
    raise MappingProblem("no_customer", "The deal has no customer: it is linked to neither an organisation nor a "
                         "person.", "Link an organisation or a person to the deal in Pipedrive, then replay the deal.")


def _required_name(entity: dict[str, Any]) -> str:
    name = records.name_of(entity)
    if not name:
        raise MappingProblem("customer_without_name", f"The customer (id {entity.get('id')}) has no name.",
                             "Give the person or organisation a name in Pipedrive, then replay the deal.")
    return name


def _within_contact_limits(contact: Contact, kind: str) -> Contact:
    """Xero refuses a contact with a value over its limit: the draft fails here, naming the value, rather than
    sending a value Xero would cut or refuse. The email and phone of an organisation are its contact person's."""
    over = records.too_long(contact)
    if not over:
        return contact
    first = over[0]
    whose = f"{contact.name[:60]}'s contact person" if kind == "organisation" and first.words in (
        "email address", "phone number") else contact.name[:60]
    raise MappingProblem(
        "customer_value_too_long", f"The {first.words} of {whose} is {first.length} characters long; Xero accepts "
        f"at most {first.limit}.", f"Shorten the {first.words} of {whose} in Pipedrive to {first.limit} characters "
        "or fewer, then replay the deal.")


def _lines(snapshot: DealSnapshot, settings: CompanySettings, currency: str) -> tuple[list[LineItem], str]:
    products = [p for p in snapshot.products if p.get("is_enabled", True) is not False]
    if not products:
        return _single_line(snapshot, settings, currency), "Exclusive"
    methods = {TAX_METHODS.get(str(p.get("tax_method") or "exclusive"), "Exclusive") for p in products}
    if len(methods) > 1:
        raise MappingProblem(
            "mixed_tax_methods", "The deal's products mix tax methods (" + ", ".join(sorted(methods)) + ").",
            "Xero needs one tax method per document: set every product on the deal to the same tax method.")
    amount_types = methods.pop()
    lines = [_product_line(p, settings, amount_types, currency, snapshot.deal) for p in products]
    lines += [_discount_line(d, lines, account_code(settings, snapshot.deal), currency) for d in snapshot.discounts]
    _within_limits(lines)
    return lines, amount_types


def _within_limits(lines: list[LineItem]) -> None:
    for line in lines:
        if abs(_net(line)) >= MAX_AMOUNT:
            raise MappingProblem(
                "amount_too_large", f"The line '{line.description[:60]}' comes to {_net(line):,.2f}, larger than "
                f"Xero accepts (at most {MAX_AMOUNT - CENT:,}).", "Correct the line's quantity or price in "
                "Pipedrive, then replay the deal.")
    if abs(sum((_net(line) for line in lines), Decimal(0))) >= MAX_AMOUNT:
        raise MappingProblem("amount_too_large", f"The deal's products come to more than Xero accepts (at most "
                             f"{MAX_AMOUNT - CENT:,}).", "Correct the quantities or prices in Pipedrive, then "
                             "replay the deal.")


def _single_line(snapshot: DealSnapshot, settings: CompanySettings, currency: str) -> list[LineItem]:
    deal = snapshot.deal
    if settings.products.no_products == "refuse":
        raise MappingProblem("no_products", "The deal has no products.",
                             "Add the products to the deal in Pipedrive, then replay the deal.")
    value = _deal_value(deal) or Decimal(0)
    if value <= 0:
        raise MappingProblem("no_products_no_value", "The deal has no products and no value.",
                             "Add products or a value to the deal in Pipedrive, then replay the deal.")
    return [LineItem(description=str(deal.get("title") or "Deal")[:4000], quantity=Decimal(1),
                     unit_amount=_money(value, currency), account_code=account_code(settings, deal),
                     tax_type=settings.money.default_tax_type)]


def _product_line(deal_product: dict[str, Any], settings: CompanySettings, amount_types: str,
                  currency: str, deal: dict[str, Any]) -> LineItem:
    product = deal_product.get("product") or {}
    name = str(deal_product.get("name") or product.get("name") or "Product")
    code = str(product.get("code") or deal_product.get("code") or "").strip() or None
    rules = settings.products
    if code is None and rules.unmatched == "create_item":
        raise MappingProblem(
            "product_without_code", f"The product '{name}' has no product code, so no Xero item can be made for it.",
            f"Give '{name}' a product code in Pipedrive (Products > {name} > Product code), then replay the deal.")
    tax_rate = _tax_rate(deal_product.get("tax"), name) if amount_types != "NoTax" else None
    account = account_code(settings, deal, deal_product.get("product_id") or product.get("id"))
    line = dict(description=_description(deal_product, product, name, rules.description_from),
                quantity=_quantity(deal_product.get("quantity"), name),
                unit_amount=_unit_price(deal_product.get("item_price"), name), item_code=code[:30] if code else None,
                account_code=account, tax_rate=tax_rate,
                tax_type=_tax_type(tax_rate, settings) if tax_rate is not None else None,
                unmatched=rules.unmatched, default_item_code=rules.default_item_code)
    line.update(_discount(deal_product, currency))
    if code and rules.unmatched == "create_item":
        line["create_item"] = NewItem(**records.item_text({**product, "code": code}, name),
                                      unit_price=line["unit_amount"], account_code=account, tax_type=line["tax_type"])
    return LineItem(**line)


def _quantity(value: Any, name: str) -> Decimal:
    quantity = number(value, f"The quantity of '{name}'", "1")
    if quantity < 0:
        raise MappingProblem("negative_quantity", f"The quantity of '{name}' is {quantity}, below zero.",
                             f"Set the quantity of '{name}' to zero or more in Pipedrive (a refund is a credit "
                             "note, made in Xero), then replay the deal.")
    if quantity != quantity.quantize(QUANTITY):
        raise MappingProblem("quantity_too_precise", f"The quantity of '{name}' is {quantity}, finer than the 4 "
                             "decimals Xero keeps.", f"Round the quantity of '{name}' to at most 4 decimals in "
                             "Pipedrive, then replay the deal.")
    return quantity


def _tax_rate(value: Any, name: str) -> Decimal:
    rate = number(value, f"The tax rate of '{name}'", limit=None)
    if not 0 <= rate <= 100:
        raise MappingProblem("bad_tax_rate", f"The tax rate of '{name}' is {rate}%.",
                             f"Set the tax rate of '{name}' to a percentage between 0 and 100 in Pipedrive, then "
                             "replay the deal.")
    return rate


def _description(deal_product: dict[str, Any], product: dict[str, Any], name: str, source: str) -> str:
    """The line's text from the source the settings name (products.description_from); an empty one is the name."""
    comments = str(deal_product.get("comments") or "").strip()
    if source == "name":
        text = name
    elif source == "product_description":
        text = str(product.get("description") or "").strip() or name
    elif source == "comments":
        text = comments or name
    else:  # name_and_comments
        text = f"{name} - {comments}" if comments else name
    return text[:4000]


def account_code(settings: CompanySettings, deal: dict[str, Any], product_id: Any = None) -> str:
    """The revenue account of a line: its product's (money.account_by_product), else its deal's pipeline's
    (money.account_by_pipeline), else money.sales_account_code. Lines of no product (the deal's value, a deal
    discount) use the pipeline's or the default."""
    money = settings.money
    for key, accounts in ((_id_text(product_id), money.account_by_product),
                          (_id_text(deal.get("pipeline_id")), money.account_by_pipeline)):
        if key is not None and key in accounts:
            return accounts[key]
    return money.sales_account_code


def _id_text(value: Any) -> str | None:
    """A Pipedrive id as the settings key it: 12, "12" or {"id": 12} -> "12"; anything else -> None."""
    if isinstance(value, dict):
        value = value.get("id") if value.get("id") is not None else value.get("value")
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text if text.isascii() and text.isdigit() else None


def _discount(deal_product: dict[str, Any], currency: str) -> dict[str, Decimal]:
    name = deal_product.get("name") or (deal_product.get("product") or {}).get("name") or "a product"
    is_amount = deal_product.get("discount_type") == "amount"
    discount = number(deal_product.get("discount"), f"The discount of '{name}'",
                      limit=MAX_AMOUNT if is_amount else None)
    if discount <= 0:
        return {}
    if is_amount:
        return {"discount_amount": _money(discount, currency)}
    if discount > 100:
        raise MappingProblem("bad_discount", f"The product '{name}' has a discount of {discount}% on the deal.",
                             f"Set the discount of '{name}' on the deal to at most 100%, then replay the deal.")
    return {"discount_rate": discount}


def _tax_type(rate: Decimal, settings: CompanySettings) -> str | None:
    for key, tax_type in settings.money.tax_types.items():
        if dec(key) == rate:
            return tax_type
    return None  # the writer maps it from the organisation's tax rates, or explains why it cannot


def _discount_line(discount: dict[str, Any], lines: list[LineItem], account: str, currency: str) -> LineItem:
    description = str(discount.get("description") or "Discount")
    is_percentage = discount.get("type") == "percentage"
    amount = number(discount.get("amount"), f"The deal discount '{description[:60]}'",
                    limit=None if is_percentage else MAX_AMOUNT)
    if is_percentage and not 0 <= amount <= 100:
        raise MappingProblem("bad_discount", f"The deal discount '{description[:60]}' is {amount}%.",
                             "Set the deal discount to a percentage between 0 and 100 in Pipedrive, then replay "
                             "the deal.")
    if is_percentage:
        subtotal = sum((_net(line) for line in lines), Decimal(0))
        amount = subtotal * amount / 100
    template = lines[0]
    return LineItem(description=description[:4000], quantity=Decimal(1),
                    unit_amount=-_money(amount, currency), account_code=account,
                    tax_rate=template.tax_rate, tax_type=template.tax_type)


def _net(line: LineItem) -> Decimal:
    gross = line.quantity * line.unit_amount
    if line.discount_rate is not None:
        return gross * (100 - line.discount_rate) / 100
    return gross - (line.discount_amount or 0)


def _due_days(snapshot: DealSnapshot, settings: CompanySettings) -> int:
    field_name = settings.fields.due_days_field
    if field_name:
        value = custom_field(snapshot, field_name)
        if value not in (None, ""):
            days = dec(value, "-1")
            if days < 0 or days > 365 or days != days.to_integral_value():
                raise MappingProblem(
                    "bad_due_days", f"The deal field '{field_name}' holds '{value}', which is not a number of days.",
                    f"Set '{field_name}' on the deal to a whole number of days (0-365), then replay the deal.")
            return int(days)
    return settings.fields.due_days


def _with_tracking(lines: list[LineItem], snapshot: DealSnapshot, settings: CompanySettings) -> list[LineItem]:
    tracking = tuple((t.name, option) for t in settings.fields.tracking
                     if (option := (render(t.option, snapshot) or "")[:100]))
    return [line.model_copy(update={"tracking": tracking}) for line in lines] if tracking else lines


def _document_date(snapshot: DealSnapshot, settings: CompanySettings, today: date) -> date:
    name = settings.fields.date_field
    if not name:
        return today
    value = snapshot.deal.get(name) if name in snapshot.deal else custom_field(snapshot, name)
    if value in (None, ""):
        return today
    try:
        return _day(str(value).strip(), settings.timezone)
    except ValueError:
        raise MappingProblem(
            "bad_date_field", f"The deal field '{name}' holds '{value}', which is not a date.",
            f"Set '{name}' on the deal to a date, or choose another Document date in {APP_SETTINGS} under "
            "Field mappings, then replay the deal.") from None


def _day(value: str, timezone: str) -> date:
    """The company's calendar day of a deal field: a date as it is; a time (Pipedrive keeps times in UTC:
    "2026-11-29T20:30:00Z", or "2026-11-29 20:30:00" in older fields) on the company's clock, so a deal won at 09:30
    on Monday in Auckland is dated Monday, not Sunday."""
    if len(value) > 10 and value[10] in "T ":
        try:
            moment = datetime.fromisoformat(value)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(ZoneInfo(timezone)).date()
        except (ValueError, OverflowError):
            pass  # not a time after all: its first 10 characters may still be a date
    return date.fromisoformat(value[:10])
