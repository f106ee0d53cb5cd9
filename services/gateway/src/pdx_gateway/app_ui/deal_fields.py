"""Numbers on the deal: which Pipedrive deal fields get what Xero knows about the deal's invoice or quote (its status,
amount due, number and a link to it), and, per pipeline, the stage a deal moves to when its invoice is paid.
Nothing is written to deals until a field or a stage is chosen.

``POST /app/deal-fields``         the whole section: ``deal_fields.status``, ``deal_fields.amount_due``,
                                  ``deal_fields.number``, ``deal_fields.link`` (a deal custom field's key; blank: not
                                  written), ``deal_fields.paid_stages.<pipeline id>`` (a stage of that pipeline;
                                  blank: the deal stays where it is), ``version``
``POST /app/deal-fields/create``  ``version``: creates in Pipedrive the fields not chosen yet ("Xero status", "Xero
                                  amount due", "Xero invoice number", "Xero link"; one of the company's own fields
                                  with that name and a fitting type is used instead of a second), and chooses them
"""

import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pdx_common.http import ApiError, ConnectionMissing
from pdx_gateway import settings_changes
from pdx_gateway.adapters.pipedrive_catalog import FieldInfo
from pdx_gateway.app_ui.catalog import (
    CONFLICT,
    UNREACHABLE,
    Source,
    blank_to_none,
    choices,
    form_version,
    save_section,
    saved_notice,
)
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.app_ui.triggers import _Names
from pdx_gateway.keys import DB, SETTINGS_STORE

routes = web.RouteTableDef()
PATH = "/app/deal-fields"
TEXT_TYPES = ("varchar", "varchar_auto", "text")
AMOUNT_TYPES = ("monetary", "double")
PAID_ROW = re.compile(r"deal_fields\.paid_stages\.(.+)")
DEAL_ID = re.compile(r"[1-9][0-9]{0,17}")
# The settings' refusal, in settings_changes' plain words: "Stage 5 of pipeline 1 makes a DRAFT invoice (under ..."
PAID_IS_TRIGGER = re.compile(r"stage (\d+) of pipeline (\d+) makes a DRAFT (invoice|quote) \(under Triggers\), so paid",
                             re.IGNORECASE)


@dataclass(frozen=True)
class DealField:
    setting: str  # under deal_fields
    label: str
    help: str
    types: tuple[str, ...]  # the Pipedrive field types that can hold it
    create_name: str  # the field "Create these fields in Pipedrive" makes
    create_type: str


FIELDS = (
    DealField("status", "Status", "The invoice's or quote's status in Xero, in words: Draft, Awaiting payment, Paid, "
              "Voided; a quote's Sent, Accepted, Declined.", TEXT_TYPES, "Xero status", "varchar"),
    DealField("amount_due", "Amount due", "What is still to be paid on the invoice. A monetary field also shows its "
              "currency.", AMOUNT_TYPES, "Xero amount due", "monetary"),
    DealField("number", "Invoice number", "The invoice's or quote's number in Xero, such as INV-0042.", TEXT_TYPES,
              "Xero invoice number", "varchar"),
    DealField("link", "Link", "A link that opens the invoice or quote in Xero.", TEXT_TYPES, "Xero link", "varchar"),
)
KIND = {"varchar": "text", "varchar_auto": "text", "text": "long text", "double": "number", "monetary": "monetary",
        "date": "date", "enum": "single option", "set": "multiple options"}


@routes.get("/deal-fields")
async def show(request: web.Request) -> web.StreamResponse:
    settings = await request.config_dict[SETTINGS_STORE].get(app_session(request).company_id)
    created = request.query.get("created", "")
    notice = None
    if created.isdigit() and int(created) > 0:
        notice = (f"Created {created} field{'s' if created != '1' else ''} in Pipedrive and chose "
                  f"{'them' if created != '1' else 'it'} below; they show in each deal's details.")
    elif created == "0":
        notice = "Your Pipedrive already had these fields: they are chosen below."
    return await _page(request, settings.model_dump(mode="json"), settings.version, notice=notice)


@routes.post("/deal-fields")
async def save(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    session = app_session(request)
    source = choices(request, session.company_id)
    fields = await _deal_fields(request)
    stages = await source.pipedrive("pipelines and stages", lambda c: c.stages())
    stored = (await request.config_dict[SETTINGS_STORE].get(session.company_id)).deal_fields.model_dump(mode="json")
    part: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in FIELDS:
        ref, problem = _posted_ref(field, blank_to_none(form.get(f"deal_fields.{field.setting}", "")), fields,
                                   stored.get(field.setting))
        part[field.setting] = ref
        if problem:
            errors[f"deal_fields.{field.setting}"] = problem
    paid, paid_errors = _posted_paid_stages(form, stages)
    part["paid_stages"] = paid
    errors.update(paid_errors)

    async def page(document: dict[str, Any], version: int, **kwargs: Any) -> web.StreamResponse:
        return await _page(request, document, version, fields=fields, stages=stages, **kwargs)

    return await save_section(request, form, {"deal_fields": part}, page, PATH, errors)


@routes.get("/deal-fields/create")
async def create_reloaded(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(PATH)


@routes.post("/deal-fields/create")
async def create(request: web.Request) -> web.StreamResponse:
    """Create (or find) the fields not chosen yet, then choose them: saved as the admin, like a Save."""
    form = await posted_form(request)
    session = app_session(request)
    store = request.config_dict[SETTINGS_STORE]
    current = await store.get(session.company_id)
    document = current.model_dump(mode="json")
    version = form_version(form)
    if version is None or version != current.version:
        return await _page(request, document, current.version, conflict=True, status=409)
    missing = [f for f in FIELDS if document["deal_fields"].get(f.setting) is None]
    source = choices(request, session.company_id)
    try:
        existing = await source.pipedrive_call(lambda c: c.fields("deal"))
        made = 0
        for field in missing:
            found = next((f for f in existing if f.custom and f.name.strip().lower() == field.create_name.lower()
                          and f.type in field.types), None)
            if found is None:
                found = await source.pipedrive_call(lambda c, f=field: c.create_deal_field(f.create_name,
                                                                                           f.create_type))
                made += 1
            document["deal_fields"][field.setting] = {"key": found.key, "field_type": found.type}
    except (*UNREACHABLE, ConnectionMissing) as exc:
        return await _page(request, current.model_dump(mode="json"), current.version, status=502,
                           problem=_create_problem(exc))
    try:
        await settings_changes.save(store, session.company_id, {**document, "version": version}, version,
                                    settings_changes.Author(session.user_id, session.user_name))
    except settings_changes.StaleSettings:
        return await _page(request, document, version, conflict=True, status=409)
    raise web.HTTPSeeOther(f"{PATH}?saved=1&created={made}")


def _create_problem(exc: Exception) -> dict[str, str]:
    if isinstance(exc, ConnectionMissing):
        return {"message": "Pipedrive is not connected, so no field was created.",
                "fix": "Reconnect Pipedrive under Connections, then press Create these fields in Pipedrive again."}
    if isinstance(exc, ApiError) and exc.status in (401, 403):
        return {"message": "Pipedrive did not let the app create deal fields.",
                "fix": "Create them in Pipedrive (Company settings, Data fields) and choose them below, or reconnect "
                       "Pipedrive under Connections as an admin and allow the app to change the company's fields."}
    return {"message": "Pipedrive did not create the fields just now; nothing was chosen.",
            "fix": "Press Create these fields in Pipedrive again in a moment. Fields it made already are used, "
                   "not made twice."}


async def _deal_fields(request: web.Request) -> Source:
    return await choices(request, app_session(request).company_id).pipedrive(
        "deal fields", lambda c: c.fields("deal"), instead="type the field's key")


def _posted_ref(field: DealField, key: str | None, fields: Source,
                stored: dict[str, Any] | None) -> tuple[dict[str, str] | None, str | None]:
    """The chosen field as stored (``{"key", "field_type"}``), or why it cannot be."""
    if key is None:
        return None, None
    key = key.strip()
    if stored and stored.get("key") == key:
        return stored, None
    if not fields.ok:
        return None, "Pipedrive did not answer, so this field cannot be checked: reload to pick it by name."
    found = next((f for f in fields.values or [] if f.key == key and f.custom), None)
    if found is None:
        return None, "Choose a field from the list."
    if found.type not in field.types:
        wanted = " or ".join(dict.fromkeys(KIND.get(t, t) for t in field.types))
        return None, (f"{found.name} is a {KIND.get(found.type, found.type)} field; the {field.label.lower()} needs "
                      f"a {wanted} field.")
    return {"key": found.key, "field_type": found.type}, None


def _posted_paid_stages(form: Any, stages: Source) -> tuple[list[dict[str, int]], dict[str, str]]:
    rows, errors = [], {}
    for name in form:
        match = PAID_ROW.fullmatch(name)
        value = str(form.get(name, "")).strip()
        if not match or not value:
            continue
        pipeline, stage = match[1], value
        if not pipeline.isdigit() or not stage.isdigit() or int(stage) < 1:
            errors[name] = "Choose a stage from the list."
            continue
        known = next((s for s in stages.values or [] if str(s.id) == stage), None)
        if stages.ok and (known is None or str(known.pipeline_id) != pipeline):
            errors[name] = "Choose one of this pipeline's stages."
            continue
        rows.append({"pipeline_id": int(pipeline), "stage_id": int(stage)})
    return rows, errors


async def _page(request: web.Request, document: dict[str, Any], version: int, *, fields: Source | None = None,
                stages: Source | None = None, errors: dict[str, str] | None = None, conflict: bool = False,
                status: int = 200, notice: str | None = None,
                problem: dict[str, str] | None = None) -> web.Response:
    source = choices(request, app_session(request).company_id)
    fields = fields or await _deal_fields(request)
    pipelines = await source.pipedrive("pipelines and stages", lambda c: c.pipelines())
    stages = stages or await source.pipedrive("pipelines and stages", lambda c: c.stages())
    names = _Names(pipelines, stages)
    chosen = document.get("deal_fields") or {}
    paid = {str(p["pipeline_id"]): str(p["stage_id"]) for p in chosen.get("paid_stages") or []}
    rows = _pipeline_rows(pipelines, stages, paid)
    errors = _whole_document_errors(errors or {}, names)
    refused = await _refused_writes(request, app_session(request), chosen, fields)
    return render(request, "deal_fields.html", {
        "refused": refused,
        "document": document, "version": version, "errors": errors,
        "conflict": CONFLICT if conflict else None, **saved_notice(request, notice), "problem": problem,
        "fields": [{"setting": f.setting, "label": f.label, "help": f.help, "create_name": f.create_name,
                    "value": (chosen.get(f.setting) or {}).get("key"),
                    "picker": _picker(f, fields, chosen.get(f.setting))} for f in FIELDS],
        "missing": [f.create_name for f in FIELDS if not chosen.get(f.setting)],
        "pipeline_rows": rows, "stages_why_not": pipelines.why_not or stages.why_not,
        "error_labels": {**{f"deal_fields.{f.setting}": f.label for f in FIELDS},
                         **{f"deal_fields.paid_stages.{r['id']}": f"When paid, move deals of {r['name']}"
                            for r in rows}},
    }, status=status)


def _picker(field: DealField, fields: Source, current: dict[str, Any] | None) -> dict[str, Any]:
    """The company's deal custom fields that can hold this value, by name; a chosen one no longer in Pipedrive stays
    choosable, so saving never drops it unseen."""
    if not fields.ok:
        return {"ok": False, "options": [], "why_not": fields.why_not}
    fitting: list[FieldInfo] = [f for f in fields.values or [] if f.custom and f.type in field.types]
    options = [(f.key, f"{f.name} ({KIND.get(f.type, f.type)})") for f in fitting]
    if current and current.get("key") not in {f.key for f in fitting}:
        options.append((current["key"], f"{current['key']} (not found in Pipedrive)"))
    return {"ok": True, "options": options, "why_not": None}


def _pipeline_rows(pipelines: Source, stages: Source, paid: dict[str, str]) -> list[dict[str, Any]]:
    """Every pipeline by name with its stages; without Pipedrive, the pipelines that have a stage chosen."""
    if pipelines.ok:
        rows = [{"id": str(p.id), "name": p.name,
                 "stages": [(str(s.id), s.name) for s in stages.values or [] if s.pipeline_id == p.id]}
                for p in pipelines.values or []]
        known = {row["id"] for row in rows}
        rows += [{"id": key, "name": f"Pipeline {key} (not found in Pipedrive)", "stages": []}
                 for key in paid if key not in known]
    else:
        rows = [{"id": key, "name": f"Pipeline {key}", "stages": []} for key in paid]
    for row in rows:
        value = paid.get(row["id"], "")
        if value and value not in {s for s, _ in row["stages"]}:
            row["stages"] = [*row["stages"], (value, f"Stage {value} (not found in Pipedrive)")]
        row["value"] = value
    return rows


def _whole_document_errors(errors: dict[str, str], names: _Names) -> dict[str, str]:
    """The settings' refusal of a paid stage that makes a draft concerns the document: shown beside that pipeline's
    "When paid" picker, in words."""
    match = PAID_IS_TRIGGER.search(errors.get(settings_changes.WHOLE) or "")
    if not match:
        return errors
    rest = {k: v for k, v in errors.items() if k != settings_changes.WHOLE}
    stage = names.stage(match[1])
    return {**rest, f"deal_fields.paid_stages.{match[2]}": (
        f"Deals entering {stage} become a DRAFT {match[3]} (see Triggers), so paid deals cannot be moved there: the "
        "move would make a draft for a deal already invoiced. Choose another stage, or leave the deal where it is.")}


async def _refused_writes(request: web.Request, session: Any, chosen: dict[str, Any], fields: Source,
                          limit: int = 10) -> list[dict[str, Any]]:
    """This company's deal-field writes Pipedrive refused for good (the crm-card's ``deal_field_writes``), newest
    first: a field deleted in Pipedrive since it was chosen, say. Each links to its deal in Pipedrive and names the
    fields the write carried (``body.custom_fields`` keys, by the chosen fields' labels)."""
    cursor = request.config_dict[DB].deal_field_writes.find(
        {"company_id": session.company_id, "state": "failed"},
        {"deal_id": 1, "reason": 1, "at": 1, "body": 1}).sort("at", -1)
    names = {f.key: f.name for f in fields.values or []} if fields.ok else {}
    labels = {}
    for field in FIELDS:
        key = (chosen.get(field.setting) or {}).get("key")
        if key:
            labels[key] = f"{field.label} ({names[key]})" if key in names else field.label
    rows = []
    for doc in await cursor.to_list(length=limit):
        deal_id = str(doc.get("deal_id") or "")
        body = doc.get("body") if isinstance(doc.get("body"), dict) else {}
        written = [labels.get(k) or (f"{names[k]} (no longer chosen)" if k in names else f"Field {k} (not found "
                                     "in Pipedrive)") for k in (body.get("custom_fields") or {})]
        if body.get("stage_id"):
            written.append("the move to the paid stage")
        rows.append({"deal_id": deal_id, "deal_url": _deal_url(session.company_domain, deal_id),
                     "fields": written, "reason": doc.get("reason") or "Pipedrive refused the update.",
                     "at": doc.get("at")})
    return rows


def _deal_url(domain: str | None, deal_id: str) -> str | None:
    return f"https://{domain}.pipedrive.com/deal/{deal_id}" if domain and DEAL_ID.fullmatch(deal_id) else None
