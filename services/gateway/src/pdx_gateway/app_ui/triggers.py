"""Triggers: which stage moves and which wins make a Xero draft, with pipelines and stages picked by name from
Pipedrive, a sentence per trigger saying what happens, what salespeople may create on demand, and the company's time
zone and re-entry rule.

Form (``POST /app/triggers``, the whole section): ``triggers.<i>.pipeline_id``, ``triggers.<i>.stage_id``,
``triggers.<i>.action``, ``triggers.<i>.enabled``, ``triggers.<i>.remove`` (ticked: saved without it); a blank last
row adds a trigger when filled; the same for deals marked won: ``won_triggers.<i>.pipeline_id``, ``.action``,
``.enabled``, ``.remove``; ``on_demand.invoice``, ``on_demand.quote``, ``on_demand.more_than_once``; ``timezone``,
``on_reentry``, ``version``.
"""

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from pdx_gateway.app_ui.catalog import CONFLICT, Source, blank_to_none, checked, choices, save_section, saved_notice
from pdx_gateway.app_ui.render import render
from pdx_gateway.app_ui.session import app_session, posted_form
from pdx_gateway.keys import SETTINGS_STORE

routes = web.RouteTableDef()
PATH = "/app/triggers"
ROW = re.compile(r"triggers\.(\d+)\.(pipeline_id|stage_id|action|enabled|remove)")
WON_ROW = re.compile(r"won_triggers\.(\d+)\.(pipeline_id|action|enabled|remove)")
ON_DEMAND = ("invoice", "quote", "more_than_once")
# Switching a trigger off is its Enabled box; "none" is offered only to a trigger saved with it (the operators' API).
ACTIONS = (("invoice", "Invoice"), ("quote", "Quote"))
ACTION_NONE = ("none", "Nothing (switched off)")
# Time zones people pick from: one city per common offset and region, no aliases or sign-inverted Etc/GMT names.
ZONES = ("Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Vancouver",
         "America/Denver", "America/Phoenix", "America/Chicago", "America/Mexico_City", "America/New_York",
         "America/Toronto", "America/Bogota", "America/Lima", "America/Halifax", "America/Santiago",
         "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/St_Johns", "Atlantic/Azores", "UTC",
         "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Africa/Lagos", "Europe/Paris", "Europe/Berlin",
         "Europe/Amsterdam", "Europe/Madrid", "Europe/Rome", "Europe/Stockholm", "Europe/Warsaw", "Africa/Johannesburg",
         "Africa/Cairo", "Europe/Athens", "Europe/Helsinki", "Europe/Kyiv", "Asia/Jerusalem", "Europe/Istanbul",
         "Africa/Nairobi", "Asia/Riyadh", "Europe/Moscow", "Asia/Tehran", "Asia/Dubai", "Asia/Kabul", "Asia/Karachi",
         "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Yangon", "Asia/Bangkok", "Asia/Jakarta",
         "Asia/Ho_Chi_Minh", "Asia/Singapore", "Asia/Kuala_Lumpur", "Asia/Manila", "Asia/Hong_Kong", "Asia/Shanghai",
         "Asia/Taipei", "Australia/Perth", "Asia/Seoul", "Asia/Tokyo", "Australia/Darwin", "Australia/Adelaide",
         "Australia/Brisbane", "Australia/Sydney", "Australia/Melbourne", "Australia/Hobart", "Pacific/Guam",
         "Pacific/Noumea", "Pacific/Auckland", "Pacific/Fiji", "Pacific/Chatham", "Pacific/Tongatapu",
         "Pacific/Apia", "Pacific/Kiritimati")
ON_REENTRY = (("no_second_draft", "Make no second draft: one draft per deal and trigger, ever"),
              ("new_draft", "Make a new draft every time the deal enters the stage or is won again"))
TWO_TRIGGERS = re.compile(r"stage (\d+) of pipeline (\d+) has two triggers", re.IGNORECASE)
TWO_WON = re.compile(r"pipeline (\d+) has two \"deal marked won\" triggers", re.IGNORECASE)
WON_AND_STAGE = re.compile(r"pipeline (\d+) makes a DRAFT (invoice|quote) both when a deal enters stage (\d+) and "
                           r"when it is marked won", re.IGNORECASE)
PAID_STAGE = re.compile(r"stage (\d+) of pipeline (\d+) makes a DRAFT (invoice|quote) \(under Triggers\), so paid",
                        re.IGNORECASE)
WON_TWICE = ("This pipeline already has a \"deal marked won\" trigger above; a pipeline can have only one. Change "
             "that one, or remove this one.")


@routes.get("/triggers")
async def show(request: web.Request) -> web.StreamResponse:
    settings = await request.config_dict[SETTINGS_STORE].get(app_session(request).company_id)
    return await _page(request, settings.model_dump(mode="json"), settings.version)


@routes.post("/triggers")
async def save(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    stages = await _stages(request)
    triggers, errors = _posted_triggers(form, stages)
    part = {"triggers": triggers, "timezone": form.get("timezone", ""), "on_reentry": form.get("on_reentry", ""),
            **_posted_won_and_on_demand(form)}

    async def page(document: dict[str, Any], version: int, **kwargs: Any) -> web.StreamResponse:
        return await _page(request, document, version, stages=stages, **kwargs)

    return await save_section(request, form, part, page, PATH, {**errors, **_duplicates(triggers),
                                                                **_won_duplicates(part.get("won_triggers") or [])})


def _posted_won_and_on_demand(form: Any) -> dict[str, Any]:
    """The "deal marked won" rows (blank and removed ones left out) and the on-demand boxes; a form from before these
    existed (none of their inputs posted) leaves them as stored."""
    part: dict[str, Any] = {}
    indexes = sorted({int(match[1]) for name in form if (match := WON_ROW.fullmatch(name))})
    if indexes:
        rows = [{"pipeline_id": blank_to_none(form.get(f"won_triggers.{i}.pipeline_id")),
                 "action": form.get(f"won_triggers.{i}.action", "invoice"),
                 "enabled": checked(form, f"won_triggers.{i}.enabled")}
                for i in indexes if not checked(form, f"won_triggers.{i}.remove")]
        part["won_triggers"] = [row for row in rows if row["pipeline_id"] is not None]
    if any(f"on_demand.{name}" in form for name in ON_DEMAND):
        part["on_demand"] = {name: checked(form, f"on_demand.{name}") for name in ON_DEMAND}
    return part


def _won_duplicates(won: list[dict[str, Any]]) -> dict[str, str]:
    seen: set[str] = set()
    errors = {}
    for index, row in enumerate(won):
        key = str(row["pipeline_id"])
        if key in seen:
            errors[f"won_triggers.{index}.pipeline_id"] = WON_TWICE
        seen.add(key)
    return errors


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
                errors: dict[str, str] | None = None, conflict: bool = False, status: int = 200,
                notice: str | None = None) -> web.Response:
    source = choices(request, app_session(request).company_id)
    pipelines = await source.pipedrive("pipelines and stages", lambda c: c.pipelines())
    stages = stages or await _stages(request)
    organisation = await source.xero_organisation()
    names = _Names(pipelines, stages)
    rows = [{**row, "index": index, "sentence": names.sentence(row, organisation)}
            for index, row in enumerate(document.get("triggers") or [])]
    won_rows = [{**row, "index": index, "sentence": names.won_sentence(row, organisation)}
                for index, row in enumerate(document.get("won_triggers") or [])]
    errors = _whole_document_errors(errors or {}, rows, won_rows, names)
    return render(request, "triggers.html", {
        "document": document, "version": version, "rows": rows, "new_index": len(rows),
        "won_rows": won_rows, "won_new_index": len(won_rows), "on_demand": document.get("on_demand") or {},
        "pipelines": pipelines, "stage_groups": names.groups(), "stages": stages,
        "actions": list(ACTIONS), "action_none": ACTION_NONE, "on_reentry": ON_REENTRY,
        "timezones": timezone_options(document.get("timezone")),
        "error_labels": _labels(len(rows), len(won_rows)),
        "organisation": organisation, "errors": errors, "conflict": CONFLICT if conflict else None,
        **saved_notice(request, notice)}, status=status)


def _labels(count: int, won_count: int = 0) -> dict[str, str]:
    labels = {"timezone": "Time zone", "on_reentry": "When a deal enters the stage again",
              "triggers": "Triggers", "(settings)": "Triggers", "won_triggers": "When a deal is marked won",
              "on_demand.invoice": "On demand · Draft invoice", "on_demand.quote": "On demand · Draft quote",
              "on_demand.more_than_once": "On demand · Allow more than one per deal"}
    for index in range(count + 1):
        where = f"Trigger {index + 1}" if index < count else "Add a trigger"
        for field, label in (("pipeline_id", "Pipeline"), ("stage_id", "Stage"), ("action", "Document"),
                             ("enabled", "Enabled")):
            labels[f"triggers.{index}.{field}"] = f"{where} · {label}"
    for index in range(won_count + 1):
        where = f"Won trigger {index + 1}" if index < won_count else "Add a won trigger"
        for field, label in (("pipeline_id", "Pipeline"), ("action", "Document"), ("enabled", "Enabled")):
            labels[f"won_triggers.{index}.{field}"] = f"{where} · {label}"
    return labels


def timezone_options(current: Any, now: datetime | None = None) -> list[tuple[str, str]]:
    """``("Pacific/Auckland", "(UTC+13:00) Auckland")``, by offset now; a stored zone not listed stays choosable."""
    now = now or datetime.now(UTC)
    zones = list(ZONES)
    if current and current not in zones:
        zones.append(str(current))
    options = []
    for name in zones:
        try:
            offset = now.astimezone(ZoneInfo(name)).utcoffset()
        except (ZoneInfoNotFoundError, ValueError):
            options.append((name, f"{name} (not a known time zone)"))
            continue
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
        city = name.rsplit("/", 1)[-1].replace("_", " ")
        place = "UTC" if name == "UTC" else city
        options.append((name, f"(UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}) {place}"))
    return sorted(options, key=lambda o: (_offset_of(o[1]), o[1]))


def _offset_of(label: str) -> int:
    match = re.match(r"\(UTC([+-])(\d\d):(\d\d)\)", label)
    if not match:
        return 10**6
    minutes = int(match[2]) * 60 + int(match[3])
    return minutes if match[1] == "+" else -minutes


def _whole_document_errors(errors: dict[str, str], rows: list[dict[str, Any]],
                           won_rows: list[dict[str, Any]] = (), names: "_Names | None" = None) -> dict[str, str]:
    """"stage 5 of pipeline 1 has two triggers" concerns the document; show it beside the second such trigger (and
    "pipeline 1 has two "deal marked won" triggers" beside the second won trigger of that pipeline)."""
    whole = errors.get("(settings)")
    paid = PAID_STAGE.search(whole or "")
    if paid:
        rest = {k: v for k, v in errors.items() if k != "(settings)"}
        for row in reversed(rows):
            if str(row.get("stage_id")) == paid[1] and str(row.get("pipeline_id")) == paid[2]:
                return {**rest, f"triggers.{row['index']}.stage_id": (
                    "Paid deals of this pipeline are moved to this stage (under Numbers on the deal), so a trigger "
                    "here would make a draft for every paid deal. Choose another stage, or change that setting "
                    "first.")}
        return errors
    both = WON_AND_STAGE.search(whole or "")
    if both:
        rest = {k: v for k, v in errors.items() if k != "(settings)"}
        for row in reversed(won_rows):
            if str(row.get("pipeline_id")) == both[1]:
                stage = (names.stage(both[3]) if names else None) or f"stage {both[3]}"
                return {**rest, f"won_triggers.{row['index']}.action": (
                    f"This pipeline already makes a DRAFT {both[2]} when a deal enters {stage} (above): with this "
                    f"too, a deal moved there and marked won would get two {both[2]}s. Choose the other document, or "
                    "switch one of the two off.")}
        return errors
    won = TWO_WON.search(whole or "")
    if won:
        rest = {k: v for k, v in errors.items() if k != "(settings)"}
        for row in reversed(won_rows):
            if str(row.get("pipeline_id")) == won[1]:
                return {**rest, f"won_triggers.{row['index']}.pipeline_id": WON_TWICE}
        return errors
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

    def stage(self, stage_id: Any) -> str | None:
        if stage_id in (None, ""):
            return None
        return next((s.name for s in self._stages if str(s.id) == str(stage_id)), f"stage {stage_id}")

    def groups(self) -> list[tuple[int, str, list[tuple[int, str]]]]:
        """Stages grouped by pipeline (id, name), for ``<optgroup>``s."""
        return [(p.id, p.name, [(s.id, s.name) for s in self._stages if s.pipeline_id == p.id])
                for p in self._pipeline_list]

    def sentence(self, row: dict[str, Any], organisation: str | None) -> dict[str, Any]:
        """The parts of "Deals entering *Won* in *Sales* become a DRAFT invoice in *Demo Company (NZ)*"."""
        stage = self.stage(row.get("stage_id"))
        pipeline = None if row.get("pipeline_id") in (None, "") else self.pipeline(row.get("pipeline_id"))
        where = {"stage": stage, "pipeline": pipeline, "organisation": organisation}
        if not row.get("enabled", True) or row.get("action") == "none":
            return {**where, "makes": None}
        return {**where, "makes": row.get("action")}

    def won_sentence(self, row: dict[str, Any], organisation: str | None) -> dict[str, Any]:
        """The parts of "Deals marked won in *Sales* become a DRAFT invoice in *Demo Company (NZ)*"."""
        pipeline = None if row.get("pipeline_id") in (None, "") else self.pipeline(row.get("pipeline_id"))
        off = not row.get("enabled", True) or row.get("action") == "none"
        return {"pipeline": pipeline, "organisation": organisation, "makes": None if off else row.get("action")}
