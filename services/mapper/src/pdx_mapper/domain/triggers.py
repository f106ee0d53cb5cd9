"""Did a deal ENTER a configured stage? Pure."""

from pdx_common.company_settings import CompanySettings, Trigger
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


def fired_trigger(event: DealChanged, settings: CompanySettings) -> Trigger | None:
    entered = entered_stage(event)
    if entered is None:
        return None
    trigger = settings.trigger_for(*entered)
    return trigger if trigger and trigger.makes != "none" else None  # "none" or switched off
