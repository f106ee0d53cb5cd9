"""The operators' dead-letter routes, under ``/api`` (bearer token):

``GET  /api/companies/{company_id}/dead-letters[?state=waiting|redriven]``  the company's dead letters, oldest first::

    {"dead_letters": [{"id": "9f0c...", "deal_id": "42", "source_topic": "pdx.xero-commands",
                       "consumer": "pdx-xero-writer", "attempts": 5, "state": "waiting", ...}]}

``GET  /api/companies/{company_id}/dead-letters/{dead_id}``          one, with its error and original payload
``POST /api/companies/{company_id}/dead-letters/{dead_id}/redrive``  re-publish it to its source topic
``POST /api/companies/{company_id}/dead-letters/redrive``            re-drive every waiting one of the company

A re-drive answers ``{"redriven": ["9f0c..."]}``. Re-driving twice is harmless: the writer's ledger makes no second
draft for the same deal and trigger.
"""

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pdx_common.dead_letters import (
    REDRIVEN,
    WAITING,
    CannotRedrive,
    MongoDeadLetters,
    redrive,
    redrive_company,
    summary,
)
from pdx_gateway.errors import BadRequest, Conflict, NotFound
from pdx_gateway.keys import DB, PUBLISHER

routes = web.RouteTableDef()


def _store(request: web.Request) -> MongoDeadLetters:
    return MongoDeadLetters(request.config_dict[DB])


def _json(body: Any) -> web.Response:
    return web.json_response(body, dumps=lambda value: json.dumps(value, default=_encode))


def _encode(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@routes.get("/companies/{company_id}/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    state = request.query.get("state")
    if state not in (None, WAITING, REDRIVEN):
        raise BadRequest(f"state must be {WAITING!r} or {REDRIVEN!r}")
    found = await _store(request).of_company(request.match_info["company_id"], state=state)
    return _json({"dead_letters": [summary(dead) for dead in found]})


@routes.get("/companies/{company_id}/dead-letters/{dead_id}")
async def inspect_dead_letter(request: web.Request) -> web.Response:
    dead = await _store(request).get(request.match_info["company_id"], request.match_info["dead_id"])
    if dead is None:
        raise NotFound("the company has no dead letter with this id")
    return _json(dead)


@routes.post("/companies/{company_id}/dead-letters/redrive")
async def redrive_all(request: web.Request) -> web.Response:
    done = await redrive_company(_store(request), request.config_dict[PUBLISHER], request.match_info["company_id"],
                                 datetime.now(UTC))
    return _json({"redriven": done})


@routes.post("/companies/{company_id}/dead-letters/{dead_id}/redrive")
async def redrive_one(request: web.Request) -> web.Response:
    try:
        dead = await redrive(_store(request), request.config_dict[PUBLISHER], request.match_info["company_id"],
                             request.match_info["dead_id"], datetime.now(UTC))
    except CannotRedrive as exc:
        raise Conflict(str(exc)) from None
    if dead is None:
        raise NotFound("the company has no dead letter with this id")
    return _json({"redriven": [dead["id"]], "dead_letter": summary(dead)})
