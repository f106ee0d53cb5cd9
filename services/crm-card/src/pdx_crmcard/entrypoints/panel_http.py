"""The JSON panel's HTTP routes. Pipedrive calls::

    GET  /panel?resource=deal&view=details&userId=1&companyId=7001&selectedIds=42&isShared=false&token=<JWT>
    POST /panel/update?<the same query>   (the panel's "Update" action; token also as ``Authorization: Bearer``)

Both answer the panel (``domain.panel``); a failure answers Pipedrive's error body with a status above 300. The
token is verified before anything else of the request is read; a JSON body (the action's) is read within the limits
of ``pdx_common.json_body``; ids are positive integers.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pdx_common.http import ApiError, ConnectionMissing
from pdx_common.json_body import BodyRefused, BodyTooLarge, read_json_object
from pdx_common.metrics import PANEL_LATENCY
from pdx_common.pipedrive_jwt import PipedriveCaller, PipedriveJwtError, verify
from pdx_crmcard.domain import panel, panel_limits
from pdx_crmcard.views import PanelReader

log = structlog.get_logger()


class BadPanelRequest(Exception):
    pass


# One table: which failure answers which status and words (the exception's own text is the subtitle when None).
# Most specific first: the first entry the exception is an instance of answers it.
ERRORS: dict[type[Exception], tuple[int, str, str | None]] = {
    PipedriveJwtError: (401, "Not authorised", None),
    BadPanelRequest: (400, "This panel cannot be shown here", None),
    BodyTooLarge: (413, "This panel cannot be shown here", None),
    BodyRefused: (400, "This panel cannot be shown here", None),
    ConnectionMissing: (409, "Xero needs reconnecting", "Reconnect Xero in the app settings, then try again."),
    ApiError: (502, "Xero did not answer", "Xero is busy or down; try Update again in a minute."),
}


# Pipedrive's ids: positive integers, comma-separated when a list view selects several (at most 100 here).
SELECTED_IDS = r"^[1-9][0-9]{0,17}(,[1-9][0-9]{0,17}){0,99}$"
MAX_BODY_BYTES = 65_536  # an action's body is a handful of ids


class PanelQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resource: Literal["deal", "person", "organization"]
    selected_ids: str = Field(alias="selectedIds", pattern=SELECTED_IDS, max_length=2000)
    company_id: str | None = Field(default=None, alias="companyId")
    token: str | None = None

    @property
    def object_id(self) -> str:
        return self.selected_ids.split(",")[0]


@dataclass
class PanelDeps:
    """Filled by the composition root once the store is open."""

    jwt_secret: str | None
    reader: PanelReader | None = None


PANEL: web.AppKey[PanelDeps] = web.AppKey("panel", PanelDeps)


def add_routes(app: web.Application, deps: PanelDeps) -> None:
    app[PANEL] = deps
    app.router.add_get("/panel", _answer(lambda deps, caller, q: _show(deps, caller, q, update=False)))
    app.router.add_post("/panel/update", _answer(lambda deps, caller, q: _show(deps, caller, q, update=True)))


async def _show(deps: PanelDeps, caller: PipedriveCaller, query: PanelQuery, *, update: bool) -> dict[str, Any]:
    assert deps.reader is not None
    with structlog.contextvars.bound_contextvars(company_id=caller.company_id, resource=query.resource,
                                                 object_id=query.object_id):
        body = await deps.reader.show(caller.company_id, query.resource, query.object_id, update=update)
        log.info("panel answered", update=update, objects=len(body.get("data", [])))
        return body


Handler = Callable[[PanelDeps, PipedriveCaller, PanelQuery], Awaitable[dict[str, Any]]]


def _answer(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def route(request: web.Request) -> web.Response:
        resource = request.query.get("resource", "unknown")
        with PANEL_LATENCY.labels(resource if resource in ("deal", "person", "organization") else "other").time():
            return await _respond(request)

    async def _respond(request: web.Request) -> web.Response:
        try:
            deps = request.app[PANEL]
            caller = verify(_token(request), deps.jwt_secret, request.query.get("companyId"))
            body, status = await handler(deps, caller, await _query(request)), 200
        except tuple(ERRORS) as exc:
            status, title, subtitle = next(v for k, v in ERRORS.items() if isinstance(exc, k))
            log.info("panel refused", status=status, reason=str(exc))
            body = panel.error(title, subtitle or str(exc))
        except Exception as exc:  # noqa: BLE001 - logged at ERROR and shown in Pipedrive's error format
            log.error("panel failed", error=f"{type(exc).__name__}: {exc}"[:500])
            body, status = panel.error("The Xero panel failed", "Please try again; if it persists, tell support."), 500
        problems = panel_limits.problems(body, status)
        if problems:
            log.error("panel answer breaks Pipedrive's limits", problems=problems[:5])
            body, status = panel.error("This panel could not be drawn", "Please tell the app's support."), 500
        return web.json_response(body, status=status)
    return route


def _token(request: web.Request) -> str | None:
    """The panel's JWT: in the query (Pipedrive's panel calls) or as a bearer token (its actions), never the body."""
    bearer = request.headers.get("Authorization", "")
    return request.query.get("token") or (bearer.removeprefix("Bearer ").strip() if bearer.startswith("Bearer ")
                                          else None)


async def _query(request: web.Request) -> PanelQuery:
    """Called once the caller is verified: the query, with an action's JSON body under it (the query wins)."""
    fields: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body and request.content_type == "application/json":
        fields = {**await read_json_object(request, max_bytes=MAX_BODY_BYTES), **fields}
    try:
        return PanelQuery.model_validate(fields)
    except ValidationError as exc:
        raise BadPanelRequest("resource must be deal, person or organization, and selectedIds positive "
                              "integer ids") from exc
