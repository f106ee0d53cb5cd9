"""The events and commands that cross service boundaries. Frozen; every producer and consumer imports these.

Events are past tense (``DealChanged``), commands imperative (``CreateInvoice``). Each carries an ``id`` (for
deduplication), ``occurred_at``, ``schema_version`` and the company and deal it belongs to.
"""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, TypeAdapter, model_serializer

SCHEMA_VERSION = 1


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class CompanyMessage(BaseModel):
    """What every message carries: its id (for deduplication), when, its schema version and its company."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_id)
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: int = SCHEMA_VERSION
    company_id: str = Field(min_length=1)


class Message(CompanyMessage):
    """A message about one deal."""

    deal_id: str = Field(min_length=1)


class DealChanged(Message):
    """A Pipedrive deal webhook (v2), accepted by the gateway. ``event_id`` is Pipedrive's ``meta.id``."""

    type: Literal["DealChanged"] = "DealChanged"
    event_id: str
    action: Literal["create", "change", "delete"]
    change_source: str | None = None
    attempt: int = 1
    pipedrive_user_id: str | None = None
    # Kept so older events still validate; never filled or trusted: links use the company domain saved at install.
    host: str | None = None
    event_timestamp: datetime | None = None
    data: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    replay_of: str | None = None  # the DealChanged id this one re-publishes, when replayed
    # A replay of failed triggers: the mapper re-runs exactly these, with the deal as Pipedrive has it now.
    replay_triggers: tuple[str, ...] = ()
    # Why the named triggers run when no stage move fired them: a person's Replay (a failed trigger is tried again, a
    # made draft is regenerated in place), a person's "Create draft invoice/quote" on the deal, or a backfill (deals
    # already in a trigger stage; a made draft is left alone). None: a webhook, or a replay from before this field.
    request: Literal["replay", "on_demand", "backfill"] | None = None

    @model_serializer(mode="wrap")
    def _request_as_before_when_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a request the event is written exactly as before the field existed (an older consumer forbids
        unknown keys)."""
        data = handler(self)
        if isinstance(data, dict) and data.get("request") is None:
            data.pop("request", None)
        return data

    @property
    def origin_id(self) -> str:
        """What makes two events the same: Pipedrive's event id, or our own id for a replay (a new request)."""
        return self.id if self.replay_of else self.event_id


class PostalAddress(BaseModel):
    """A structured address, from Pipedrive's address components (street number and route, locality,
    admin_area_level_1, postal_code, country); ``line1`` alone when Pipedrive has only the formatted text."""

    model_config = ConfigDict(frozen=True)

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Contact(BaseModel):
    """Who the Xero contact is and how to find it. ``contact_number`` is our natural key for the Pipedrive record
    (``pd-org-12``, ``pd-person-7``); the ContactNumber sent to Xero adds the company (see
    ``pdx_common.contact_matching.xero_contact_number``) so companies sharing one Xero organisation never collide.
    Consumers ignore unknown keys here (no ``extra="forbid"``), so fields can be added."""

    model_config = ConfigDict(frozen=True)

    name: str
    contact_number: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address: str | None = None  # the one-line address (older commands); ``postal`` is preferred when set
    source: Literal["organization", "person"]
    source_id: str
    postal: PostalAddress | None = None
    tax_number: str | None = None
    person_id: str | None = None  # an organisation's contact person, whose email and phone it carries


class NewItem(BaseModel):
    """An item to create in Xero when a product's code is unknown there (product rule ``create``)."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    description: str | None = None
    unit_price: Decimal | None = None
    account_code: str | None = None
    tax_type: str | None = None


class LineItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    quantity: Decimal
    unit_amount: Decimal
    item_code: str | None = None
    account_code: str | None = None
    tax_type: str | None = None
    discount_rate: Decimal | None = None
    discount_amount: Decimal | None = None
    tax_rate: Decimal | None = None  # Pipedrive's percentage; the writer maps it when tax_type is not set
    tracking: tuple[tuple[str, str], ...] = ()
    # When item_code is not an item in Xero: drop the code, use default_item_code, or create the item.
    unmatched: Literal["description_only", "default_item", "create_item"] = "description_only"
    default_item_code: str | None = None
    create_item: NewItem | None = None


class DocumentCommand(Message):
    """What both commands share: the ledger key is (company, deal, trigger)."""

    trigger_id: str
    source_event_id: str
    settings_version: int = 0
    contact: Contact
    create_contact: bool = True  # customer rule: create the Xero contact when none matches
    line_items: tuple[LineItem, ...]
    currency_code: str
    line_amount_types: Literal["Exclusive", "Inclusive", "NoTax"]
    date: date
    reference: str | None = None
    deal_title: str
    deal_value: Decimal | None = None
    deal_url: str
    branding_theme_id: str | None = None  # Xero's BrandingThemeID; None: the organisation's default theme
    # A person's Replay: when the trigger's draft exists and is still a DRAFT in Xero, update it in place (same
    # document and number, lines replaced, contact updated) instead of skipping; never a second document.
    regenerate: bool = False
    pipeline_id: int | None = None  # the deal's pipeline when the command was made (the paid stage is per pipeline)

    @model_serializer(mode="wrap")
    def _as_before_when_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A command without a branding theme (or not regenerating, or without a pipeline) is written exactly as
        before those fields existed, so a writer of the previous release still reads it during an upgrade (messages
        forbid unknown keys)."""
        data = handler(self)
        if isinstance(data, dict):
            for name in ("branding_theme_id", "pipeline_id"):
                if data.get(name) is None:
                    data.pop(name, None)
            if data.get("regenerate") is False:
                data.pop("regenerate", None)
        return data

    @property
    def ledger_key(self) -> str:
        return f"{self.company_id}:{self.deal_id}:{self.trigger_id}"


class CreateInvoice(DocumentCommand):
    type: Literal["CreateInvoice"] = "CreateInvoice"
    due_date: date | None = None


class CreateQuote(DocumentCommand):
    type: Literal["CreateQuote"] = "CreateQuote"
    expiry_date: date | None = None
    title: str | None = None
    summary: str | None = None
    terms: str | None = None


DocumentKind = Literal["invoice", "quote"]


class DocumentWritten(Message):
    """What a draft written to Xero is: its number, total, status and link. Created or updated, see below."""

    command_id: str
    trigger_id: str
    kind: DocumentKind
    tenant_id: str
    xero_id: str
    number: str | None
    total: Decimal
    currency_code: str
    status: str
    xero_url: str
    contact_name: str
    contact_id: str | None = None  # Xero's ContactID
    contact_number: str | None = None  # the Pipedrive customer it stands for: "pd-org-12" or "pd-person-7"
    issue_date: date | None = None
    due_date: date | None = None
    warnings: tuple[str, ...] = ()
    pipeline_id: int | None = None  # the deal's pipeline when the draft was made, when known

    @model_serializer(mode="wrap")
    def _as_before_without_pipeline(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if isinstance(data, dict) and data.get("pipeline_id") is None:
            data.pop("pipeline_id", None)
        return data


class DocumentCreated(DocumentWritten):
    type: Literal["DocumentCreated"] = "DocumentCreated"


class DocumentUpdated(DocumentWritten):
    """A Replay regenerated the trigger's existing draft in place: same document and number, new lines and
    contact. Never metered (only creations are billed)."""

    type: Literal["DocumentUpdated"] = "DocumentUpdated"


class DocumentFailed(Message):
    """A failure a salesperson can act on: ``message`` says what is wrong, ``fix`` how to put it right."""

    type: Literal["DocumentFailed"] = "DocumentFailed"
    command_id: str | None = None
    source_event_id: str | None = None
    trigger_id: str | None = None
    kind: DocumentKind | None = None
    stage: Literal["mapping", "xero", "connection"]
    code: str
    message: str
    fix: str
    retryable: bool = False


class DocumentParked(Message):
    """Xero is disconnected: the command waits (not lost, not failed, not billed) until the company reconnects."""

    type: Literal["DocumentParked"] = "DocumentParked"
    command_id: str
    trigger_id: str
    kind: DocumentKind
    reason: str


class DocumentSkipped(Message):
    type: Literal["DocumentSkipped"] = "DocumentSkipped"
    trigger_id: str
    source_event_id: str
    reason: str


Command = Annotated[CreateInvoice | CreateQuote, Field(discriminator="type")]
Result = Annotated[DocumentCreated | DocumentUpdated | DocumentFailed | DocumentSkipped | DocumentParked,
                   Field(discriminator="type")]

COMMAND = TypeAdapter(Command)
RESULT = TypeAdapter(Result)


class DeadLettered(Message):
    """A message that failed every automatic retry. ``payload`` is the original, for replay by re-publishing."""

    type: Literal["DeadLettered"] = "DeadLettered"
    source_topic: str
    consumer: str
    payload: dict[str, Any]
    error: str
    attempts: int


class RecordChanged(CompanyMessage):
    """A Pipedrive person, organisation or product webhook (v2), accepted by the gateway (topic ``RECORD_EVENTS``,
    keyed by company). Thin on purpose: the mapper reads the record as Pipedrive has it when it syncs, so arrival
    order means nothing. ``event_id`` is Pipedrive's ``meta.id``."""

    type: Literal["RecordChanged"] = "RecordChanged"
    entity: Literal["person", "organization", "product"]
    entity_id: str = Field(min_length=1)
    action: Literal["create", "change", "delete"]
    event_id: str
    event_timestamp: datetime | None = None
    change_source: str | None = None
    pipedrive_user_id: str | None = None

    @property
    def deal_id(self) -> str:
        """What the consumers' logs and dead letters name in place of a deal: ``organization-12``."""
        return f"{self.entity}-{self.entity_id}"


ContactField = Literal["Name", "FirstName", "LastName", "EmailAddress", "Phones", "Addresses", "TaxNumber"]


class ContactSync(BaseModel):
    """One Pipedrive customer as a Xero contact should now look. ``fields`` are the Xero fields this record gives
    (an organisation: Name, Addresses, TaxNumber; a person: all of them); the others are left as they are in Xero.
    ``create``: make the contact when none is linked (the company's "create as soon as they appear")."""

    model_config = ConfigDict(frozen=True)

    contact: Contact
    fields: tuple[ContactField, ...]
    create: bool = False


class ItemSync(BaseModel):
    """One Pipedrive product as a Xero item should now look: ``item`` (code, name, description, tax type, account)
    and the product's prices by currency (the writer uses the organisation's base currency's; none: the price is
    left as it is in Xero). ``create``: make the item when none is linked."""

    model_config = ConfigDict(frozen=True)

    item: NewItem
    prices: dict[str, Decimal] = Field(default_factory=dict)
    create: bool = False
    product_id: str | None = None


class SyncRecords(CompanyMessage):
    """Master-data sync for one company (topic ``XERO_COMMANDS``, keyed by company like the drafts, so the writer
    shares the organisation's budget fairly between them): up to 50 contacts and 50 items, coalesced by the mapper.
    ``deleted``: records Pipedrive deleted meanwhile (nothing is archived in Xero; the writer only notes it)."""

    type: Literal["SyncRecords"] = "SyncRecords"
    contacts: tuple[ContactSync, ...] = Field(default=(), max_length=50)
    items: tuple[ItemSync, ...] = Field(default=(), max_length=50)

    @property
    def ledger_key(self) -> str:
        return f"{self.company_id}:sync:{self.id}"

    @property
    def deal_id(self) -> str:
        """What the consumers' logs and dead letters name in place of a deal."""
        return "sync"


RECORD_CHANGED = TypeAdapter(RecordChanged)
SYNC_RECORDS = TypeAdapter(SyncRecords)
