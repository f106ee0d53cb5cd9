"""Pipedrive's servers calling an app's deal extensions, for the sandbox's deal page (deal_page.py): the JSON panel
and the JSON modals, with the query and signed JWT Pipedrive sends, its 10-second timeout, and its reading of the
answers (see /work/notes/pipedrive-modals.md for the wire contract as documented).

    GET  {panel_url}?resource=deal&view=details&userId=12001&companyId=7001&selectedIds=42&isShared=false&token=JWT
    GET  {modal_url}?resource=deal&view=details&userId=12001&companyId=7001&selectedIds=42&token=JWT
    POST {modal_url}?<the same query>   body: {"<block key>": <value>, ...}

Every call is kept in ``state.extension_calls`` for tests.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from pdx_sandbox.pipedrive import jwt
from pdx_sandbox.pipedrive.state import PipedriveState

TIMEOUT = 10.0  # Pipedrive gives a panel or a modal 10 seconds, then shows an error
MAX_OBJECTS, MAX_FIELDS = 10, 20
SOMETHING_WRONG = "Something went wrong, please try again."
REINSTALL = ("The app lost its connection to Pipedrive. Reinstall the app (Tools and apps › Marketplace apps) to "
             "reconnect it.")
HOST_SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("host_session", aiohttp.ClientSession)


async def session_context(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[HOST_SESSION] = session
        yield


@dataclass
class Answer:
    status: int  # 0: no answer (timeout, refused)
    body: Any = None
    problem: str | None = None  # why Pipedrive would not show it


@dataclass
class Modal:
    """What the modal shows after its GET: text blocks as HTML, and the values the submit sends back."""

    ok: bool
    message: str = ""
    blocks: list[dict[str, str]] = field(default_factory=list)  # [{"key", "html"}]
    values: dict[str, Any] = field(default_factory=dict)
    reinstall: bool = False


def pipedrive_query(state: PipedriveState, deal_id: int, user_id: int, company_id: int, secret: str | None, *,
                    panel: bool) -> dict[str, str]:
    token = jwt.app_token(user_id, company_id, secret or state.signing_secret)
    query = {"resource": "deal", "view": "details", "userId": str(user_id), "companyId": str(company_id),
             "selectedIds": str(deal_id)}
    if panel:
        query["isShared"] = "false"
    return {**query, "token": token}


async def call(session: aiohttp.ClientSession, state: PipedriveState, kind: str, name: str, method: str, url: str,
               query: dict[str, str], body: dict[str, Any] | None = None) -> Answer:
    record: dict[str, Any] = {"kind": kind, "name": name, "method": method, "url": url, "query": dict(query),
                              "body": body}
    state.extension_calls.append(record)
    try:
        async with asyncio.timeout(TIMEOUT), session.request(method, url, params=query, json=body) as resp:
            record["status"] = resp.status
            text = await resp.text()
    except (TimeoutError, aiohttp.ClientError) as exc:
        record["status"], record["error"] = 0, f"{type(exc).__name__}: {exc}"
        return Answer(0, problem="no answer within 10 seconds")
    try:
        parsed = json.loads(text)
    except ValueError:
        return Answer(resp.status, problem="the answer is not JSON")
    record["answer"] = parsed
    return Answer(resp.status, parsed)


def panel_problem(answer: Answer) -> str | None:
    """None when Pipedrive shows the panel (or its error body); else why it shows "Something went wrong"."""
    body = answer.body
    if answer.problem or not isinstance(body, dict):
        return answer.problem or "the answer is not an object"
    if answer.status > 300:
        error = body.get("error")
        return None if isinstance(error, dict) and isinstance(error.get("title"), str) else "an error without a title"
    data = body.get("data")
    objects = data if isinstance(data, list) else [data] if isinstance(data, dict) else None
    if objects is None:
        return "no data"
    if len(objects) > MAX_OBJECTS:
        return f"{len(objects)} objects (at most {MAX_OBJECTS})"
    for obj in objects:
        if not isinstance(obj, dict) or "id" not in obj or not isinstance(obj.get("header"), str):
            return "an object without an id or a header"
        if len(obj) - 2 > MAX_FIELDS:
            return f"object {obj['id']}: more than {MAX_FIELDS} fields"
    return None


def read_modal(answer: Answer, markdown) -> Modal:
    """The GET's answer as Pipedrive reads it: ``{"data": {"blocks": {...}, "actions": {...}}}``."""
    if answer.status == 401:
        return Modal(False, REINSTALL, reinstall=True)
    data = answer.body.get("data") if isinstance(answer.body, dict) and answer.status == 200 else None
    blocks = data.get("blocks") if isinstance(data, dict) else None
    if not isinstance(blocks, dict) or not isinstance(data.get("actions", {}), dict):
        return Modal(False, SOMETHING_WRONG)
    shown, values = [], {}
    for key, options in blocks.items():
        if not isinstance(options, dict) or "value" not in options:
            continue
        if isinstance(options["value"], str) and "label" not in options:  # a text block: shown, never sent
            shown.append({"key": str(key), "html": markdown(options["value"])})
        else:
            values[str(key)] = options["value"]
    return Modal(True, blocks=shown, values=values)


def read_submit(answer: Answer) -> dict[str, Any]:
    """The POST's answer: a snackbar (the modal closes), a message inside the modal, or Pipedrive's own error."""
    body = answer.body if isinstance(answer.body, dict) else {}
    success, error = body.get("success"), body.get("error")
    if (answer.status == 200 and isinstance(success, dict) and success.get("type") == "snackbar"
            and isinstance(success.get("message"), str)):
        out: dict[str, Any] = {"ok": True, "message": success["message"]}
        link = success.get("link")
        if isinstance(link, dict) and str(link.get("value", "")).startswith(("http://", "https://")):
            out["link"] = {"label": str(link.get("label") or "Open"), "url": link["value"]}
        return out
    if isinstance(error, dict) and isinstance(error.get("message"), str) and answer.status >= 400:
        return {"ok": False, "message": error["message"]}
    return {"ok": False, "message": SOMETHING_WRONG}
