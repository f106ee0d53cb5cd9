"""Xero webhooks: signed event batches POSTed to XeroState.webhook_url, and the intent-to-receive handshake.

x-xero-signature = base64(HMAC-SHA256(raw body, webhook key)). Body:
{"events": [{"resourceUrl", "resourceId", "eventDateUtc", "eventType", "eventCategory", "tenantId", "tenantType"}],
 "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "..."}
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import string
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from .state import XERO_STATE, WebhookDelivery, XeroState

TIMEOUT = aiohttp.ClientTimeout(total=5)  # Xero gives a receiver 5 s
RETRY_DELAYS = (5.0, 30.0, 120.0)  # sandbox seconds between attempts


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def payload(events: list[dict], first_sequence: int) -> bytes:
    return json.dumps({
        "events": events,
        "firstEventSequence": first_sequence,
        "lastEventSequence": first_sequence + max(0, len(events) - 1),
        "entropy": _entropy(),
    }).encode()


async def _post(session: aiohttp.ClientSession, url: str, body: bytes, signature: str) -> int:
    headers = {"Content-Type": "application/json", "x-xero-signature": signature}
    async with session.post(url, data=body, headers=headers, timeout=TIMEOUT) as response:
        await response.read()
        return response.status


async def intent_to_receive(url: str, key: str) -> bool:
    """True when the receiver answers 200 to a correctly signed and 401 to a wrongly signed empty batch."""
    async with aiohttp.ClientSession() as session:
        good_body, bad_body = payload([], 1), payload([], 1)
        good = await _post(session, url, good_body, sign(good_body, key))
        bad = await _post(session, url, bad_body, sign(bad_body, key + "-wrong"))
    return good == 200 and bad == 401


async def deliver(state: XeroState, session: aiohttp.ClientSession, events: list[dict], sequence: int) -> bool:
    url = state.webhook_url
    if not url:
        return True
    body = payload(events, sequence)
    signature = sign(body, state.webhook_key)
    try:
        status = await _post(session, url, body, signature)
    except (aiohttp.ClientError, TimeoutError) as error:
        state.webhook_deliveries.append(WebhookDelivery(url, None, body, signature, repr(error)))
        return False
    state.webhook_deliveries.append(WebhookDelivery(url, status, body, signature))
    return 200 <= status < 300


async def dispatch_forever(state: XeroState, session: aiohttp.ClientSession) -> None:
    """Send queued events in batches; a failed batch is retried a few times, then dropped (Xero disables later)."""
    wakeup = state.webhook_wakeup = asyncio.Event()
    sequence = 1
    while True:
        if not state.webhook_queue:
            wakeup.clear()
            await wakeup.wait()
        events, state.webhook_queue = state.webhook_queue, []
        for delay in (0.0, *RETRY_DELAYS):
            await asyncio.sleep(state.clock.real_seconds(delay))
            if await deliver(state, session, events, sequence):
                break
        sequence += len(events)


async def webhook_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client session and one dispatcher task for the server's lifetime."""
    state = app[XERO_STATE]
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(dispatch_forever(state, session))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        state.webhook_wakeup = None
