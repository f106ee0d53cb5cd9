"""Line items and totals of invoices and quotes: Xero's arithmetic and its line-level validation messages."""

from dataclasses import dataclass
from decimal import Decimal

from .formats import money, quantize, to_decimal
from .tenant import Tenant, new_id

_HUNDRED = Decimal(100)
_COMPUTED = {"LineAmount", "TaxAmount", "Item", "ValidationErrors"}


@dataclass(frozen=True)
class LineContext:
    tenant: Tenant
    doc_type: str  # ACCREC, ACCPAY or QUOTE
    amount_types: str  # Exclusive, Inclusive or NoTax (quotes are mapped to these)
    requires_account: bool
    unitdp: int


@dataclass
class BuiltLine:
    line: dict
    errors: list[str]
    amount: Decimal
    tax: Decimal
    discount: Decimal


def build_lines(ctx: LineContext, raw_lines: object) -> tuple[list[BuiltLine], list[str]]:
    if raw_lines is None:
        return [], []
    if not isinstance(raw_lines, list):
        return [], ["LineItems must be a list."]
    built = [build_line(ctx, raw) for raw in raw_lines]
    return built, [e for b in built for e in b.errors]


def build_line(ctx: LineContext, raw: object) -> BuiltLine:
    if not isinstance(raw, dict):
        return BuiltLine({}, ["A line item must be an object."], Decimal(0), Decimal(0), Decimal(0))
    line = {k: v for k, v in raw.items() if k not in _COMPUTED}
    errors: list[str] = []
    item = _apply_item(ctx, line, errors)
    if not line.get("Description") and item is None:
        errors.append("The Description field is mandatory for each line item.")
    amount, discount = _line_amount(ctx, line, raw, errors)
    account = _check_account(ctx, line, errors)
    tax = _line_tax(ctx, line, account, amount, raw, errors)
    return BuiltLine(_ordered(line, item, amount, tax), errors, amount, tax, discount)


def _apply_item(ctx: LineContext, line: dict, errors: list[str]) -> dict | None:
    """An ItemCode fills in what the line left out from the item's sales (or purchase) details."""
    code = line.get("ItemCode")
    if not code:
        return None
    item = ctx.tenant.item_by_code(str(code))
    if item is None:
        errors.append(f"Item code '{code}' is not valid.")
        return None
    purchase = ctx.doc_type == "ACCPAY"
    details = item.get("PurchaseDetails" if purchase else "SalesDetails") or {}
    description = item.get("PurchaseDescription") if purchase else item.get("Description")
    line["ItemCode"] = item["Code"]
    line.setdefault("Description", description or item.get("Name"))
    for key, source in (("UnitAmount", "UnitPrice"), ("AccountCode", "AccountCode"), ("TaxType", "TaxType")):
        if line.get(key) in (None, "") and details.get(source) not in (None, ""):
            line[key] = details[source]
    return item


def _line_amount(ctx: LineContext, line: dict, raw: dict, errors: list[str]) -> tuple[Decimal, Decimal]:
    qty, unit = to_decimal(line.get("Quantity")), to_decimal(line.get("UnitAmount"))
    given = to_decimal(raw.get("LineAmount"))
    rate, flat = to_decimal(line.get("DiscountRate")), to_decimal(line.get("DiscountAmount"))
    if qty is None and unit is None and given is None:
        return Decimal(0), Decimal(0)
    qty = quantize(qty if qty is not None else Decimal(1), 4)
    if unit is None:
        unit = given / qty if given is not None and qty else Decimal(0)
    unit = quantize(unit, ctx.unitdp)
    line["Quantity"], line["UnitAmount"] = float(qty), float(unit)
    for key, value in (("DiscountRate", rate), ("DiscountAmount", flat)):
        if value is not None:
            line[key] = float(value)
    if (rate or flat) and ctx.doc_type == "ACCPAY":
        errors.append("Discounts are only supported on sales invoices and quotes.")
    if rate is not None and flat is not None:
        errors.append("A line item can have a DiscountRate or a DiscountAmount, not both.")
    gross = qty * unit
    net = gross * (_HUNDRED - rate) / _HUNDRED if rate else gross - flat if flat else gross
    amount = quantize(net, 2)
    both_given = raw.get("Quantity") is not None and raw.get("UnitAmount") is not None
    if given is not None and both_given and abs(quantize(given, 2) - amount) > Decimal("0.01"):
        errors.append(f"The LineAmount {money(given)} does not equal Quantity x UnitAmount less discount "
                      f"({money(amount)}).")
    return amount, quantize(gross, 2) - amount


def _check_account(ctx: LineContext, line: dict, errors: list[str]) -> dict | None:
    code = line.get("AccountCode")
    if code in (None, ""):
        if ctx.requires_account:
            errors.append("Account code must be specified on every line item of an approved document.")
        return None
    account = ctx.tenant.account(str(code))
    if account is None or account["Type"] in ("BANK", "CURRENT"):
        errors.append(f"Account code '{code}' is not a valid code for this document.")
        return None
    if account["Status"] != "ACTIVE":
        errors.append(f"Account code '{code}' has been archived, or has been deleted. "
                      "Each line item must reference a valid account.")
        return None
    return account


def _line_tax(ctx: LineContext, line: dict, account: dict | None, amount: Decimal, raw: dict,
              errors: list[str]) -> Decimal:
    if ctx.amount_types == "NoTax":
        line["TaxType"] = "NONE"
        return Decimal(0)
    tax_type = line.get("TaxType") or (account or {}).get("TaxType")
    if not tax_type:
        return Decimal(0)
    rate = ctx.tenant.tax_rate(str(tax_type))
    usable = "CanApplyToExpenses" if ctx.doc_type == "ACCPAY" else "CanApplyToRevenue"
    if rate is None or not rate.get(usable):
        errors.append(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction.")
        return Decimal(0)
    line["TaxType"] = rate["TaxType"]
    override = to_decimal(raw.get("TaxAmount"))
    if override is not None:
        return quantize(override, 2)
    pct = Decimal(str(rate["EffectiveRate"]))
    if ctx.amount_types == "Inclusive":
        return quantize(amount * pct / (_HUNDRED + pct), 2)
    return quantize(amount * pct / _HUNDRED, 2)


def _ordered(line: dict, item: dict | None, amount: Decimal, tax: Decimal) -> dict:
    out = {"LineItemID": line.pop("LineItemID", None) or new_id(), **line}
    out["TaxAmount"], out["LineAmount"] = float(tax), float(amount)
    out.setdefault("Tracking", [])
    if item is not None:
        out["Item"] = {"ItemID": item["ItemID"], "Name": item.get("Name"), "Code": item["Code"]}
    return out


def totals(lines: list[BuiltLine], amount_types: str) -> dict:
    amount = sum((b.amount for b in lines), Decimal(0))
    tax = sum((b.tax for b in lines), Decimal(0))
    discount = sum((b.discount for b in lines), Decimal(0))
    sub = amount - tax if amount_types == "Inclusive" else amount
    return {"SubTotal": float(sub), "TotalTax": float(tax), "Total": float(sub + tax),
            "TotalDiscount": float(discount), "IsDiscounted": discount != 0}
