"""What a deal action will do, in words a salesperson reads, or why it cannot. Pure: the caller reads the deal's
trigger outcomes (``deal_status``), the company's settings, stage names, and whether Xero is connected.

    plan = replay_plan(rows, settings, {5: "Won"}, has_stage_move=True)
    [s.text for s in plan.steps]
    # ["The draft invoice for the Won stage failed: Replay tries again with the deal as it is now.",
    #  "Draft invoice INV-0007 will be updated with the current settings and deal, if it is still a draft in Xero."]
"""

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pdx_common.company_settings import CompanySettings

ACTIONS = ("replay", "create-invoice", "create-quote")
Kind = Literal["invoice", "quote"]
APP = "the Xero drafts app's settings"
STAGE_TRIGGER = re.compile(r"p(\d+)-s(\d+)")
# A made document's state in Xero now (the panel's read model, kept by Xero's webhooks), as a person says it.
NO_LONGER_DRAFT = {"SUBMITTED": "is awaiting approval in Xero", "AUTHORISED": "is approved in Xero (awaiting payment)",
                   "PAID": "is paid in Xero", "VOIDED": "is voided in Xero", "DELETED": "is deleted in Xero",
                   "SENT": "has been sent to the customer", "ACCEPTED": "has been accepted by the customer",
                   "DECLINED": "has been declined by the customer", "INVOICED": "has been turned into an invoice"}


@dataclass(frozen=True)
class Refusal:
    message: str
    fix: str | None = None

    def words(self) -> str:
        return f"{self.message} {self.fix}" if self.fix else self.message


@dataclass(frozen=True)
class Step:
    text: str
    detail: str | None = None


@dataclass(frozen=True)
class Plan:
    """Steps and the button, or a refusal (then nothing may be published)."""

    action: str
    heading: str
    button: str
    steps: tuple[Step, ...] = ()
    refusal: Refusal | None = None
    kind: Kind | None = None  # what a create makes
    extra: dict[str, Any] = field(default_factory=dict)


def kind_of(action: str) -> Kind | None:
    return {"create-invoice": "invoice", "create-quote": "quote"}.get(action)  # type: ignore[return-value]


def heading(action: str) -> str:
    kind = kind_of(action)
    return f"Create draft {kind}" if kind else "Replay this deal"


def started(action: str) -> str:
    kind = kind_of(action)
    if kind:
        return f"Draft {kind} requested: it appears in the deal's Xero panel and activities within a minute."
    return "Replay started: the outcome appears in the deal's activities within a minute."


def already(action: str) -> str:
    return f"Already started: {started(action)[0].lower()}{started(action)[1:]}"


def where(trigger_id: str | None, stage_names: dict[int, str]) -> str:
    """Which trigger, as a person knows it: "for the Won stage", "for the deal marked won", "requested on the deal"."""
    base = (trigger_id or "").split("@", 1)[0]
    stage = STAGE_TRIGGER.fullmatch(base)
    if stage:
        number = int(stage.group(2))
        return f"for the {stage_names[number]} stage" if number in stage_names else f"for stage {number}"
    if base.endswith("-won"):
        return "for the deal marked won"
    if base.startswith("manual-"):
        return "requested on the deal"
    return "for the deal"


def _kind(row: dict[str, Any], settings: CompanySettings) -> str:
    trigger = settings.trigger_by_id(row["trigger_id"]) if row.get("trigger_id") else None
    action = trigger.action if trigger is not None else row.get("kind")
    return action if action in ("invoice", "quote") else "draft"


def _draft(kind: str) -> str:
    return "draft" if kind == "draft" else f"draft {kind}"


def replay_plan(rows: list[dict[str, Any]], settings: CompanySettings, stage_names: dict[int, str], *,
                has_stage_move: bool) -> Plan:
    """Failed triggers are tried again, made drafts regenerated; waiting ones resume by themselves; skips stay."""
    steps: list[Step] = []
    early_failure = False
    for row in sorted(rows, key=lambda r: str(r.get("trigger_id") or "")):
        state, trigger_id = row.get("state"), row.get("trigger_id")
        kind = _kind(row, settings)
        if state == "failed" and trigger_id is None:
            early_failure = True
        elif state == "failed":
            steps.append(Step(f"The {_draft(kind)} {where(trigger_id, stage_names)} failed: Replay tries again "
                              "with the deal as it is now.",
                              f"Last time: {row['message']}" if row.get("message") else None))
        elif state == "created" and row.get("xero_status") in NO_LONGER_DRAFT:
            number = f" {row['number']}" if row.get("number") else f" {where(trigger_id, stage_names)}"
            what = kind if kind != "draft" else "document"
            steps.append(Step(f"{what.capitalize()}{number} {NO_LONGER_DRAFT[row['xero_status']]}, so Replay leaves "
                              "it untouched: Replay only updates drafts. Change it in Xero itself."))
        elif state == "created":
            number = f" {row['number']}" if row.get("number") else f" {where(trigger_id, stage_names)}"
            steps.append(Step(f"{_draft(kind).capitalize()}{number} will be updated with the current settings and "
                              "deal, if it is still a draft in Xero."))
        elif state == "parked":
            steps.append(Step(f"The {_draft(kind)} {where(trigger_id, stage_names)} is waiting for Xero; it is made "
                              "by itself once Xero is connected again, so Replay leaves it."))
    acting = [s for s in steps if "waiting for Xero" not in s.text]
    if not acting and early_failure and has_stage_move:
        steps.append(Step("An earlier attempt failed before the deal's trigger was known: Replay runs the deal's "
                          "last stage move again, with the deal as it is now."))
        acting = steps
    plan = Plan("replay", heading("replay"), "Replay", tuple(steps))
    if acting:
        return plan
    return Plan("replay", plan.heading, plan.button, tuple(steps), Refusal(
        "There is nothing to replay on this deal: no draft failed and none was made.",
        "To make a draft, move the deal into its trigger stage in Pipedrive, or use Create draft invoice or Create "
        "draft quote in the deal's Xero panel."))


def create_refusal(kind: Kind, settings: CompanySettings, rows: list[dict[str, Any]], *,
                   xero_connected: bool) -> Refusal | None:
    """Why a person's "Create draft <kind>" cannot run (checked before the deal is read), or None."""
    if not getattr(settings.on_demand, kind):
        return Refusal(f"Creating a draft {kind} from a deal is switched off for your company.",
                       f"Ask a Pipedrive admin of your company to switch it on under Triggers in {APP}.")
    if not settings.on_demand.more_than_once:
        mine = [r for r in rows if str(r.get("trigger_id") or "").split("@", 1)[0] == f"manual-{kind}"]
        # Any draft of this kind counts, whoever made it: a deal invoiced when it was won is not invoiced again.
        made = next((r for r in rows if r.get("state") == "created" and _kind(r, settings) == kind), None)
        if made is not None:
            number = f" {made['number']}" if made.get("number") else ""
            trigger = str(made.get("trigger_id") or "").split("@", 1)[0]
            origin = "made on request" if trigger.startswith("manual-") else "made by the app"
            return Refusal(f"This deal already has {kind}{number} in Xero ({origin}), and each deal gets one "
                           f"{kind}.",
                           f"Open it from the deal's Xero panel; while it is a draft, Replay updates it with the "
                           f"deal as it is now. If deals should get more than one, an admin can allow it under "
                           f"Triggers in {APP}.")
        if any(r.get("state") == "parked" for r in mine):
            return Refusal(f"The draft {kind} already requested on this deal is waiting for Xero.",
                           "It is made by itself once Xero is connected again; there is no need to ask twice.")
    if not xero_connected:
        return Refusal(f"Xero is not connected, so no draft {kind} can be made.",
                       f"Ask a Pipedrive admin of your company to connect Xero under Connections in {APP}, then "
                       "try again.")
    return None


def create_plan(kind: Kind, settings: CompanySettings, rows: list[dict[str, Any]], organisation: str | None,
                refusal: Refusal | None) -> Plan:
    action = f"create-{kind}"
    if refusal is not None:
        return Plan(action, heading(action), f"Create draft {kind}", refusal=refusal, kind=kind)
    into = f" in {organisation}" if organisation else ""
    steps = [Step(f"A draft {kind} is made in Xero{into} from the deal as it is now in Pipedrive, with your "
                  "company's settings. It appears in the deal's Xero panel and activities within a minute.")]
    made = [r for r in rows if r.get("state") == "created" and _kind(r, settings) == kind]
    if made:
        numbers = ", ".join(str(r.get("number")) for r in made if r.get("number")) or "one"
        steps.append(Step(f"This deal already has {kind} {numbers} in Xero; this makes another."))
    return Plan(action, heading(action), f"Create draft {kind}", tuple(steps), kind=kind)


def on_demand_trigger(kind: Kind, settings: CompanySettings, request_id: str) -> str:
    """``manual-invoice``; with ``more_than_once`` each request its own (``manual-invoice@<request id>``)."""
    base = f"manual-{kind}"
    return f"{base}@{request_id}" if settings.on_demand.more_than_once else base


def problem_refusal(code: str, message: str, fix: str | None) -> Refusal:
    """The engine's own words for a deal that cannot become a draft; the fixes that speak of "the preview" (the
    settings app's page) are said for a person on the deal."""
    if code in ("pipedrive_unavailable",):
        return Refusal(message, "Try again in a minute.")
    if code in ("pipedrive_not_connected",):
        return Refusal(message, "Ask a Pipedrive admin of your company to reinstall or reconnect the app in Pipedrive "
                                "(Settings > Apps), then try again.")
    if code in ("deal_not_found", "not_a_deal_id"):
        return Refusal(message, "Open the deal in Pipedrive and use the action from its Xero panel.")
    return Refusal(message, fix)
