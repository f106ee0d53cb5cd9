"""Everything one sandbox company holds in memory: CRM records, OAuth grants, webhooks, rate windows and logs."""

import math
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdx_sandbox.clock import SandboxClock
from pdx_sandbox.faults import Faults
from pdx_sandbox.persist import StateFile
from pdx_sandbox.pipedrive import seed as demo
from pdx_sandbox.pipedrive.records import MasterData
from pdx_sandbox.pipedrive.store import Invalid, NotFound

if TYPE_CHECKING:
    from pdx_sandbox.pipedrive.webhooks import WebhookDispatcher

ACCESS_TOKEN_TTL = 3600.0
REFRESH_TOKEN_TTL = 60 * 86400.0
# What a restart keeps (``--state-file``): the company's records, the app's grants and webhook subscriptions. Not kept:
# the request and delivery logs, the events' retry schedules, rate windows, injected faults.
PERSISTED = ("pipelines", "stages", "organizations", "persons", "products", "deal_fields", "deals", "deal_products",
             "deal_discounts", "activities", "notes", "_attachment_ids", "codes", "access_tokens", "refresh_tokens",
             "token_users", "webhooks", "tokens_spent", "tokens_by_route", "users", "person_fields",
             "organization_fields", "app_settings_url", "jwt_secret", "panel_url", "panel_jwt_secret", "modals",
             "modal_jwt_secret")
# Seeded records a file written by an earlier version may lack; a restore adds them (ids and keys never clash).
SEEDED_ADDITIONS = ("users", "deal_fields", "person_fields", "organization_fields")
CODE_TTL = 300.0
SCOPES = "base deals:full contacts:full products:read activities:full admin"


class PipedriveState(MasterData):
    """One Pipedrive company. ``base_url`` is filled from the first request unless set by hand.

    Tests read ``requests`` (every API and OAuth call), ``deliveries`` (every webhook attempt) and ``tokens_spent``
    (``tokens_by_route``: the same per ``"PATCH /api/v2/persons/{id}"``).
    ``duplicate_deliveries=n`` sends each webhook event n times (attempt 1..n) as if the earlier answers were lost.
    """

    def __init__(self, clock: SandboxClock | None = None, *, company_id: int = 7001, company_domain: str = "demo",
                 company_name: str = "Demo Company Ltd",
                 client_id: str = "sandbox-pd-client", client_secret: str = "sandbox-pd-secret",
                 api_token: str = "sandbox-pd-api-token", retry_delays: Sequence[float] = (3, 30, 150),
                 burst_limit: int = 80, burst_window: float = 2.0, duplicate_deliveries: int = 1,
                 delivery_timeout: float = 10.0, seed: bool = True) -> None:
        super().__init__(clock or SandboxClock(), demo.USER_ID)
        self.company_id, self.company_domain, self.company_name = company_id, company_domain, company_name
        self.client_id, self.client_secret, self.api_token = client_id, client_secret, api_token
        self.retry_delays = tuple(retry_delays)
        self.burst_limit, self.burst_window = burst_limit, burst_window
        self.duplicate_deliveries, self.delivery_timeout = duplicate_deliveries, delivery_timeout
        self.base_url: str | None = None
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, float] = {}
        self.token_users: dict[str, int] = {}  # access or refresh token -> the user who consented
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.tokens_spent = 0
        self.tokens_by_route: dict[str, int] = {}
        self.dispatcher: WebhookDispatcher | None = None
        self.faults = Faults()
        self.state_file: StateFile | None = None
        self._windows: dict[str, tuple[float, int]] = {}
        self.app_settings_url: str | None = None  # the app's "Custom UI for app settings" iframe URL (host.py)
        self.jwt_secret: str | None = None  # the app's JWT secret; None: the client secret, as in Developer Hub
        # The deal page's app extensions (deal_page.py): the JSON panel's URL and the JSON modals (action name ->
        # URL) in its actions menu, each signed with its own JWT secret (None: the app's, as in Developer Hub).
        self.panel_url: str | None = None
        self.panel_jwt_secret: str | None = None
        self.modals: dict[str, str] = {}
        self.modal_jwt_secret: str | None = None
        self.extension_calls: list[dict[str, Any]] = []  # every panel and modal request the deal page made
        if seed:
            demo.seed(self)

    @property
    def user(self) -> dict[str, Any]:
        """``GET /users/me``: the user whose OAuth tokens these are (the admin who installed the app)."""
        from pdx_sandbox.pipedrive.users import me

        return me(self, self.user_id)

    @property
    def signing_secret(self) -> str:
        """What Pipedrive signs the app's iframe JWTs with: the JWT secret, by default the client secret."""
        return self.jwt_secret or self.client_secret

    # --- persistence ----------------------------------------------------------------------------------------------
    def keep_in(self, path: Path) -> None:
        """Load what an earlier run left in ``path`` (if anything), and keep every later change there."""
        self.state_file = StateFile(path, self.snapshot)
        saved = self.state_file.load()
        if saved is not None:
            self.restore(saved)

    def snapshot(self) -> dict[str, Any]:
        return {"time": self.clock.time(), **{name: getattr(self, name) for name in PERSISTED}}

    def restore(self, saved: dict[str, Any]) -> None:
        seeded = {name: dict(getattr(self, name)) for name in SEEDED_ADDITIONS}
        for name in PERSISTED:
            if name in saved:  # a file from before a record kind existed keeps the seeded one
                setattr(self, name, saved[name])
        for name, records in seeded.items():  # and seeded users and fields added since the file was written
            for key, record in records.items():
                getattr(self, name).setdefault(key, record)
        self.clock.advance(max(0.0, saved["time"] - self.clock.time()))  # sandbox time never runs backwards

    def changed(self) -> None:
        if self.state_file is not None:
            self.state_file.changed()

    # --- OAuth grants ---------------------------------------------------------------------------------------------
    def issue_code(self, redirect_uri: str | None, user_id: int | None = None) -> str:
        """A code for the user who consented (by default the admin who installs, ``user_id``)."""
        code = f"sbx-code-{secrets.token_urlsafe(18)}"
        self.codes[code] = {"redirect_uri": redirect_uri, "expires_at": self.clock.time() + CODE_TTL,
                            "user_id": user_id or self.user_id}
        return code

    def issue_tokens(self, refresh_token: str | None = None, user_id: int | None = None) -> dict[str, Any]:
        """A fresh access token; the refresh token is kept (and its 60-day expiry reset) when one is given. The
        tokens are the consenting user's (a refresh keeps its token's user): ``/users/me`` answers for them."""
        now = self.clock.time()
        access = f"sbx-at-{secrets.token_urlsafe(24)}"
        refresh = refresh_token or f"sbx-rt-{secrets.token_urlsafe(24)}"
        user = user_id or (self.token_users.get(refresh_token) if refresh_token else None) or self.user_id
        self.access_tokens[access] = now + ACCESS_TOKEN_TTL
        self.refresh_tokens[refresh] = now + REFRESH_TOKEN_TTL
        self.token_users[access] = self.token_users[refresh] = user
        return {"access_token": access, "token_type": "Bearer", "refresh_token": refresh, "scope": SCOPES,
                "expires_in": int(ACCESS_TOKEN_TTL), "api_domain": self.base_url}

    def access_token_valid(self, token: str) -> bool:
        expires_at = self.access_tokens.get(token)
        return expires_at is not None and expires_at > self.clock.time()

    def token_user(self, token: str | None) -> int:
        """Whose access token this is (the admin's for the API token or a token from before users were kept)."""
        return self.token_users.get(token or "", self.user_id)

    def revoke_tokens(self) -> None:
        """As if the user uninstalled the app: every access and refresh token stops working."""
        self.access_tokens.clear()
        self.refresh_tokens.clear()
        self.token_users.clear()

    # --- rate limit -----------------------------------------------------------------------------------------------
    def take_request(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count one request in the token's burst window; return (allowed, x-ratelimit-* headers)."""
        now = self.clock.time()
        start, used = self._windows.get(token, (now, 0))
        if now - start >= self.burst_window:
            start, used = now, 0
        allowed = used < self.burst_limit
        used += allowed
        self._windows[token] = (start, used)
        reset = max(1, math.ceil(start + self.burst_window - now))
        headers = {"x-ratelimit-limit": str(self.burst_limit),
                   "x-ratelimit-remaining": str(self.burst_limit - used), "x-ratelimit-reset": str(reset)}
        return allowed, headers

    # --- deals with events ----------------------------------------------------------------------------------------
    def create_deal(self, fields: dict[str, Any], lines: Sequence[dict] = (), discounts: Sequence[dict] = (), *,
                    source: str = "api") -> dict:
        """Create a deal with its product lines and deal-level discounts (``{description, amount, type}``)."""
        deal = self.insert_deal(fields)
        try:
            for line in lines:
                self.insert_deal_product(deal["id"], dict(line))
            for discount in discounts:
                self.insert_deal_discount(deal["id"], discount.get("description", ""), float(discount["amount"]),
                                          discount.get("type", "percentage"))
        except (Invalid, NotFound, KeyError, ValueError) as exc:
            self.deals.pop(deal["id"])
            raise Invalid(f"deal not created: {exc}") from exc
        self.recompute_value(deal["id"])
        self.emit("create", deal["id"], None, source)
        return deal

    def update_deal(self, deal_id: int, changes: dict[str, Any], *, source: str = "api") -> dict:
        previous = self.change_deal(deal_id, changes)
        if previous:
            self.emit("change", deal_id, previous, source)
        return self.deals[deal_id]

    def add_deal_product(self, deal_id: int, line: dict[str, Any], *, source: str = "api") -> dict:
        item = self.insert_deal_product(deal_id, line)
        value = self.deals[deal_id]["value"]
        self.recompute_value(deal_id)
        if self.deals[deal_id]["value"] != value:
            self.deals[deal_id]["update_time"] = self.now()
            self.emit("change", deal_id, {"value": value}, source)
        return item

    def emit(self, action: str, deal_id: int, previous: dict | None, source: str) -> None:
        self.emit_record("deal", action, deal_id, previous, source)

    # --- persons, organisations, products with events -------------------------------------------------------------
    def create_record(self, entity: str, fields: dict[str, Any], *, source: str = "api") -> dict:
        """A new person, organisation or product from v2 fields (``records``); fires ``create``."""
        record = self.insert_record(entity, fields)
        self.emit_record(entity, "create", record["id"], None, source)
        return record

    def update_record(self, entity: str, record_id: int, changes: dict[str, Any], *, source: str = "api") -> dict:
        """Apply v2 PATCH fields; fires ``change`` with only the changed fields in ``previous`` (none: no event)."""
        previous = self.change_record(entity, record_id, changes)
        if previous:
            self.emit_record(entity, "change", record_id, previous, source)
        return self.live(entity, record_id)

    def delete_record(self, entity: str, record_id: int, *, source: str = "api") -> None:
        """Mark it deleted; fires ``delete`` with ``data`` null and the record as it was in ``previous``."""
        before = self.remove_record(entity, record_id)
        self.emit_record(entity, "delete", record_id, before, source)

    def emit_record(self, entity: str, action: str, record_id: int, previous: dict | None, source: str) -> None:
        if self.dispatcher is not None:
            self.dispatcher.event(entity, action, record_id, previous, source)

    def spend(self, route: str, cost: int) -> None:
        """Count a call's ``x-token-cost`` against the company's daily budget."""
        self.tokens_spent += cost
        self.tokens_by_route[route] = self.tokens_by_route.get(route, 0) + cost

    def reset_tokens(self) -> tuple[dict[str, int], dict[str, int]]:
        spent = self.token_summary()
        self.tokens_spent, self.tokens_by_route = 0, {}
        return spent

    def token_summary(self) -> tuple[dict[str, int], dict[str, int]]:
        """Tokens spent per company (``{"7001": 44}``: the sandbox holds one) and per route."""
        return {str(self.company_id): self.tokens_spent}, dict(sorted(self.tokens_by_route.items()))

    async def redeliver(self, event_id: str, times: int = 1) -> list[dict[str, Any]]:
        """Send a recorded event again ``times`` times, attempt counting on, as if the answers had been lost."""
        if self.dispatcher is None:
            raise RuntimeError("webhook delivery runs only inside the app")
        return await self.dispatcher.redeliver(event_id, times)
