"""Triggers: which stage moves make a Xero draft, with pipelines and stages picked by name from Pipedrive, a sentence
per trigger saying what happens, and the company's time zone and re-entry rule.

Form (``POST /app/triggers``, the whole section): ``triggers.<i>.pipeline_id``, ``triggers.<i>.stage_id``,
``triggers.<i>.action``, ``triggers.<i>.enabled``, ``triggers.<i>.remove`` (ticked: saved without it); a blank last
row adds a trigger when filled; ``timezone``, ``on_reentry``, ``version``.
"""

import re
from typing import Any
from zoneinfo import available_timezones

from aiohttp import web

from pdx_gateway.app_ui.catalog import CONFLICT, Source, blank_to_none, checked, choices, save_section
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.keys import SETTINGS_STORE

routes = web.RouteTableDef()
PATH = "/app/triggers"
ROW = re.compile(r"triggers\.(\d+)\.(pipeline_id|stage_id|action|enabled|remove)")
ACTIONS = (("invoice", "Invoice"), ("quote", "Quote"), ("none", "Nothing (keep the trigger, make no draft)"))
ON_REENTRY = (("no_second_draft", "Make no second draft: one draft per deal and stage, ever"),
              ("new_draft", "Make a new draft every time the deal enters the stage"))
TWO_TRIGGERS = re.compile(r"stage (\d+) of pipeline (\d+) has two triggers", re.IGNORECASE)


@routes.get("/triggers")
async def show(request: web.Request) -> web.StreamResponse:
    settings = await request.config_dict[SETTINGS_STORE].get(app_session(request).company_id)
    return await _page(request, settings.model_dump(mode="json"), settings.version)


@routes.post("/triggers")
async def save(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    stages = await _stages(request)
    triggers, errors = _posted_triggers(form, stages)
    part = {"triggers": triggers, "timezone": form.get("timezone", ""), "on_reentry": form.get("on_reentry", "")}

    async def page(document: dict[str, Any], version: int, **kwargs: Any) -> web.StreamResponse:
        return await _page(request, document, version, stages=stages, **kwargs)

    return await save_section(request, form, part, page, PATH, {**errors, **_duplicates(triggers)})


def _posted_triggers(form: Any, stages: Source) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The posted rows, in order, without blank ones and the one whose Remove button was pressed."""
    rows: dict[int, dict[str, Any]] = {}
    for name in form:
        match = ROW.fullmatch(name)
        if match:
            rows.setdefault(int(match[1]), {})
    kept = []
    for index in sorted(rows):
        row = {"pipeline_id": blank_to_none(form.get(f"triggers.{index}.pipeline_id")),
               "stage_id": blank_to_none(form.get(f"triggers.{index}.stage_id")),
               "action": form.get(f"triggers.{index}.action", "invoice"),
               "enabled": checked(form, f"triggers.{index}.enabled")}
        if not checked(form, f"triggers.{index}.remove") and (row["pipeline_id"] or row["stage_id"]):
            kept.append(row)
    errors: dict[str, str] = {}
    for index, row in enumerate(kept):
        errors.update(_pipeline_of_stage(index, row, stages))
    return kept, errors


def _pipeline_of_stage(index: int, row: dict[str, Any], stages: Source) -> dict[str, str]:
    """Stage ids are unique across pipelines: a stage alone names its pipeline; a stage of another pipeline than the
    one picked is a slip the page points out."""
    if row["stage_id"] is None:
        return {f"triggers.{index}.stage_id": "Choose the stage that makes the draft."}
    stage = next((s for s in stages.values or [] if str(s.id) == str(row["stage_id"])), None)
    if stage is None:
        return {} if row["pipeline_id"] is not None else {
            f"triggers.{index}.pipeline_id": "Choose the pipeline this stage belongs to."}
    if row["pipeline_id"] is None:
        row["pipeline_id"] = str(stage.pipeline_id)
    elif str(row["pipeline_id"]) != str(stage.pipeline_id):
        return {f"triggers.{index}.stage_id": f"{stage.name} is not a stage of the pipeline chosen; pick one of its "
                                              "stages, or the pipeline the stage belongs to."}
    return {}


def _duplicates(triggers: list[dict[str, Any]]) -> dict[str, str]:
    seen: set[str] = set()
    errors = {}
    for index, row in enumerate(triggers):
        if row["stage_id"] is None:
            continue
        key = str(row["stage_id"])
        if key in seen:
            errors[f"triggers.{index}.stage_id"] = ("This stage already has a trigger above; a stage can have only "
                                                   "one. Change that one, or remove this one.")
        seen.add(key)
    return errors


async def _stages(request: web.Request) -> Source:
    return await choices(request, app_session(request).company_id).pipedrive(
        "pipelines and stages", lambda c: c.stages())


async def _page(request: web.Request, document: dict[str, Any], version: int, *, stages: Source | None = None,
                errors: dict[str, str] | None = None, conflict: bool = False, status: int = 200) -> web.Response:
    source = choices(request, app_session(request).company_id)
    pipelines = await source.pipedrive("pipelines and stages", lambda c: c.pipelines())
    stages = stages or await _stages(request)
    organisation = await source.xero_organisation()
    names = _Names(pipelines, stages)
    rows = [{**row, "index": index, "sentence": names.sentence(row, organisation)}
            for index, row in enumerate(document.get("triggers") or [])]
    errors = _whole_document_errors(errors or {}, rows)
    return render(request, "triggers.html", {
        "document": document, "version": version, "rows": rows, "new_index": len(rows),
        "pipelines": pipelines, "stage_groups": names.groups(), "stages": stages,
        "actions": ACTIONS, "on_reentry": ON_REENTRY,
        "timezones": [(zone, zone) for zone in sorted(available_timezones())],
        "organisation": organisation, "errors": errors, "conflict": CONFLICT if conflict else None}, status=status)


def _whole_document_errors(errors: dict[str, str], rows: list[dict[str, Any]]) -> dict[str, str]:
    """"stage 5 of pipeline 1 has two triggers" concerns the document; show it beside the second such trigger."""
    whole = errors.get("(settings)")
    match = TWO_TRIGGERS.search(whole or "")
    if not match:
        return errors
    for row in reversed(rows):
        if str(row.get("stage_id")) == match[1] and str(row.get("pipeline_id")) == match[2]:
            rest = {k: v for k, v in errors.items() if k != "(settings)"}
            return {**rest, f"triggers.{row['index']}.stage_id": "This stage already has a trigger above; a stage "
                                                                  "can have only one."}
    return errors


class _Names:
    """Pipeline and stage names for sentences and pickers; a number when Pipedrive could not say."""

    def __init__(self, pipelines: Source, stages: Source) -> None:
        self._pipelines = {str(p.id): p.name for p in pipelines.values or []}
        self._stages = stages.values or []
        self._pipeline_list = pipelines.values or []

    def pipeline(self, pipeline_id: Any) -> str:
        return self._pipelines.get(str(pipeline_id), f"pipeline {pipeline_id}")

    def stage(self, stage_id: Any) -> str:
        return next((s.name for s in self._stages if str(s.id) == str(stage_id)), f"stage {stage_id}")

    def groups(self) -> list[tuple[int, str, list[tuple[int, str]]]]:
        """Stages grouped by pipeline (id, name), for ``<optgroup>``s."""
        return [(p.id, p.name, [(s.id, s.name) for s in self._stages if s.pipeline_id == p.id])
                for p in self._pipeline_list]

    def sentence(self, row: dict[str, Any], organisation: str | None) -> dict[str, Any]:
        """The parts of "Deals entering *Won* in *Sales* become a DRAFT invoice in *Demo Company (NZ)*"."""
        where = {"stage": self.stage(row.get("stage_id")), "pipeline": self.pipeline(row.get("pipeline_id")),
                 "organisation": organisation}
        if not row.get("enabled", True) or row.get("action") == "none":
            return {**where, "makes": None}
        return {**where, "makes": row.get("action")}
