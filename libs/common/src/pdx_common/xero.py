"""The Xero accounting API adapter. Sends ``xero-tenant-id`` and ``Idempotency-Key``; waits ``Retry-After`` on 429.

``clock_speed`` divides every wait: 1 against the real Xero, the sandbox's speed against a sped-up sandbox.
Request bodies are written by ``xero_json``: the spec types quantities and amounts as JSON numbers, and a Decimal
goes out as the number literal it is (``180``, ``0.3333``), never a string and never through a float.
"""

import asyncio
import io
import json
from decimal import Decimal
from typing import Any

import aiohttp
import structlog

from pdx_common.connections import TokenProvider
from pdx_common.http import ApiError, ConnectionMissing, parsed_body
from pdx_common.metrics import XERO_CALLS, XERO_THROTTLED
from pdx_common.ratelimit import XeroRateLimiter

log = structlog.get_logger()
MAX_THROTTLE_WAITS = 50  # a 429 storm waits; only a broken limiter would reach this


class XeroClient:
    def __init__(self, session: aiohttp.ClientSession, tokens: TokenProvider, company_id: str, api_url: str,
                 *, timeout: float = 30.0, clock_speed: float = 1.0, limiter: XeroRateLimiter | None = None) -> None:
        self._session, self._tokens, self.company_id = session, tokens, company_id
        self._api_url = api_url.rstrip("/")
        self._timeout, self._speed, self._limiter = aiohttp.ClientTimeout(total=timeout), clock_speed, limiter
        self.calls = 0

    async def _send(self, tenant_id: str, method: str, url: str, params: Any, json: Any,
                    headers: dict[str, str]) -> tuple[int, Any, Any]:
        if self._limiter is None:
            status, body, resp_headers = await self._http(method, url, params, json, headers)
        else:
            async with self._limiter.slot(tenant_id):
                status, body, resp_headers = await self._http(method, url, params, json, headers)
            self._limiter.observe(tenant_id, resp_headers)
        XERO_CALLS.labels(str(status)).inc()
        if status == 429:
            XERO_THROTTLED.inc()
        return status, body, resp_headers

    async def _http(self, method: str, url: str, params: Any, body: Any, headers: dict[str, str]):
        self.calls += 1
        data = None
        if body is not None:
            # A stream, so a body near Xero's 3.5 MB is written in chunks (aiohttp warns about large bytes).
            data, headers = io.BytesIO(xero_json(body)), {**headers, "Content-Type": "application/json"}
        async with self._session.request(method, url, params=params, data=data, headers=headers,
                                         timeout=self._timeout) as resp:
            return resp.status, parsed_body(await resp.read()), resp.headers

    async def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                      idempotency_key: str | None = None) -> dict[str, Any]:
        refreshed = force = False
        for _ in range(MAX_THROTTLE_WAITS):
            token = await self._tokens.token(self.company_id, force_refresh=force)
            force = False
            if not token.tenant_id:
                raise ConnectionMissing("xero", self.company_id, "connected without an organisation chosen")
            headers = {"Authorization": f"Bearer {token.token}", "xero-tenant-id": token.tenant_id,
                       "Accept": "application/json"}
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key[:128]
            url = f"{self._api_url}{path}"
            status, body, resp_headers = await self._send(token.tenant_id, method, url, params, json, headers)
            if status == 429:
                wait = float(resp_headers.get("Retry-After", "1"))
                log.warning("xero throttled", wait_s=wait, problem=resp_headers.get("X-Rate-Limit-Problem"))
                if self._limiter is not None:
                    self._limiter.throttled(token.tenant_id, wait)  # the next slot waits it out
                else:
                    await asyncio.sleep(wait / self._speed)
                continue
            if status == 401 and not refreshed:
                refreshed = force = True  # revoked or expired early: one refresh tells which
                continue
            if status in (401, 403):
                reason = ("the organisation was disconnected from the app" if status == 403
                          else "Xero refused our access")
                await self._tokens.broken(self.company_id, reason)
                raise ConnectionMissing("xero", self.company_id, f"disconnected ({reason})")
            if status >= 400:
                raise ApiError("xero", status, body, url, retry_after=None)
            return body or {}
        raise ApiError("xero", 429, "still throttled after waiting", path)

    async def organisation(self) -> dict[str, Any]:
        return (await self.request("GET", "/Organisation"))["Organisations"][0]

    async def find_contacts(self, where: str) -> list[dict[str, Any]]:
        return (await self.request("GET", "/Contacts", params={"where": where}))["Contacts"]

    async def create_contacts(self, contacts: list[dict], idempotency_key: str) -> list[dict[str, Any]]:
        body = await self.request("PUT", "/Contacts", json={"Contacts": contacts},
                                  params={"summarizeErrors": "false"}, idempotency_key=idempotency_key)
        return body["Contacts"]

    async def find_items(self, where: str) -> list[dict[str, Any]]:
        return (await self.request("GET", "/Items", params={"where": where}))["Items"]

    async def create_items(self, items: list[dict], idempotency_key: str) -> list[dict[str, Any]]:
        body = await self.request("PUT", "/Items", json={"Items": items}, params={"summarizeErrors": "false"},
                                  idempotency_key=idempotency_key)
        return body["Items"]

    async def create_documents(self, kind: str, documents: list[dict], idempotency_key: str) -> list[dict]:
        """PUT many invoices (``kind="Invoices"``) or quotes (``"Quotes"``); each element carries its own outcome."""
        params = {"summarizeErrors": "false"}
        if kind == "Invoices":
            params["unitdp"] = "4"  # unit prices to 4 decimals, as the mapper keeps them
        body = await self.request("PUT", f"/{kind}", json={kind: documents}, params=params,
                                  idempotency_key=idempotency_key)
        return body[kind]

    async def documents(self, kind: str, params: dict[str, str]) -> list[dict[str, Any]]:
        return (await self.request("GET", f"/{kind}", params=params))[kind]

    async def document(self, kind: str, document_id: str) -> dict[str, Any]:
        """GET /Invoices/{InvoiceID} or /Quotes/{QuoteID} (getInvoice, getQuote): the one document, as Xero has it
        now. An unknown id is Xero's 404 (``ApiError``)."""
        params = {"unitdp": "4"} if kind == "Invoices" else None
        return (await self.request("GET", f"/{kind}/{document_id}", params=params))[kind][0]

    async def update_document(self, kind: str, document_id: str, document: dict, idempotency_key: str) -> dict:
        """POST /Invoices/{InvoiceID} or /Quotes/{QuoteID} (updateInvoice, updateQuote). Lines sent replace the
        document's lines; its number is kept unless sent. A refusal is Xero's 400 with the validation errors
        (``ApiError``); the updated document otherwise."""
        params = {"unitdp": "4"} if kind == "Invoices" else None
        body = await self.request("POST", f"/{kind}/{document_id}", json={kind: [document]}, params=params,
                                  idempotency_key=idempotency_key)
        return body[kind][0]


def xero_json(value: Any) -> bytes:
    """JSON with every Decimal as an exact number literal. NaN and Infinity have no JSON form: refused."""
    return "".join(_chunks(value)).encode()


def _chunks(value: Any):
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be sent to Xero as a number")
        yield format(value, "f")
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + json.dumps(str(key)) + ":"
            yield from _chunks(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            yield "," if index else ""
            yield from _chunks(item)
        yield "]"
    else:
        yield json.dumps(value, allow_nan=False)


def _quote(value: str) -> str:
    # Xero parses `where` as Dynamic LINQ: its errors are that parser's ("Unterminated string literal",
    # laravel-xero#83; "Character literal must contain exactly one character", xeroizer#454; "No property or field
    # 'Bat' exists in type 'Contact'", xeroizer#160). Inside "..." a quote is written twice and a backslash is
    # itself; a backslash-escaped quote is a syntax error (Xero-Java#347).
    return value.replace('"', '""')


def where_equals(field: str, value: str) -> str:
    return f'{field}=="{_quote(value)}"'
