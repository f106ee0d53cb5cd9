"""Pipedrive webhook v2 payloads, validated, and turned into ``DealChanged``. Pure."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pdx_common.contracts import DealChanged


class WebhookMeta(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: str = Field(min_length=1, max_length=128)
    action: Literal["create", "change", "delete"]
    entity: str
    entity_id: str = Field(min_length=1)
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


def to_deal_changed(hook: PipedriveWebhook) -> DealChanged:
    meta = hook.meta
    return DealChanged(company_id=meta.company_id, deal_id=meta.entity_id, event_id=meta.id, action=meta.action,
                       change_source=meta.change_source, attempt=meta.attempt, pipedrive_user_id=meta.user_id,
                       host=meta.host,
                       event_timestamp=meta.timestamp, data=hook.data, previous=hook.previous)
