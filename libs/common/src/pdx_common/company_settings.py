"""A company's settings document (collection ``company_settings``): the contract between the settings API that
writes it and the mapper that reads it. Validation only; the behaviour lives in the services.
"""

import re
from decimal import Decimal
from typing import Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

DocumentAction = Literal["invoice", "quote", "none"]
DescriptionSource = Literal["name_and_comments", "name", "product_description", "comments"]
_POSITIVE_ID = re.compile(r"[1-9][0-9]{0,17}")  # a Pipedrive id written as text: "12", never "012", "-1" or "x"
# Xero's BrandingThemeID: a UUID, with or without hyphens (Xero refuses a whole request whose GUID it cannot read).
_THEME_ID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Switchable:
    """What a trigger makes now: its action, or "none" while it is switched off (``enabled`` false). No fields of
    its own (the models declare ``action`` and ``enabled``), so every model keeps its fields in their order."""

    @property
    def makes(self) -> DocumentAction:
        return self.action if self.enabled else "none"  # type: ignore[attr-defined]


class Trigger(_Switchable, Strict):
    """When a deal ENTERS ``stage_id`` of ``pipeline_id``, make ``action``; a trigger that is not ``enabled`` makes
    nothing, exactly like action "none", and keeps its id (switching it back on does not make a second draft)."""

    pipeline_id: int = Field(gt=0)
    stage_id: int = Field(gt=0)
    action: DocumentAction
    enabled: bool = True

    @property
    def id(self) -> str:
        # The stage alone names the trigger: editing its action must not let a deal get a second draft there.
        return f"p{self.pipeline_id}-s{self.stage_id}"


class WonTrigger(_Switchable, Strict):
    """When a deal of ``pipeline_id`` is marked won (Pipedrive's Won button sets ``status`` to "won"; the stage stays
    where it was), make ``action``. Beside the stage triggers: a deal can fire both, each at most once."""

    pipeline_id: int = Field(gt=0)
    action: DocumentAction
    enabled: bool = True

    @property
    def id(self) -> str:
        return f"p{self.pipeline_id}-won"


class OnDemandTrigger(_Switchable, Strict):
    """A person's "Create draft invoice" or "Create draft quote" on a deal, whatever its stage (not stored)."""

    action: Literal["invoice", "quote"]
    enabled: bool = True

    @property
    def id(self) -> str:
        return f"manual-{self.action}"


class OnDemand(Strict):
    """What salespeople may make from a deal's panel: a draft invoice, a draft quote, each once per deal unless
    ``more_than_once`` (then every confirmed request makes a new draft)."""

    invoice: bool = True
    quote: bool = True
    more_than_once: bool = False


AnyTrigger = Trigger | WonTrigger | OnDemandTrigger


class CustomerRules(Strict):
    contact_from: Literal["organization_then_person", "person"] = "organization_then_person"
    create_missing: bool = True
    # The Pipedrive field (an organisation's or person's custom field, by key or name) whose value is the Xero
    # contact's tax number (VAT/GST/ABN); None: no tax number is sent.
    tax_number_field: str | None = Field(default=None, max_length=100)


class RecordSync(Strict):
    """Master-data sync, Pipedrive -> Xero. ``update_xero``: when a person, organisation or product already linked to
    a Xero contact or item changes in Pipedrive, the mapped fields are updated in Xero (bursts coalesced).
    ``create_on_add``: customers and products are created in Xero as soon as they appear in Pipedrive, not only when
    a first draft needs them. Deleting or archiving in Pipedrive archives nothing in Xero."""

    update_xero: bool = True
    create_on_add: bool = False


class DealFieldRef(Strict):
    """A Pipedrive deal custom field: its 40-character key and its type (``varchar``, ``double``, ``monetary``...)."""

    key: str = Field(min_length=1, max_length=64)
    field_type: str = Field(default="varchar", max_length=32)


class PaidStage(Strict):
    """When an invoice made for a deal of ``pipeline_id`` is paid in full, move the deal to ``stage_id``."""

    pipeline_id: int = Field(gt=0)
    stage_id: int = Field(gt=0)


class DealFields(Strict):
    """Numbers back on the deal (opt-in: nothing is written until a field or a paid stage is chosen). When Xero
    reports a change to a draft we created, the chosen deal fields get its status, amount due, number and link in
    one Pipedrive call per change."""

    status: DealFieldRef | None = None
    amount_due: DealFieldRef | None = None
    number: DealFieldRef | None = None
    link: DealFieldRef | None = None
    paid_stages: tuple[PaidStage, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.status or self.amount_due or self.number or self.link or self.paid_stages)

    def paid_stage_for(self, pipeline_id: int | None) -> int | None:
        return next((p.stage_id for p in self.paid_stages if p.pipeline_id == pipeline_id), None)


class ProductRules(Strict):
    unmatched: Literal["description_only", "default_item", "create_item"] = "description_only"
    default_item_code: str | None = Field(default=None, max_length=30)
    no_products: Literal["single_line", "refuse"] = "single_line"
    # A product line's description: the product's name and the deal product's comments ("Setup - 2 days on site"),
    # the name alone, the product's own description, or the comments alone; an empty one falls back to the name.
    description_from: DescriptionSource = "name_and_comments"

    @model_validator(mode="after")
    def _default_item_named(self) -> "ProductRules":
        if self.unmatched == "default_item" and not self.default_item_code:
            raise ValueError("products.unmatched is 'default_item' but products.default_item_code is empty")
        return self


class MoneyRules(Strict):
    sales_account_code: str = Field(default="200", min_length=1, max_length=10)
    # Pipedrive tax percentage (as text, e.g. "15") -> Xero TaxType; "0" covers untaxed lines.
    tax_types: dict[str, str] = Field(default_factory=dict)
    default_tax_type: str | None = None
    # Revenue accounts other than sales_account_code: by Pipedrive pipeline id and by Pipedrive product id (as text,
    # e.g. {"3": "210"}). A product's line uses its product's account, else its deal's pipeline's, else the default.
    account_by_pipeline: dict[str, str] = Field(default_factory=dict)
    account_by_product: dict[str, str] = Field(default_factory=dict)

    @field_validator("account_by_pipeline", "account_by_product")
    @classmethod
    def _accounts(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        setting, what = f"money.{info.field_name}", info.field_name.removeprefix("account_by_")
        for key, code in value.items():
            if not _POSITIVE_ID.fullmatch(key):
                raise ValueError(f"{setting} has {key!r}, which is not a {what} id: use the {what}'s number in "
                                 "Pipedrive, e.g. \"3\"")
            if not code or code != code.strip() or len(code) > 10:
                raise ValueError(f"{setting}[{key!r}] is {code!r}: name a Xero account code of 1 to 10 characters, "
                                 "e.g. 200")
        return value

    @field_validator("tax_types")
    @classmethod
    def _percentages(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[Decimal, str] = {}
        for key, tax_type in value.items():
            try:
                rate = Decimal(key)
            except ArithmeticError:
                raise ValueError(f"money.tax_types key {key!r} is not a percentage") from None
            if not rate.is_finite() or not 0 <= rate <= 100:
                raise ValueError(f"money.tax_types key {key!r} is not a percentage between 0 and 100")
            if rate in seen:
                raise ValueError(f"money.tax_types has {seen[rate]!r} and {key!r}, the same rate twice")
            if not tax_type.strip():
                raise ValueError(f"money.tax_types[{key!r}] is empty: name a Xero tax type, e.g. OUTPUT2")
            seen[rate] = key
        return value


class TrackingMapping(Strict):
    """A Xero tracking category on every line: ``name`` is the category, ``option`` a template for its option."""

    name: str = Field(min_length=1, max_length=100)
    option: str = Field(min_length=1, max_length=255)


class FieldMappings(Strict):
    """Templates use ``{deal.title}``, ``{deal.id}``, ``{org.name}``, ``{person.name}``, ``{deal.custom.<name>}``."""

    reference: str = Field(default="{deal.title}", max_length=255)
    # The document date: a deal field (e.g. "won_time", "expected_close_date" or a custom date field), else today.
    date_field: str | None = None
    due_days: int = Field(default=14, ge=0, le=365)
    due_days_field: str | None = None  # a numeric deal custom field (name or key) that overrides due_days
    quote_title: str = Field(default="{deal.title}", max_length=100)  # Xero's Title holds 100 characters
    quote_summary: str | None = None
    quote_terms: str | None = None
    quote_expiry_days: int = Field(default=30, ge=0, le=365)
    tracking: tuple[TrackingMapping, ...] = Field(default=(), max_length=2)  # Xero allows two categories
    # The Xero branding theme of every invoice and quote (its BrandingThemeID); None: the organisation's default.
    branding_theme_id: str | None = None

    @field_validator("branding_theme_id", mode="before")
    @classmethod
    def _theme_id(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None  # a blank choice is "the organisation's default"
        if isinstance(value, str) and not _THEME_ID.fullmatch(value):
            raise ValueError(f"fields.branding_theme_id {value[:70]!r} is not a Xero branding theme id (a UUID such "
                             "as dabc7637-62c1-4941-8a6e-ee44fa5090e7)")
        return value


class CompanySettings(Strict):
    version: int = Field(default=1, ge=1)
    # The company's time zone (IANA name): a deal won on a Monday morning in Auckland is dated Monday.
    timezone: str = "UTC"
    triggers: tuple[Trigger, ...] = ()
    won_triggers: tuple[WonTrigger, ...] = ()
    on_demand: OnDemand = OnDemand()
    on_reentry: Literal["no_second_draft", "new_draft"] = "no_second_draft"
    customer: CustomerRules = CustomerRules()
    products: ProductRules = ProductRules()
    money: MoneyRules = MoneyRules()
    fields: FieldMappings = FieldMappings()
    sync: RecordSync = RecordSync()
    deal_fields: DealFields = DealFields()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {value!r} is not an IANA time zone name, e.g. Pacific/Auckland") from None
        return value

    @model_validator(mode="after")
    def _one_action_per_stage(self) -> "CompanySettings":
        seen: set[tuple[int, int]] = set()
        for trigger in self.triggers:
            key = (trigger.pipeline_id, trigger.stage_id)
            if key in seen:
                raise ValueError(f"stage {trigger.stage_id} of pipeline {trigger.pipeline_id} has two triggers")
            seen.add(key)
        pipelines: set[int] = set()
        for won in self.won_triggers:
            if won.pipeline_id in pipelines:
                raise ValueError(f"pipeline {won.pipeline_id} has two \"deal marked won\" triggers")
            pipelines.add(won.pipeline_id)
            # A deal moved into that stage and marked won would get two of the same document: almost always a
            # mistake (two invoices for one sale), so it is refused; a quote at a stage and an invoice when won is not.
            twin = next((t for t in self.triggers if t.pipeline_id == won.pipeline_id and t.makes != "none"
                         and t.makes == won.makes), None)
            if twin is not None:
                raise ValueError(f"pipeline {won.pipeline_id} makes a DRAFT {won.makes} both when a deal enters stage "
                                 f"{twin.stage_id} and when it is marked won")
        paid_pipelines: set[int] = set()
        for paid in self.deal_fields.paid_stages:
            if paid.pipeline_id in paid_pipelines:
                raise ValueError(f"pipeline {paid.pipeline_id} has two \"when paid, move to\" stages")
            paid_pipelines.add(paid.pipeline_id)
            # Our own move into that stage must never make a draft: a paid stage cannot be a trigger stage.
            trigger = self.trigger_for(paid.pipeline_id, paid.stage_id)
            if trigger is not None and trigger.makes != "none":
                raise ValueError(f"stage {paid.stage_id} of pipeline {paid.pipeline_id} makes a DRAFT "
                                 f"{trigger.makes}, so it cannot also be where paid deals are moved")
        return self

    def won_trigger_for(self, pipeline_id: int | None) -> WonTrigger | None:
        return next((t for t in self.won_triggers if t.pipeline_id == pipeline_id), None)

    def trigger_by_id(self, trigger_id: str) -> AnyTrigger | None:
        """The trigger a ledger/replay id names: ``p3-s7`` (stage), ``p3-won`` (marked won), ``manual-invoice`` /
        ``manual-quote`` (on demand); a suffix ``@...`` (one entry, or one request) is ignored. None: not set up."""
        base = trigger_id.split("@", 1)[0]
        if base in ("manual-invoice", "manual-quote"):
            action = base.removeprefix("manual-")
            return OnDemandTrigger(action=action, enabled=getattr(self.on_demand, action))
        return next((t for t in (*self.triggers, *self.won_triggers) if t.id == base), None)

    def trigger_for(self, pipeline_id: int | None, stage_id: int | None) -> Trigger | None:
        for trigger in self.triggers:
            if trigger.stage_id == stage_id and (pipeline_id is None or trigger.pipeline_id == pipeline_id):
                return trigger
        return None


def _known(model: type[BaseModel], data: dict) -> dict:
    """Only the keys ``model`` knows, nested models included (a stored document may predate a removed setting)."""
    return {name: _known_value(model.model_fields[name].annotation, value)
            for name, value in data.items() if name in model.model_fields}


def _known_value(annotation: object, value: object) -> object:
    if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _known(annotation, value)
    args = get_args(annotation)
    if get_origin(annotation) is tuple and args and isinstance(value, list | tuple):  # e.g. the triggers
        return [_known_value(args[0], item) for item in value]
    return value


def stored_settings(document: dict) -> CompanySettings:
    """Settings read back from the store: validated, ignoring keys an older version wrote. The API stays strict."""
    return CompanySettings.model_validate(_known(CompanySettings, document))
