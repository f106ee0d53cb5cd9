"""Xero sandbox: an aiohttp server that behaves like Xero's identity, accounting and webhook APIs, in memory.

Example:
    state = XeroState(SandboxClock(speed=60))
    app = create_app(state)   # serve it on 127.0.0.1:0, point the product's Xero base URLs at it
    state.invoices(NZ_TENANT_ID)

What a user does in Xero (approve, pay or void an invoice; send, accept or decline a quote) is played through the
control routes under /_sandbox/ (see ``control``).
"""

from .app import create_app
from .limits import Limits
from .seed import NZ_TENANT_ID, UK_TENANT_ID
from .state import XERO_STATE, RecordedRequest, WebhookDelivery, XeroState
from .webhooks import sign

__all__ = [
    "NZ_TENANT_ID",
    "UK_TENANT_ID",
    "XERO_STATE",
    "Limits",
    "RecordedRequest",
    "WebhookDelivery",
    "XeroState",
    "create_app",
    "sign",
]
