"""Why a replayed, requested or backfilled trigger made nothing (it is switched off, or no longer set up), in words a
salesperson understands, with what an admin does about it. Pure."""

from pdx_common.company_settings import AnyTrigger, OnDemandTrigger, WonTrigger
from pdx_mapper.domain.mapping import APP_SETTINGS

# What made nothing, by why the trigger ran: the sentence's ending.
_MADE_NOTHING = {"replay": "so the replay made nothing", "backfill": "so the backfill made nothing",
                 "on_demand": "so no draft was made", None: "so the replay made nothing"}
_THEN = {"replay": "then replay the deal", "backfill": "then run the backfill again",
         "on_demand": "then try again from the deal", None: "then replay the deal"}
_ON_DEMAND_BOX = {"invoice": "Salespeople may create a draft invoice from a deal",
                  "quote": "Salespeople may create a draft quote from a deal"}


def unavailable(trigger_id: str, trigger: AnyTrigger | None, request: str | None) -> tuple[str, str]:
    """``(message, fix)`` for a trigger that makes nothing now, e.g. for ``manual-quote`` switched off::

        ("Creating drafts from the deal is switched off in the app's settings, so no draft was made.",
         "An admin can turn it on: open Triggers in the app's settings (...), tick \"Salespeople may create a draft
          quote from a deal\" under On demand and save, then try again from the deal.")
    """
    made_nothing, then = _MADE_NOTHING.get(request, _MADE_NOTHING[None]), _THEN.get(request, _THEN[None])
    if isinstance(trigger, OnDemandTrigger) or trigger_id.startswith("manual-"):
        action = trigger.action if trigger is not None else trigger_id.removeprefix("manual-").split("@", 1)[0]
        box = _ON_DEMAND_BOX.get(action, _ON_DEMAND_BOX["invoice"])
        return (f"Creating drafts from the deal is switched off in the app's settings, {made_nothing}.",
                f"An admin can turn it on: open Triggers in {APP_SETTINGS}, tick \"{box}\" under On demand and "
                f"save, {then}.")
    switched_off = trigger is not None and trigger.action != "none"  # and so not enabled
    won = isinstance(trigger, WonTrigger) or trigger_id.split("@", 1)[0].endswith("-won")
    if switched_off:
        what = "The \"deal marked won\" trigger of this pipeline" if won else "The trigger that made this draft"
        return (f"{what} is switched off in the app's settings, {made_nothing}.",
                f"If it should make a draft, open Triggers in {APP_SETTINGS}, tick Enabled for the trigger and "
                f"save, {then}.")
    if won:
        return (f"The deal's pipeline is no longer set to make a draft when a deal is marked won, {made_nothing}.",
                f"If it should make a draft, open Triggers in {APP_SETTINGS}, add a trigger under \"When a deal is "
                f"marked won\" for the pipeline and save, {then}.")
    return (f"The stage that made this draft is no longer set to make one, {made_nothing}.",
            f"If it should make a draft, open Triggers in {APP_SETTINGS}, add a trigger for the stage and save, "
            f"{then}.")
