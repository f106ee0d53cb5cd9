"""Pipedrive webhook v2 payloads, validated, and turned into ``DealChanged`` (deals) or ``RecordChanged`` (persons,
organisations, products). Pure."""

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pdx_common.contracts import DealChanged, RecordChanged

# Pipedrive's ids are positive integers (64-bit); a webhook naming anything else is not Pipedrive's.
ENTITY_ID = r"^[1-9][0-9]{0,17}$"
# The master-data objects whose webhooks the gateway accepts beside deals (issue 12: kept in sync with Xero).
RECORD_ENTITIES = ("person", "organization", "product")


class WebhookMeta(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=128)
    action: Literal["create", "change", "delete"]
    entity: str
    entity_id: str = Field(pattern=ENTITY_ID)
    company_id: str = Field(min_length=1)
    user_id: str | None = None
    timestamp: datetime | None = None
    version: Literal["2.0"]
    change_source: str | None = None
    host: str | None = None
    attempt: int = Field(default=1, ge=1, le=10)


class PipedriveWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    meta: WebhookMeta
    data: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None

    @field_validator("data")
    @classmethod
    def _positive_id(cls, data: dict[str, Any] | None) -> dict[str, Any] | None:
        if data and "id" in data and not positive_id(data["id"]):
            raise ValueError("data.id must be a positive integer")
        return data


def positive_id(value: Any) -> bool:
    """A Pipedrive id: a positive integer, as a JSON number or its decimal digits (never a bool or a float)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 < value < 10**18
    return isinstance(value, str) and re.fullmatch(ENTITY_ID, value) is not None


def to_deal_changed(hook: PipedriveWebhook) -> DealChanged:
    meta = hook.meta
    return DealChanged(company_id=meta.company_id, deal_id=meta.entity_id, event_id=meta.id, action=meta.action,
                       change_source=meta.change_source, attempt=meta.attempt, pipedrive_user_id=meta.user_id,
                       event_timestamp=meta.timestamp, data=hook.data, previous=hook.previous)


def to_record_changed(hook: PipedriveWebhook) -> RecordChanged:
    """Thin on purpose: the mapper reads the record as Pipedrive has it when it syncs, so ``data`` is not carried."""
    meta = hook.meta
    return RecordChanged(company_id=meta.company_id, entity=meta.entity, entity_id=meta.entity_id, event_id=meta.id,
                         action=meta.action, event_timestamp=meta.timestamp, change_source=meta.change_source,
                         pipedrive_user_id=meta.user_id)
