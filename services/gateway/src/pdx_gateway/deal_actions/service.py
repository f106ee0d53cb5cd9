"""The deal actions' use cases, shared by the signed-link pages and Pipedrive's JSON modals: what an action will do
(read-only: the deal's outcomes, the settings, the deal from Pipedrive), and doing it once per request id.

    actions = DealActions(request)
    plan = await actions.plan("7001", "42", "create-quote")      # steps, or a refusal in plain words
    outcome = await actions.act("7001", "42", "create-quote", request_id, user_id="12")
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from pdx_common.company_settings import CompanySettings
from pdx_gateway.adapters.sync_log import MongoSyncLog, PipedriveDealTitles
from pdx_gateway.app_ui.catalog import choices
from pdx_gateway.deal_actions import plan as words
from pdx_gateway.deal_actions.plan import Plan, Refusal
from pdx_gateway.deal_actions.store import MongoDealRequests
from pdx_gateway.errors import NotFound, NothingToReplay
from pdx_gateway.handlers import replay_deal, request_drafts
from pdx_gateway.keys import CONNECTIONS, CONNECTOR, DB, PUBLISHER, SETTINGS_STORE, STAGE_EVENTS
from pdx_mapper.adapters.pipedrive import PipedriveDealReader
from pdx_mapper.preview import preview_draft

TITLE_LENGTH = 120
PREVIEW_SECONDS = 7.0  # Pipedrive gives a modal's request 10 s in all


class Once:
    """The requests' indexes, made by the first request that needs them (the store is the parent app's, set up after
    this sub-app is built)."""

    def __init__(self) -> None:
        self._done, self._lock = False, asyncio.Lock()

    async def once(self, make: Callable[[], Awaitable[None]]) -> None:
        if self._done:
            return
        async with self._lock:
            if not self._done:
                await make()
                self._done = True


INDEXES = web.AppKey("deal_action_indexes", Once)


@dataclass(frozen=True)
class DealView:
    title: str
    url: str
    company_domain: str | None


@dataclass(frozen=True)
class Outcome:
    refused: bool
    message: str
    fix: str | None = None

    def stored(self) -> dict[str, Any]:
        return {"refused": self.refused, "message": self.message, "fix": self.fix}

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> "Outcome | None":
        if not isinstance(stored, dict) or not isinstance(stored.get("message"), str):
            return None
        return cls(bool(stored.get("refused")), stored["message"], stored.get("fix"))


class DealActions:
    def __init__(self, request: web.Request) -> None:
        self._request, self._config = request, request.config_dict

    async def requests(self) -> MongoDealRequests:
        store = MongoDealRequests(self._config[DB])
        await self._config[INDEXES].once(store.ensure_indexes)
        return store

    async def deal(self, company_id: str, deal_id: str) -> DealView:
        """Its title (from Pipedrive; "Deal 42" when Pipedrive cannot say) and its address in Pipedrive."""
        pipedrive = await self._config[CONNECTIONS].get("pipedrive", company_id) or {}
        domain = pipedrive.get("company_domain") or None
        connector = self._config.get(CONNECTOR)
        titles = (await PipedriveDealTitles(connector.pipedrive_api(company_id)).titles([deal_id])
                  if connector is not None else {})
        title = titles.get(deal_id) or f"Deal {deal_id}"
        title = title if len(title) <= TITLE_LENGTH else title[:TITLE_LENGTH - 1].rstrip() + "…"
        return DealView(title, f"https://{domain or 'app'}.pipedrive.com/deal/{deal_id}", domain)

    async def installed(self, company_id: str) -> bool:
        return await self._config[CONNECTIONS].get("pipedrive", company_id) is not None

    async def plan(self, company_id: str, deal_id: str, action: str) -> Plan:
        settings = await self._config[SETTINGS_STORE].get(company_id)
        rows = await self._with_xero_status(company_id, await self._config[STAGE_EVENTS].status(company_id, deal_id))
        kind = words.kind_of(action)
        if kind is None:
            last = await self._config[STAGE_EVENTS].last_stage_event(company_id, deal_id)
            return words.replay_plan(rows, settings, await self._stage_names(company_id, rows),
                                     has_stage_move=last is not None)
        xero = await self._config[CONNECTIONS].get("xero", company_id) or {}
        connected = xero.get("status") == "ok" and bool(xero.get("tenant_id"))
        refusal = words.create_refusal(kind, settings, rows, xero_connected=connected)
        if refusal is None:
            refusal = await self._mappable(company_id, deal_id, settings, kind)
        return words.create_plan(kind, settings, rows, xero.get("tenant_name") if connected else None, refusal)

    async def _with_xero_status(self, company_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each made document's state in Xero now, from the panel's read model (kept current by Xero's webhooks),
        so the page says up front that Replay leaves an approved invoice alone (the writer checks Xero again)."""
        ids = [r["xero_id"] for r in rows if r.get("state") == "created" and r.get("xero_id")]
        if not ids:
            return rows
        cursor = self._config[DB].xero_documents.find({"company_id": company_id, "xero_id": {"$in": ids}},
                                                      {"xero_id": 1, "status": 1})
        status = {doc["xero_id"]: doc.get("status") async for doc in cursor}
        return [{**r, "xero_status": status.get(r.get("xero_id"))} if r.get("xero_id") else r for r in rows]

    async def act(self, company_id: str, deal_id: str, action: str, request_id: str,
                  user_id: str | None) -> Outcome:
        """Checks again (the deal or settings may have changed since the page was shown), then publishes one event
        whose id is the request's."""
        plan = await self.plan(company_id, deal_id, action)
        if plan.refusal is not None:
            return Outcome(True, plan.refusal.message, plan.refusal.fix)
        if plan.kind is not None:
            settings = await self._config[SETTINGS_STORE].get(company_id)
            trigger_id = words.on_demand_trigger(plan.kind, settings, request_id)
            await request_drafts(company_id, deal_id, trigger_id, self._config[PUBLISHER], request_id=request_id,
                                 user_id=user_id)
            return Outcome(False, words.started(action))
        try:
            await replay_deal(company_id, deal_id, self._config[PUBLISHER], self._config[STAGE_EVENTS],
                              regenerate=True, request_id=request_id, user_id=user_id)
        except (NothingToReplay, NotFound) as exc:  # settled between the check and now
            fix = exc.details.get("fix")
            return Outcome(True, f"{exc.message[:1].upper()}{exc.message[1:]}.", fix if isinstance(fix, str) else None)
        # The settings app's sync log then says a replay is under way for the deal's failure.
        await MongoSyncLog(self._config[DB]).replayed(company_id, deal_id, datetime.now(UTC))
        return Outcome(False, words.started(action))

    async def _stage_names(self, company_id: str, rows: list[dict[str, Any]]) -> dict[int, str]:
        if not any(words.STAGE_TRIGGER.fullmatch(str(r.get("trigger_id") or "").split("@", 1)[0]) for r in rows):
            return {}
        stages = await choices(self._request, company_id).pipedrive("stages", lambda c: c.stages())
        return {stage.id: stage.name for stage in stages.values or []}

    async def _mappable(self, company_id: str, deal_id: str, settings: CompanySettings, kind: str) -> Refusal | None:
        """The engine's own mapping of the deal as it is now: its problem, if it cannot become a draft."""
        connector = self._config.get(CONNECTOR)
        if connector is None:
            return Refusal("The app cannot read the deal from Pipedrive right now.", "Try again later.")
        reader = PipedriveDealReader(connector.session, connector.pipedrive_tokens(),
                                     connector.settings.pipedrive_api_url)
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        try:
            async with asyncio.timeout(PREVIEW_SECONDS):
                result = await preview_draft(reader, company_id, deal_id, settings, kind, today)  # type: ignore[arg-type]
        except TimeoutError:
            return Refusal("Pipedrive did not answer in time, so the deal could not be checked.",
                           "Try again in a minute.")
        if result.problem is None:
            return None
        return words.problem_refusal(result.problem.code, result.problem.message, result.problem.fix)
