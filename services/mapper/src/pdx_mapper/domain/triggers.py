"""Which triggers a deal event fired: the deal ENTERED a configured stage, or was MARKED WON. Pure.

Pipedrive's Won button changes the deal's ``status`` ("open" -> "won") and leaves its stage where it was; one event can
do both (a deal moved into a trigger stage and marked won at once), and then fires both triggers, each its own ledger
key.
"""

from pdx_common.company_settings import AnyTrigger, CompanySettings, Trigger, WonTrigger
from pdx_common.contracts import DealChanged


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def entered_stage(event: DealChanged) -> tuple[int | None, int] | None:
    """(pipeline, stage) the deal entered with this event, or None when its stage did not change."""
    if event.action == "delete" or not event.data:
        return None
    stage = _int(event.data.get("stage_id"))
    if stage is None:
        return None
    if event.action == "change":
        previous = event.previous or {}
        if "stage_id" not in previous or _int(previous.get("stage_id")) == stage:
            return None
    return _int(event.data.get("pipeline_id")), stage


def marked_won(event: DealChanged) -> tuple[int | None] | None:
    """``(pipeline,)`` of a deal this event marked won, or None.

    Won: ``data.status == "won"`` and either the deal was created won or ``previous`` holds another status, e.g.
    ``{"action": "change", "data": {"status": "won", "pipeline_id": 1, ...}, "previous": {"status": "open"}}``.
    An edit of a deal that is already won (``previous`` without ``status``) is not a win."""
    if event.action == "delete" or not event.data or event.data.get("status") != "won":
        return None
    if event.action == "change":
        previous = event.previous or {}
        if "status" not in previous or previous.get("status") == "won":
            return None
    return (_int(event.data.get("pipeline_id")),)


def may_fire(event: DealChanged) -> bool:
    """Whether the event can fire any trigger: most deal events are edits, which need no settings read."""
    return entered_stage(event) is not None or marked_won(event) is not None


def moved_when_paid(event: DealChanged, settings: CompanySettings) -> bool:
    """Whether the event is our own move of a paid deal: an API change (``change_source`` "api", as our PATCH of a
    deal is) INTO the stage the company moves paid deals of that pipeline to (``deal_fields.paid_stages``). It fires
    nothing, beside the settings' rule that a paid stage is never a trigger stage: numbers written back onto a deal
    must never make a draft."""
    entered = entered_stage(event)
    if entered is None or event.change_source != "api":
        return False
    pipeline, stage = entered
    paid = settings.deal_fields.paid_stage_for(pipeline)
    return paid is not None and paid == stage


def fired_trigger(event: DealChanged, settings: CompanySettings) -> Trigger | None:
    """The stage trigger the event fired (its stage makes something), or None."""
    entered = entered_stage(event)
    if entered is None or moved_when_paid(event, settings):
        return None
    trigger = settings.trigger_for(*entered)
    return trigger if trigger and trigger.makes != "none" else None  # "none" or switched off


def fired_won_trigger(event: DealChanged, settings: CompanySettings) -> WonTrigger | None:
    """The "deal marked won" trigger of the deal's pipeline the event fired, or None."""
    won = marked_won(event)
    if won is None:
        return None
    trigger = settings.won_trigger_for(*won)
    return trigger if trigger and trigger.makes != "none" else None


def fired_triggers(event: DealChanged, settings: CompanySettings) -> list[tuple[AnyTrigger, str]]:
    """Each trigger the event fired, with the id of this instance of it (the ledger key's trigger part).

    By default a trigger fires once per deal (``p1-s5``, ``p1-won``): re-entering the stage or re-winning the deal
    finds the draft in the ledger. With ``on_reentry == "new_draft"`` each entry and each win is its own instance,
    named by Pipedrive's own time of it, so a redelivered or late event names the same instance again::

        p1-s5@2026-11-27T09:00:00Z    p1-won@2026-11-27T09:00:00Z
    """
    if moved_when_paid(event, settings):
        return []
    fired: list[tuple[AnyTrigger, str]] = []
    stage = fired_trigger(event, settings)
    if stage is not None:
        fired.append((stage, _instance(stage.id, event, settings, "stage_change_time")))
    won = fired_won_trigger(event, settings)
    if won is not None:
        fired.append((won, _instance(won.id, event, settings, "won_time")))
    return fired


def _instance(trigger_id: str, event: DealChanged, settings: CompanySettings, time_field: str) -> str:
    if settings.on_reentry != "new_draft":
        return trigger_id
    at = (event.data or {}).get(time_field) or event.event_timestamp or event.event_id
    return f"{trigger_id}@{at}"
