"""The sandbox plays Pipedrive's deal page around the app's deal extensions.

``GET /host/deal/{deal_id}?company_id=7001&user_id=12001`` logs this browser in as the user (host.py) and shows the deal
(title, pipeline, stage, status), its activities newest first (subject, and the note's HTML cleaned as Pipedrive does:
links open in a new tab), and the app's JSON panel (``panel_url``, called server-side as Pipedrive's servers do, see
extensions.py) with its actions menu: the JSON modals (``modals``: action name -> URL). Choosing one opens a modal that
``static/deal.js`` fills from ``GET /host/deal/{id}/modal?name=<action>&...`` (the sandbox GETs the app's modal URL and
renders its text blocks' markdown); its primary button ``POST``s there (the sandbox POSTs the block values to the app),
then shows the answer's ``success.message`` in a snackbar and reloads the panel (``GET /host/deal/{id}/panel``), or the
``error.message`` inside the modal. Configure with ``serve --panel-url/--modal`` or ``POST /_sandbox/app``.
"""

import html
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from pdx_sandbox.pipedrive import extensions, markup
from pdx_sandbox.pipedrive.host import _error, _ints, _page, log_in
from pdx_sandbox.pipedrive.http import state_of
from pdx_sandbox.pipedrive.state import PipedriveState

e = html.escape
STATUS_WORDS = {"open": "Open", "won": "Won", "lost": "Lost"}


def _deal(request: web.Request, state: PipedriveState) -> dict[str, Any] | web.Response:
    try:
        deal = state.deals.get(int(request.match_info["deal_id"]))
    except ValueError:
        deal = None
    if deal is None or deal.get("is_deleted"):
        return _error(404, "This deal does not exist in the sandbox company.")
    return deal


async def deal_page(request: web.Request) -> web.Response:
    state = state_of(request)
    ids, deal = _ints(request, state), _deal(request, state)
    if isinstance(ids, web.Response) or isinstance(deal, web.Response):
        return ids if isinstance(ids, web.Response) else deal  # type: ignore[return-value]
    company_id, user_id = ids
    stage = state.stages.get(deal["stage_id"], {})
    pipeline = state.pipelines.get(deal["pipeline_id"], {})
    user = state.users[user_id]
    panel_html = await _panel_html(request, state, deal["id"], user_id, company_id)
    menu = "".join(f'<li><button type="button" role="menuitem" data-modal="{e(name)}">{e(name)}</button></li>'
                   for name in state.modals) or '<li class="muted">No actions registered</li>'
    body = f"""<body class="deal-page" data-deal-id="{deal['id']}" data-company-id="{company_id}"
 data-user-id="{user_id}">
<header class="topbar">Pipedrive <span>sandbox</span>
 <span class="who">{e(user["name"])} · {e(state.company_name)}</span></header>
<div class="deal-layout">
<main class="deal-main">
<p class="crumbs">Deals › {e(pipeline.get("name", "Pipeline"))}</p>
<h1 id="deal-title">{e(deal["title"])}</h1>
<p class="deal-meta">Stage: <b id="deal-stage">{e(stage.get("name", "?"))}</b> ·
 Status: <span id="deal-status" class="deal-status status-{e(deal["status"])}">{
     STATUS_WORDS.get(deal["status"], e(deal["status"]))}</span> ·
 Value: {e(deal.get("currency") or "")} {float(deal.get("value") or 0):,.2f}</p>
<section class="history" aria-labelledby="history-title"><h2 id="history-title">History</h2>
{_activities(state, deal["id"])}</section>
</main>
<aside class="deal-sidebar">
<section id="app-panel" class="app-panel" aria-labelledby="panel-title">
<header class="panel-head"><h2 id="panel-title">Xero drafts</h2>
<details class="panel-menu"><summary aria-label="Xero drafts actions">Actions ▾</summary>
<ul role="menu">{menu}</ul></details></header>
<div id="panel-body" aria-live="polite">{panel_html}</div>
</section></aside></div>
<dialog id="modal" aria-labelledby="modal-title"><form method="dialog" id="modal-form">
<h2 id="modal-title"></h2><div id="modal-body" class="modal-body"></div>
<p id="modal-error" class="error" role="alert" hidden></p>
<div class="modal-actions"><button type="button" id="modal-cancel" class="secondary">Cancel</button>
<button type="button" id="modal-primary" class="primary" disabled></button></div></form></dialog>
<div id="app-snackbar" class="snackbar" role="status" aria-live="polite" hidden></div>
<script src="/host/static/deal.js"></script>
</body>"""
    return log_in(_page(deal["title"], body), state, user_id)


def _activities(state: PipedriveState, deal_id: int) -> str:
    found = [a for a in state.activities.values() if a.get("deal_id") == deal_id and not a.get("is_deleted")]
    if not found:
        return '<p class="muted">No activities yet.</p>'
    items = []
    for activity in sorted(found, key=lambda a: (a.get("add_time") or "", a["id"]), reverse=True):
        done = "done" if activity.get("done") else "to do"
        items.append(f"""<li class="activity" data-activity-id="{activity['id']}">
<h3 class="activity-subject">{e(activity.get("subject") or "")}</h3>
<div class="activity-note">{markup.clean_note(activity.get("note"))}</div>
<p class="activity-meta">{e(str(activity.get("type") or "task"))} · {done} · {e(_when(activity.get("add_time")))}</p>
</li>""")
    return f'<ol class="activities">{"".join(items)}</ol>'


def _when(stamp: Any) -> str:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).strftime("%d %b %Y %H:%M")
    except ValueError:
        return str(stamp or "")


async def _panel_html(request: web.Request, state: PipedriveState, deal_id: int, user_id: int,
                      company_id: int) -> str:
    if not state.panel_url:
        return '<p class="muted">No JSON panel is registered (serve --panel-url or POST /_sandbox/app).</p>'
    query = extensions.pipedrive_query(state, deal_id, user_id, company_id, state.panel_jwt_secret, panel=True)
    answer = await extensions.call(request.app[extensions.HOST_SESSION], state, "panel", "panel", "GET",
                                   state.panel_url, query)
    problem = extensions.panel_problem(answer)
    if problem:
        state.extension_calls[-1]["problem"] = problem
        return f'<div class="panel-error" role="alert"><p>{e(extensions.SOMETHING_WRONG)}</p></div>'
    body = answer.body
    if answer.status > 300:
        error = body["error"]
        action = error.get("action") if isinstance(error.get("action"), dict) else None
        link = markup.field_value({"value": action["url"], "label": action.get("label"), "external": True}) \
            if action and action.get("url") else ""
        return (f'<div class="panel-error" role="alert"><p><b>{e(error["title"])}</b></p>'
                f'{markup.markdown(str(error.get("subtitle") or ""))}{link}</div>')
    data = body["data"] if isinstance(body["data"], list) else [body["data"]]
    if not data:
        return '<p class="muted">Nothing to show</p>'
    objects = "".join(_object(obj) for obj in data)
    links = []
    if isinstance(body.get("external_link"), dict) and body["external_link"].get("url"):
        link = body["external_link"]
        links.append(markup.field_value({"value": link["url"], "label": link.get("label"), "external": True}))
    if isinstance(body.get("settings"), dict) and body["settings"].get("url"):
        links.append(markup.field_value({"value": body["settings"]["url"], "label": "Settings", "external": True}))
    footer = f'<p class="panel-links">{" · ".join(links)}</p>' if links else ""
    return objects + footer


def _object(obj: dict[str, Any]) -> str:
    rows = "".join(f'<div class="field" data-field="{e(str(key))}"><dt>{e(markup.field_label(str(key)))}</dt>'
                   f"<dd>{markup.field_value(value)}</dd></div>"
                   for key, value in obj.items() if key not in ("id", "header"))
    return (f'<article class="panel-object" data-object-id="{e(str(obj["id"]))}"><h3>{e(obj["header"])}</h3>'
            f"<dl>{rows}</dl></article>")


async def panel_fragment(request: web.Request) -> web.Response:
    """``GET /host/deal/{id}/panel?company_id&user_id``: the panel's HTML again (after a modal's success)."""
    state = state_of(request)
    ids, deal = _ints(request, state), _deal(request, state)
    if isinstance(ids, web.Response) or isinstance(deal, web.Response):
        return web.Response(status=404, text="unknown deal, company or user")
    html_text = await _panel_html(request, state, deal["id"], ids[1], ids[0])
    return web.Response(text=html_text, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


async def modal(request: web.Request) -> web.Response:
    """``GET /host/deal/{id}/modal?name=Replay&company_id&user_id`` -> ``{"ok", "title", "blocks": [{key, html}],
    "values", "primary"}``; ``POST`` (JSON body: the values) -> ``{"ok": true, "message", "link"?}`` or
    ``{"ok": false, "message"}`` (shown inside the modal)."""
    state = state_of(request)
    ids, deal = _ints(request, state), _deal(request, state)
    name = request.query.get("name", "")
    if isinstance(ids, web.Response) or isinstance(deal, web.Response) or name not in state.modals:
        return web.json_response({"ok": False, "message": "No such deal, user or action."}, status=404)
    company_id, user_id = ids
    query = extensions.pipedrive_query(state, deal["id"], user_id, company_id, state.modal_jwt_secret, panel=False)
    session = request.app[extensions.HOST_SESSION]
    if request.method == "POST":
        try:
            values = await request.json() if request.can_read_body else {}
        except ValueError:
            values = {}
        answer = await extensions.call(session, state, "modal", name, "POST", state.modals[name], query,
                                       values if isinstance(values, dict) else {})
        return web.json_response(extensions.read_submit(answer))
    answer = await extensions.call(session, state, "modal", name, "GET", state.modals[name], query)
    shown = extensions.read_modal(answer, markup.markdown)
    return web.json_response({"ok": shown.ok, "message": shown.message, "reinstall": shown.reinstall,
                              "title": name, "blocks": shown.blocks, "values": shown.values, "primary": name})


def deal_url(state: PipedriveState, deal_id: int, user_id: int | None = None) -> str:
    query = urlencode({"company_id": state.company_id, "user_id": user_id or state.user_id})
    return f"{state.base_url or ''}/host/deal/{deal_id}?{query}"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/host/deal/{deal_id}", deal_page)
    r.add_get("/host/deal/{deal_id}/panel", panel_fragment)
    r.add_get("/host/deal/{deal_id}/modal", modal)
    r.add_post("/host/deal/{deal_id}/modal", modal)
    app.cleanup_ctx.append(extensions.session_context)
