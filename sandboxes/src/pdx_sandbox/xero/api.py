"""Shared pieces of the accounting routes: the response envelope, body parsing, paging and batch writes."""

import json
import uuid
from collections.abc import Callable

from aiohttp import web

from .documents import ZERO_ID, Built
from .errors import XeroError, post_data_invalid, query_too_long, too_large, validation_body
from .formats import invalid_character, ms_date, type_error
from .middleware import TENANT, TOKEN
from .state import XERO_STATE, XeroState
from .tenant import Tenant
from .where import compile_where

PAGE_SIZE = 100
MAX_REQUEST_BYTES = 3_500_000  # "a single POST to the API has a size limit of 3.5MB" (Xero's API limits page)
MAX_QUERY_STRING = 2048  # IIS's default maxQueryString, which Xero's front end keeps (see errors.query_too_long)


def state_of(request: web.Request) -> XeroState:
    return request.app[XERO_STATE]


def tenant_of(request: web.Request) -> Tenant:
    return request[TENANT]


def client_id_of(request: web.Request) -> str:
    return request[TOKEN].client_id


def envelope(request: web.Request, key: str, values: list[dict], extra: dict | None = None) -> web.Response:
    """{"Id": ..., "Status": "OK", "ProviderName": ..., "DateTimeUTC": "/Date(ms)/", key: [...]}."""
    state = state_of(request)
    client = state.auth.clients.get(client_id_of(request))
    body = {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": client.name if client else "Sandbox App",
            "DateTimeUTC": ms_date(state.clock.time()).replace("+0000", ""), **(extra or {}), key: values}
    return web.json_response(body)


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    return default if value is None else value.strip().lower() == "true"


def check_query_length(request: web.Request) -> None:
    if len(request.rel_url.raw_query_string) > MAX_QUERY_STRING:  # as sent, percent-encoded
        raise query_too_long()


def csv_param(request: web.Request, name: str) -> list[str] | None:
    check_query_length(request)
    value = request.query.get(name)
    if value is None:
        return None
    return [v.strip().strip('"') for v in value.split(",") if v.strip()]


def unitdp(request: web.Request) -> int:
    return 4 if request.query.get("unitdp") == "4" else 2


def filter_where(request: web.Request, docs: list[dict]) -> list[dict]:
    check_query_length(request)
    expr = request.query.get("where")
    if not expr:
        return docs
    predicate = compile_where(expr)
    return [d for d in docs if predicate(d)]


def paginate(request: web.Request, docs: list[dict]) -> tuple[list[dict], dict]:
    """page=N returns up to pageSize (default 100) and a pagination block; no page returns everything."""
    page = request.query.get("page")
    if page is None:
        return docs, {}
    try:
        number = max(1, int(page))
        size = min(1000, max(1, int(request.query.get("pageSize", PAGE_SIZE))))
    except ValueError as exc:
        raise XeroError(400, validation_body([], "page and pageSize must be whole numbers")) from exc
    start = (number - 1) * size
    count = len(docs)
    pagination = {"page": number, "pageSize": size, "pageCount": (count + size - 1) // size, "itemCount": count}
    return docs[start:start + size], {"pagination": pagination}


async def body_elements(request: web.Request, key: str) -> list[dict]:
    """`{"Invoices": [...]}` or a single bare object, as Xero accepts both.

    Refusals of the whole request, before any element is checked: a body over 3.5 MB (413), a body that is not
    JSON, a character XML cannot hold, a value whose type is not the spec's (400 PostDataInvalidException).
    """
    raw = await request.read()
    if len(raw) > MAX_REQUEST_BYTES:
        raise too_large(MAX_REQUEST_BYTES)
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise post_data_invalid(f" {exc}") from exc
    bad_character = invalid_character(data)
    if bad_character:
        raise post_data_invalid(f" {bad_character}")
    if isinstance(data, dict) and isinstance(data.get(key), list):
        elements = data[key]
    elif isinstance(data, dict) and key not in data:
        elements = [data]
    else:
        raise XeroError(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                              "Message": f"The request body must be an object with a {key} array."})
    if not elements or not all(isinstance(e, dict) for e in elements):
        raise XeroError(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                              "Message": f"{key} must be a non-empty array of objects."})
    for index, element in enumerate(elements):
        wrong_type = type_error(key, index, element)
        if wrong_type:
            raise post_data_invalid(wrong_type)
    return elements


def run_batch(request: web.Request, key: str, id_field: str, elements: list[dict],
              build: Callable[[dict], Built], commit: Callable[[Built], dict],
              render: Callable[[dict], dict]) -> tuple[web.Response, list[tuple[Built, dict]]]:
    """Check and store every element in order, so later ones see earlier ones (a name used twice in one call).

    summarizeErrors absent or true: any bad element rolls the whole call back and answers 400 with the bad
    elements. summarizeErrors=false: 200, good elements stored, each marked OK or ERROR.
    """
    tenant = tenant_of(request)
    summarize = flag(request, "summarizeErrors", default=True)
    snapshot = tenant.snapshot()
    results: list[tuple[Built, dict | None]] = []
    for element in elements:
        built = build(element)
        results.append((built, None if built.errors else commit(built)))
    failed = [b for b, stored in results if stored is None]
    if failed and summarize:
        tenant.restore(snapshot)
        body = validation_body([_error_element(b, id_field, render) for b in failed])
        return web.json_response(body, status=400), []
    out = [_ok_element(stored, render) if stored is not None else _error_element(b, id_field, render)
           for b, stored in results]
    committed = [(b, stored) for b, stored in results if stored is not None]
    return envelope(request, key, out), committed


def _ok_element(doc: dict, render: Callable[[dict], dict]) -> dict:
    out = render(doc)
    out["StatusAttributeString"] = "OK"
    return out


def _error_element(built: Built, id_field: str, render: Callable[[dict], dict]) -> dict:
    out = render(built.doc)
    if built.created:
        out[id_field] = ZERO_ID
    out.update(StatusAttributeString="ERROR", ValidationErrors=[{"Message": m} for m in built.errors])
    if "HasErrors" in out:
        out["HasErrors"] = True
    if "HasValidationErrors" in out:
        out["HasValidationErrors"] = True
    return out
