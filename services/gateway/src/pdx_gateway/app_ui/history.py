"""History: who changed the company's settings, what, and when, newest first (``GET /app/history``)."""

import json
from typing import Any

from aiohttp import web

from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session
from pdx_gateway.keys import SETTINGS_STORE

routes = web.RouteTableDef()
SHOWN = 100


@routes.get("/history")
async def show(request: web.Request) -> web.Response:
    entries = await request.config_dict[SETTINGS_STORE].history(app_session(request).company_id, SHOWN)
    return render(request, "history.html", {"entries": [_entry(e) for e in entries]})


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    by = entry.get("changed_by")
    return {"version": entry.get("version"), "when": entry.get("updated_at"),
            "who": by.get("name") if isinstance(by, dict) else None,
            "operator": isinstance(by, dict) and by.get("user_id") is None,
            "changes": [{"path": c.get("path") or "(settings)", "old": shown(c.get("old")), "new": shown(c.get("new"))}
                        for c in entry.get("changes") or []]}


def shown(value: Any) -> str:
    """A setting's value as a person reads it: text as is, nothing as "(none)", anything else as compact JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value if value else "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
