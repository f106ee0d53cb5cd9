"""What every settings section shares: the pickers' choices, and saving a section.

The pickers' choices for one request, from the company's Pipedrive and Xero. A source that cannot answer (not
connected, down, refusing) never breaks a page: its picker becomes a text input with a sentence saying why.

``pick = await choices(request, company_id).xero("accounts", lambda x: x.revenue_accounts())``
-> ``Source(values=[Account("200", "Sales"), ...], why_not=None)`` or ``Source(None, "Connect Xero to pick ...")``
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.xero import XeroClient
from pdx_gateway import settings_changes
from pdx_gateway.adapters.pipedrive_catalog import PipedriveCatalog
from pdx_gateway.adapters.xero_catalog import XeroCatalog
from pdx_gateway.app_ui.render import saved_redirect
from pdx_gateway.app_ui.session import app_session
from pdx_gateway.keys import CONNECTIONS, CONNECTOR, SETTINGS_STORE

log = structlog.get_logger()
SOURCE_SECONDS = 12.0
UNREACHABLE = (ApiError, aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError, ValueError)


@dataclass(frozen=True)
class Source:
    """A picker's choices, or why there are none (then the page shows a text input and this sentence)."""

    values: list[Any] | None
    why_not: str | None = None

    @property
    def ok(self) -> bool:
        return self.values is not None


class Choices:
    """One request's view of the company's Pipedrive and Xero, for pickers. Nothing is kept between requests."""

    def __init__(self, request: web.Request, company_id: str) -> None:
        self._request, self._company_id = request, company_id
        connector = request.config_dict.get(CONNECTOR)
        # One client per system for the request: its calls share one token (and one refresh, when one is due).
        self._pipedrive_catalog = self._xero_catalog = None
        if connector is not None:
            self._pipedrive_catalog = PipedriveCatalog(connector.pipedrive_api(company_id))
            self._xero_catalog = XeroCatalog(XeroClient(connector.session, connector.xero_tokens(), company_id,
                                                        connector.settings.xero_api_url, timeout=10.0))

    async def pipedrive(self, what: str, call: Callable[[PipedriveCatalog], Awaitable[list[Any]]],
                        instead: str = "type the number") -> Source:
        """``what`` completes "Reconnect Pipedrive under Connections to pick <what> by name"."""
        catalog = self._pipedrive_catalog
        missing = f"Reconnect Pipedrive under Connections to pick {what} by name; meanwhile {instead}."
        if catalog is None:
            return Source(None, missing)
        return await _load(call(catalog), missing,
                           f"Pipedrive did not answer just now, so {instead}; reload to pick {what} by name.")

    async def xero(self, what: str, call: Callable[[XeroCatalog], Awaitable[list[Any]]]) -> Source:
        """``what`` completes "Connect Xero to pick from your organisation's <what>"."""
        catalog = self._xero_catalog
        missing = f"Connect Xero to pick from your organisation's {what}; meanwhile type it as Xero shows it."
        if catalog is None:
            return Source(None, missing)
        return await _load(call(catalog), missing,
                           f"Xero did not answer just now, so type it as Xero shows it; reload to pick {what}.")

    async def xero_organisation(self) -> str | None:
        """The connected Xero organisation's name, from the stored connection (no call to Xero); None when Xero is
        not connected or its connection is broken."""
        return (await self.xero_connection())[1]

    async def xero_connection(self) -> tuple[str | None, str | None]:
        """``(tenant id, organisation name)`` of the organisation the company writes to now, from the stored
        connection (no call to Xero); ``(None, None)`` when Xero is not connected or its connection is broken."""
        doc = await self._request.config_dict[CONNECTIONS].get("xero", self._company_id)
        if not doc or doc.get("status") != "ok" or not doc.get("tenant_id"):
            return None, None
        tenant_id = str(doc["tenant_id"])
        if doc.get("tenant_name"):
            return tenant_id, str(doc["tenant_name"])
        for tenant in doc.get("tenants") or []:
            if tenant.get("tenantId") == doc["tenant_id"]:
                return tenant_id, str(tenant.get("tenantName") or "") or None
        return tenant_id, None

    async def xero_call(self, call: Callable[[XeroCatalog], Awaitable[Any]]) -> Any:
        """One call to the company's Xero (an admin's search), within the pickers' time limit. Raises
        ``ConnectionMissing`` without a connection, or what ``UNREACHABLE`` names when Xero cannot answer."""
        if self._xero_catalog is None:
            raise ConnectionMissing("xero", self._company_id, "not connected")
        async with asyncio.timeout(SOURCE_SECONDS):
            return await call(self._xero_catalog)

    async def pipedrive_call(self, call: Callable[[PipedriveCatalog], Awaitable[Any]]) -> Any:
        """One call to the company's Pipedrive (an admin's change, e.g. creating deal fields); raises like
        ``xero_call``."""
        if self._pipedrive_catalog is None:
            raise ConnectionMissing("pipedrive", self._company_id, "not connected")
        async with asyncio.timeout(SOURCE_SECONDS):
            return await call(self._pipedrive_catalog)


async def _load(call: Awaitable[list[Any]], missing: str, unreachable: str) -> Source:
    try:
        # A throttled API makes its client wait (Retry-After); a page does not wait that long for a picker.
        async with asyncio.timeout(SOURCE_SECONDS):
            return Source(await call)
    except ConnectionMissing:
        return Source(None, missing)
    except UNREACHABLE as exc:
        # The page still works with a text input; the log says which source failed and why.
        log.warning("settings picker source failed", error=f"{type(exc).__name__}: {exc}"[:300])
        return Source(None, unreachable)


_CHOICES = web.RequestKey("pdx_app_choices", Choices)


def choices(request: web.Request, company_id: str) -> Choices:
    """The request's one ``Choices`` (made on first use, gone with the request)."""
    made = request.get(_CHOICES)
    if made is None or made._company_id != company_id:
        made = request[_CHOICES] = Choices(request, company_id)
    return made


# Saving a section: every section posts its whole part of the settings and saves through settings_changes.
Page = Callable[..., Awaitable[web.StreamResponse]]
CONFLICT = ("These settings were changed by someone else while you were editing; reload to see their change. "
            "Nothing was saved: your changes are still below.")
UNCHANGED = "Nothing to save: no setting changed."
UNCHANGED_QUERY = "unchanged"  # ?saved=unchanged: the section says UNCHANGED instead of "✓ Saved."


def form_version(form: Any) -> int | None:
    value = form.get("version")
    try:
        return int(value) if isinstance(value, str) else None
    except ValueError:
        return None


def merged(current: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """The whole document with a section's part: a section's object merges key by key, anything else replaces."""
    document = dict(current)
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document


async def save_section(request: web.Request, form: Any, part: dict[str, Any], page: Page, path: str,
                       errors: dict[str, str] | None = None) -> web.StreamResponse:
    """Save ``part`` (e.g. ``{"customer": {...}, "money": {...}}``) over the stored settings, as the admin who posted.
    ``page(document, version, errors=..., conflict=..., status=..., notice=...)`` shows the form again with the
    posted values when anything is wrong (``errors`` are the section's own, found while reading the form); nothing is
    saved then. A form that changes no setting stores nothing (no new version, no history entry), and the section
    says so (``?saved=unchanged``, see ``saved_notice``).
    """
    session = app_session(request)
    store = request.config_dict[SETTINGS_STORE]
    version = form_version(form)
    current = await store.get(session.company_id)
    document = merged(current.model_dump(mode="json"), part)
    if version is None:
        return await page(document, current.version, conflict=True, status=409)
    errors = dict(errors or {})
    new = None
    try:
        new = settings_changes.validated({**document, "version": version})
    except settings_changes.SettingsInvalid as invalid:
        errors = {**settings_changes.form_errors(invalid.problems), **errors}
    if errors or new is None:
        return await page(document, version, errors=errors, status=400)
    if not settings_changes.changes_between(current, new):
        raise saved_redirect(path, UNCHANGED_QUERY)
    try:
        await settings_changes.save(store, session.company_id, {**document, "version": version}, version,
                                    settings_changes.Author(session.user_id, session.user_name))
    except settings_changes.StaleSettings:
        return await page(document, version, conflict=True, status=409)
    except settings_changes.SettingsInvalid as invalid:  # only if the model changed meanwhile; shown all the same
        return await page(document, version, errors=settings_changes.form_errors(invalid.problems), status=400)
    raise saved_redirect(path)


def saved_notice(request: web.Request, notice: str | None = None) -> dict[str, Any]:
    """What a section's page adds to its context after a save: "Nothing to save" instead of "✓ Saved." when the save
    changed nothing, or the section's own ``notice``."""
    if request.query.get("saved") == UNCHANGED_QUERY:
        return {"saved": None, "notice": UNCHANGED}
    return {"notice": notice} if notice else {}


def blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def checked(form: Any, name: str) -> bool:
    """A checkbox of ``_forms.html`` posts "false" then, when ticked, "true": the last value decides."""
    values = form.getall(name, [])
    return bool(values) and values[-1] == "true"


def picker(source: Source, pair: Callable[[Any], tuple[str, str]], *current: Any,
           unknown: str = "not found in Xero") -> dict[str, Any]:
    """What a template needs for one picker: ``{"ok", "options": [(value, label)], "why_not"}``. A current value the
    source does not list stays choosable (labelled "… (not found in Xero)"), so saving never drops it unseen."""
    if not source.ok:
        return {"ok": False, "options": [], "why_not": source.why_not}
    options = [pair(value) for value in source.values or []]
    known = {str(value) for value, _ in options}
    for value in current:
        if value not in (None, "") and str(value) not in known:
            options.append((str(value), f"{value} ({unknown})"))
            known.add(str(value))
    return {"ok": True, "options": options, "why_not": None}
