"""The whole in-memory Xero: organisations, OAuth, rate limits, the request log and failure injection."""

import asyncio
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ..clock import SandboxClock
from ..faults import Faults
from ..persist import StateFile
from . import documents
from .auth import AuthStore, Client
from .errors import XeroError
from .formats import iso_utc
from .limits import Limits, RateLimiter
from .seed import NZ_TENANT_ID, UK_TENANT_ID, branding_themes, settings_for, tracking_categories
from .tenant import Tenant, new_id

IDEMPOTENCY_WINDOW = 86400.0
CONSENT_MODES = ("first", "all", "page")
# What a restart keeps (``--state-file``): the organisations and their documents, the app's grants and connections,
# and the Idempotency-Key answers (a retry after a restart still gets the first answer). Not kept: the request log,
# rate windows, webhooks waiting to be sent, injected faults and outages.
AUTH_PERSISTED = ("clients", "codes", "access_tokens", "refresh_tokens", "connections", "token_refreshes")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    tenant_id: str | None
    status: int
    time: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IdempotentResult:
    fingerprint: str
    created: float
    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"
    done: bool = False


@dataclass
class WebhookDelivery:
    url: str
    status: int | None
    body: bytes
    signature: str
    error: str | None = None


class XeroState:
    """Everything the sandbox knows. Tests read and change it directly; the server reads it per request.

    Example: state = XeroState(SandboxClock(speed=60)); state.set_outage(NZ_TENANT_ID, status=503, count=2)
    Settable: webhook_url, latency_seconds (real seconds per accounting call), idempotency_window (sandbox s),
    consent ("first", "all" or "page": see oauth.authorize).
    """

    def __init__(self, clock: SandboxClock | None = None, *, client_id: str = "sandbox-xero-client",
                 client_secret: str = "sandbox-xero-secret", webhook_key: str = "sandbox-xero-webhook-key",
                 limits: Limits | None = None) -> None:
        self.clock = clock or SandboxClock()
        self.client_id, self.client_secret, self.webhook_key = client_id, client_secret, webhook_key
        self.limits = limits or Limits()
        self.webhook_url: str | None = None
        self.consent = "first"  # what authorize grants: the first organisation, all of them, or a page asks
        self.latency_seconds = 0.0
        self.idempotency_window = IDEMPOTENCY_WINDOW
        self.tenants: dict[str, Tenant] = {}
        self.requests: list[RecordedRequest] = []
        self.throttled: dict[str, int] = {}
        self.idempotency: dict[tuple[str, str], IdempotentResult] = {}
        self.webhook_events: list[dict] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_queue: list[dict] = []
        self.webhook_wakeup: asyncio.Event | None = None
        self.limiter = RateLimiter(self.limits)
        self.faults = Faults()
        self.state_file: StateFile | None = None
        self.auth = AuthStore(self.clock)
        self.register_client(client_id, client_secret, None)
        self.add_tenant("Demo Company (NZ)", "NZD", country_code="NZ", tenant_id=NZ_TENANT_ID)
        self.add_tenant("Demo Company (UK)", "GBP", country_code="GB", tenant_id=UK_TENANT_ID)

    # --- persistence --------------------------------------------------------------------------------------------
    def keep_in(self, path: Path) -> None:
        """Load what an earlier run left in ``path`` (if anything), and keep every later change there."""
        self.state_file = StateFile(path, self.snapshot)
        saved = self.state_file.load()
        if saved is not None:
            self.restore(saved)

    def snapshot(self) -> dict[str, Any]:
        return {"time": self.clock.time(), "tenants": self.tenants,
                "auth": {name: getattr(self.auth, name) for name in AUTH_PERSISTED},
                "idempotency": {slot: r for slot, r in self.idempotency.items() if r.done}}

    def restore(self, saved: dict[str, Any]) -> None:
        self.clock.advance(max(0.0, saved["time"] - self.clock.time()))  # sandbox time never runs backwards
        self.tenants, self.idempotency = saved["tenants"], saved["idempotency"]
        for tenant in self.tenants.values():  # organisations saved before they had themes and tracking get them now
            if not getattr(tenant, "branding_themes", None) or not hasattr(tenant, "tracking_categories"):
                _seed_settings(tenant, tenant.created)
        for name, value in saved["auth"].items():
            setattr(self.auth, name, value)

    def changed(self) -> None:
        if self.state_file is not None:
            self.state_file.changed()

    # --- set-up -------------------------------------------------------------------------------------------------
    def register_client(self, client_id: str, secret: str, redirect_uris: list[str] | None,
                        name: str = "Sandbox App") -> None:
        """redirect_uris None accepts any http://127.0.0.1 or http://localhost URI."""
        self.auth.clients[client_id] = Client(client_id, secret, redirect_uris, name)

    def add_tenant(self, name: str, base_currency: str, *, country_code: str | None = None,
                   currencies: list[str] | None = None, tenant_id: str | None = None) -> str:
        settings = settings_for(base_currency, country_code)
        tenant = Tenant(tenant_id or new_id(), name, base_currency, settings["country_code"], self.clock.time())
        for code in [base_currency, *(currencies or settings["currencies"])]:
            tenant.enable_currency(code)
        tenant.tax_rates = settings["tax_rates"]
        tenant.accounts = settings["accounts"]
        _seed_settings(tenant, self.clock.time())
        for item in settings["items"]:
            item_id = new_id()
            tenant.items[item_id] = {"ItemID": item_id, **item, "UpdatedDateUTC": documents.stamp(self.clock.time())}
        self.tenants[tenant.tenant_id] = tenant
        return tenant.tenant_id

    # --- reading ------------------------------------------------------------------------------------------------
    def tenant(self, tenant_id: str) -> Tenant:
        return self.tenants[tenant_id]

    def invoices(self, tenant_id: str) -> list[dict]:
        return list(self.tenants[tenant_id].invoices.values())

    def quotes(self, tenant_id: str) -> list[dict]:
        return list(self.tenants[tenant_id].quotes.values())

    def contacts(self, tenant_id: str) -> list[dict]:
        return list(self.tenants[tenant_id].contacts.values())

    def items(self, tenant_id: str) -> list[dict]:
        return list(self.tenants[tenant_id].items.values())

    def requests_for(self, tenant_id: str | None = None, path_prefix: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests
                if (tenant_id is None or r.tenant_id == tenant_id)
                and (path_prefix is None or r.path.startswith(path_prefix))]

    @property
    def token_refreshes(self) -> int:
        return self.auth.token_refreshes

    def summary(self) -> dict:
        return {
            "time": self.clock.time(),
            "clock_speed": self.clock.speed,
            "consent": self.consent,
            "token_refreshes": self.token_refreshes,
            "throttled": dict(self.throttled),
            "requests": len(self.requests),
            "webhook_url": self.webhook_url,
            "webhook_events": len(self.webhook_events),
            "tenants": [
                {"tenantId": t.tenant_id, "name": t.name, "baseCurrency": t.base_currency,
                 "contacts": len(t.contacts), "items": len(t.items), "invoices": len(t.invoices),
                 "quotes": len(t.quotes), "outage": {"status": t.outage_status, "count": t.outage_count}}
                for t in self.tenants.values()
            ],
        }

    # --- failure injection and user actions ---------------------------------------------------------------------
    def revoke_all_tokens(self) -> None:
        """The user disconnected the app in Xero: tokens stop working, refresh answers invalid_grant."""
        self.auth.revoke_all()

    def set_outage(self, tenant_id: str, status: int = 500, count: int = 1) -> None:
        """The next `count` accounting calls for the tenant answer `status`."""
        tenant = self.tenants[tenant_id]
        tenant.outage_status, tenant.outage_count = status, count

    def approve_invoice(self, tenant_id: str, invoice_id: str) -> dict:
        return self._change_invoice(tenant_id, invoice_id, documents.approve)

    def pay_invoice(self, tenant_id: str, invoice_id: str, amount: float | None = None) -> dict:
        return self._change_invoice(tenant_id, invoice_id, lambda doc, now: documents.pay(doc, amount, now))

    def void_invoice(self, tenant_id: str, invoice_id: str) -> dict:
        return self._change_invoice(tenant_id, invoice_id, documents.void)

    def submit_invoice(self, tenant_id: str, invoice_id: str) -> dict:
        return self._change_invoice(tenant_id, invoice_id, documents.submit)

    def change_quote(self, tenant_id: str, quote_id: str, action: str) -> dict:
        """A user's action on a quote in Xero (send, accept, decline, invoice, delete, draft); no event (Xero sends
        none for quotes)."""
        tenant = self.tenants[tenant_id]
        doc = tenant.quotes.get(quote_id)
        if doc is None:
            raise KeyError(quote_id)
        errors, updated = documents.quote_action(doc, action, self.clock.time())
        if errors:
            raise XeroError(400, {"Message": errors[0]})
        tenant.quotes[quote_id] = updated
        self.changed()
        return updated

    def _change_invoice(self, tenant_id: str, invoice_id: str, change) -> dict:
        tenant = self.tenants[tenant_id]
        doc = tenant.invoices.get(invoice_id)
        if doc is None:
            raise KeyError(invoice_id)
        errors, updated = change(doc, self.clock.time())
        if errors:
            raise XeroError(400, {"Message": errors[0]})
        tenant.invoices[invoice_id] = updated
        self.emit(tenant_id, "INVOICE", "UPDATE", invoice_id)
        return updated

    # --- webhooks -----------------------------------------------------------------------------------------------
    def emit(self, tenant_id: str, category: str, event_type: str, resource_id: str) -> None:
        """Queue a Xero webhook event (INVOICE or CONTACT; Xero sends none for quotes or items)."""
        resource = "Invoices" if category == "INVOICE" else "Contacts"
        event = {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/{resource}/{resource_id}",
            "resourceId": resource_id,
            "eventDateUtc": iso_utc(self.clock.time()),
            "eventType": event_type,
            "eventCategory": category,
            "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
        }
        self.webhook_events.append(event)
        if self.webhook_url:
            self.webhook_queue.append(event)
            if self.webhook_wakeup is not None:
                self.webhook_wakeup.set()

    async def intent_to_receive(self, url: str) -> bool:
        """Xero's handshake: True when the receiver answers 200 to a signed and 401 to a mis-signed empty batch."""
        from .webhooks import intent_to_receive

        return await intent_to_receive(url, self.webhook_key)


def _seed_settings(tenant: Tenant, created: float) -> None:
    tenant.branding_themes = branding_themes(tenant.tenant_id, documents.stamp(created))
    tenant.tracking_categories = tracking_categories(tenant.tenant_id, tenant.country_code)


XERO_STATE: web.AppKey[XeroState] = web.AppKey("xero_state", XeroState)
