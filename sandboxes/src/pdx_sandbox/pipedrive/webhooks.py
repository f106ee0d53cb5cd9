"""Webhooks v2 delivery (entity deal, person, organization, product): one event per matching webhook, POSTed with
HTTP Basic auth, retried like Pipedrive.

A non-2xx answer or a timeout is retried after ``retry_delays`` (sandbox seconds: 3, 30, 150 by default), keeping
``meta.id`` and counting ``meta.attempt`` up to 4. Example body of a stage move::

    {"meta": {"action": "change", "entity": "deal", "entity_id": "1", "id": "<uuid>", "company_id": "7001",
              "user_id": "12001", "timestamp": "2025-05-01T10:00:00.000Z", "version": "2.0", "webhook_id": "1",
              "type": "general", "change_source": "app", "attempt": 1, "is_bulk_edit": false,
              "host": "demo.pipedrive.com"},
     "data": {"id": 1, "title": "...", "stage_id": 5, "custom_fields": {"<key>": {"type": "varchar", "value": "PO-1"}}},
     "previous": {"stage_id": 4, "stage_change_time": null}}

A product's price edited through the API: ``meta`` ``{"action": "change", "entity": "product", "entity_id": "301",
"change_source": "api", ...}``, ``data`` the whole product as ``GET /api/v2/products/301`` answers it, ``previous``
``{"prices": [<the old prices>]}``. A delete: ``data`` null, ``previous`` the record as it was.
"""

import asyncio
import copy
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp

from pdx_sandbox.pipedrive.records import KINDS
from pdx_sandbox.pipedrive.store import FIELD_ENTITIES

if TYPE_CHECKING:
    from pdx_sandbox.pipedrive.state import PipedriveState

MAX_ATTEMPTS = 4
V1_ACTIONS = {"added": "create", "updated": "change", "deleted": "delete", "merged": "change"}


def wrap_custom_fields(state: "PipedriveState", values: dict[str, Any], entity: str = "deal") -> dict[str, Any]:
    """Webhooks v2 send custom fields as ``{type, value}``, unlike the API's bare values; an object value (monetary
    ``{value, currency}``, address components) is spread beside its type: ``{"type": "monetary", "value": 12,
    "currency": "NZD"}``."""
    defined = state.fields_of(entity) if entity in FIELD_ENTITIES else {}
    return {key: _wrapped((defined.get(key) or {}).get("field_type"), value) for key, value in values.items()}


def _wrapped(field_type: str | None, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict) and "value" in value:
        return {"type": field_type, **value}
    return {"type": field_type, "value": value}


def webhook_record(state: "PipedriveState", entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """``data``: the record as API v2 answers it, custom fields wrapped."""
    data = copy.deepcopy(record)
    data["custom_fields"] = wrap_custom_fields(state, data.get("custom_fields") or {}, entity)
    return data


def webhook_deal(state: "PipedriveState", deal: dict[str, Any]) -> dict[str, Any]:
    return webhook_record(state, "deal", deal)


def matches(webhook: dict[str, Any], action: str, entity: str) -> bool:
    wanted_action = V1_ACTIONS.get(webhook["event_action"], webhook["event_action"])
    return webhook["event_object"] in (entity, "*") and wanted_action in (action, "*")


class WebhookDispatcher:
    """Owns the delivery tasks of one app; ``close()`` cancels those still waiting to retry."""

    def __init__(self, state: "PipedriveState", session: aiohttp.ClientSession) -> None:
        self.state, self.session = state, session
        self._tasks: set[asyncio.Task] = set()

    def deal_event(self, action: str, deal_id: int, previous: dict | None, source: str) -> list[str]:
        return self.event("deal", action, deal_id, previous, source)

    def event(self, entity: str, action: str, entity_id: int, previous: dict | None, source: str) -> list[str]:
        """Record and send one event per webhook whose event_object is ``entity`` (or ``*``) and whose action
        matches. ``data`` is the record now (null on delete), ``previous`` the changed fields' old values (null on
        create; the record as it was on delete)."""
        state = self.state
        record = getattr(state, KINDS.get(entity, "deals")).get(entity_id)
        data = webhook_record(state, entity, record) if record is not None and action != "delete" else None
        if previous and "custom_fields" in previous:
            previous = {**previous, "custom_fields": wrap_custom_fields(state, previous["custom_fields"] or {},
                                                                        entity)}
        event_ids = [self._record(webhook, entity, action, entity_id, data, previous, source)
                     for webhook in list(state.webhooks.values()) if matches(webhook, action, entity)]
        for event_id in event_ids:
            self._spawn(self._deliver(event_id))
        return event_ids

    def _record(self, webhook: dict, entity: str, action: str, entity_id: int, data: dict | None,
                previous: dict | None, source: str) -> str:
        state = self.state
        event_id = str(uuid.uuid4())
        timestamp = state.clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        meta = {"action": action, "entity": entity, "entity_id": str(entity_id), "id": event_id,
                "company_id": str(state.company_id), "user_id": str(webhook.get("user_id") or state.user_id),
                "timestamp": timestamp, "version": "2.0", "webhook_id": str(webhook["id"]), "type": "general",
                "change_source": source, "attempt": 0, "is_bulk_edit": False,
                "host": f"{state.company_domain}.pipedrive.com"}
        body = {"meta": meta, "data": copy.deepcopy(data), "previous": copy.deepcopy(previous)}
        state.events[event_id] = {"webhook_id": webhook["id"], "body": body, "attempts": 0}
        return event_id

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event_id: str) -> None:
        ok = False
        for _ in range(max(1, self.state.duplicate_deliveries)):
            ok = await self.attempt(event_id)
        for delay in self.state.retry_delays:
            if ok or self.state.events[event_id]["attempts"] >= MAX_ATTEMPTS:
                return
            await asyncio.sleep(self.state.clock.real_seconds(delay))
            ok = await self.attempt(event_id)

    async def attempt(self, event_id: str) -> bool:
        """POST the event once more; record and return whether the receiver answered 2xx."""
        state = self.state
        event = state.events[event_id]
        webhook = state.webhooks.get(event["webhook_id"])
        if webhook is None:
            return True  # deleted since: Pipedrive stops delivering
        event["attempts"] += 1
        body = copy.deepcopy(event["body"])
        body["meta"]["attempt"] = min(event["attempts"], MAX_ATTEMPTS)
        record = {"webhook_id": webhook["id"], "event_id": event_id, "attempt": body["meta"]["attempt"],
                  "action": body["meta"]["action"], "entity_id": body["meta"]["entity_id"], "status": None,
                  "error": None, "time": state.clock.time()}
        try:
            record["status"] = await self._post(webhook, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        state.deliveries.append(record)
        webhook.update(last_delivery_time=state.now(), last_http_status=record["status"])
        return record["status"] is not None and 200 <= record["status"] < 300

    async def _post(self, webhook: dict, body: dict) -> int:
        headers = {}
        if webhook.get("http_auth_user"):
            headers["Authorization"] = aiohttp.encode_basic_auth(webhook["http_auth_user"],
                                                                 webhook.get("http_auth_password") or "")
        timeout = aiohttp.ClientTimeout(total=self.state.delivery_timeout)
        url = webhook["subscription_url"]
        async with self.session.post(url, json=body, headers=headers, timeout=timeout) as resp:
            await resp.read()
            return resp.status

    async def redeliver(self, event_id: str, times: int = 1) -> list[dict[str, Any]]:
        if event_id not in self.state.events:
            raise KeyError(event_id)
        start = len(self.state.deliveries)
        for _ in range(times):
            await self.attempt(event_id)
        return [d for d in self.state.deliveries[start:] if d["event_id"] == event_id]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
