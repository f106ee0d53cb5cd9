"""'Deal marked won' triggers: Pipedrive's Won button changes ``status`` and not the stage. Which events fire, with
which instance id (the ledger key's trigger part), and what the mapper publishes for them; replays, on-demand
requests and backfills resolve every kind of trigger id, and only a person's Replay regenerates."""

from datetime import UTC, datetime

import pytest

from pdx_common import topics
from pdx_common.company_settings import CompanySettings, OnDemand, Trigger, WonTrigger
from pdx_common.contracts import DealChanged
from pdx_mapper.domain.triggers import fired_triggers, marked_won, may_fire
from pdx_mapper.handlers import handle_deal_changed
from tests.unit.test_mapper_handler import FakePublisher, FakeReader, FakeSettings

T1, T2 = "2026-11-02T09:00:00Z", "2026-11-20T16:30:00Z"
SETTINGS = CompanySettings(triggers=(Trigger(pipeline_id=1, stage_id=5, action="invoice"),),
                           won_triggers=(WonTrigger(pipeline_id=1, action="quote"),
                                         WonTrigger(pipeline_id=3, action="invoice", enabled=False)))
NEW_DRAFT = SETTINGS.model_copy(update={"on_reentry": "new_draft"})


def event(action: str, data: dict | None, previous: dict | None = None, *, event_id: str = "e1",
          attempt: int = 1) -> DealChanged:
    return DealChanged(company_id="7", deal_id="9", event_id=event_id, action=action, data=data, previous=previous,
                       attempt=attempt)


def deal(status: str = "won", stage_id: int = 3, pipeline_id: int = 1, won_time: str | None = T1) -> dict:
    return {"id": 9, "title": "Kiwi rollout", "value": 100, "currency": "NZD", "org_id": 1, "status": status,
            "stage_id": stage_id, "pipeline_id": pipeline_id, "won_time": won_time if status == "won" else None,
            "stage_change_time": "2026-10-01T08:00:00Z"}


@pytest.mark.parametrize(("what", "action", "data", "previous", "fired"), [
    ("the Won button", "change", deal(), {"status": "open", "won_time": None}, ["p1-won"]),
    ("won from lost", "change", deal(), {"status": "lost"}, ["p1-won"]),
    ("created already won", "create", deal(), None, ["p1-won"]),
    ("moved into a trigger stage and won at once", "change", deal(stage_id=5), {"stage_id": 4, "status": "open"},
     ["p1-s5", "p1-won"]),
    ("an edit of a won deal", "change", deal(), {"title": "old"}, []),
    ("marked lost", "change", deal(status="lost"), {"status": "open"}, []),
    ("reopened", "change", deal(status="open"), {"status": "won"}, []),
    ("won in a pipeline without a won trigger", "change", deal(pipeline_id=2), {"status": "open"}, []),
    ("won in a pipeline whose won trigger is off", "change", deal(pipeline_id=3), {"status": "open"}, []),
    ("a previous status that was already won", "change", deal(), {"status": "won"}, []),
    ("deleted", "delete", None, {"status": "won"}, []),
])
def test_which_events_mark_a_deal_won(what, action, data, previous, fired):
    assert [trigger_id for _, trigger_id in fired_triggers(event(action, data, previous), SETTINGS)] == fired, what


def test_only_a_stage_move_or_a_status_change_can_fire_so_edits_read_no_settings():
    assert may_fire(event("change", deal(), {"status": "open"}))
    assert not may_fire(event("change", deal(), {"title": "old", "value": 90}))
    assert not may_fire(event("change", deal(status="lost"), {"status": "open"}))
    assert marked_won(event("change", deal(pipeline_id=4), {"status": "open"})) == (4,)


def test_reopened_then_won_again_is_one_trigger_by_default_and_two_instances_with_new_draft():
    first = event("change", deal(won_time=T1), {"status": "open"}, event_id="e1")
    reopened = event("change", deal(status="open"), {"status": "won", "won_time": T1}, event_id="e2")
    again = event("change", deal(won_time=T2), {"status": "open", "won_time": T1}, event_id="e3")
    by_default = [fired_triggers(e, SETTINGS) for e in (first, reopened, again)]
    assert [[i for _, i in f] for f in by_default] == [["p1-won"], [], ["p1-won"]]  # the ledger skips the second
    each_win = [fired_triggers(e, NEW_DRAFT) for e in (first, reopened, again)]
    assert [[i for _, i in f] for f in each_win] == [[f"p1-won@{T1}"], [], [f"p1-won@{T2}"]]


def test_a_late_older_event_names_the_same_instance_as_when_it_first_came():
    """Pipedrive retries 3, 30 and 150 s later: the first win arriving after the second names the first win (the
    ledger holds it), never the win that is the deal's latest."""
    first = event("change", deal(won_time=T1), {"status": "open"}, event_id="e1")
    late = event("change", deal(won_time=T1), {"status": "open"}, event_id="e1", attempt=4)
    assert [i for _, i in fired_triggers(late, NEW_DRAFT)] == [i for _, i in fired_triggers(first, NEW_DRAFT)] == [
        f"p1-won@{T1}"]
    stale_reopen = event("change", deal(status="open"), {"status": "won", "won_time": T1}, event_id="e2", attempt=3)
    assert fired_triggers(stale_reopen, NEW_DRAFT) == []


def test_a_win_without_a_won_time_falls_back_to_pipedrive_s_event_time():
    won = event("change", deal(won_time=None), {"status": "open"}).model_copy(
        update={"event_timestamp": datetime(2026, 11, 2, 9, 0, tzinfo=UTC)})
    [(_, instance)] = fired_triggers(won, NEW_DRAFT)
    assert instance.startswith("p1-won@2026-11-02")


async def run(message: DealChanged, settings: CompanySettings = SETTINGS) -> tuple[FakeSettings, FakePublisher]:
    repo, publisher = FakeSettings(settings), FakePublisher()
    await handle_deal_changed(message, settings_repo=repo, reader=FakeReader(), publisher=publisher,
                              now=datetime.now(UTC))
    return repo, publisher


async def test_the_won_button_makes_the_pipeline_s_document():
    _, publisher = await run(event("change", deal(), {"status": "open"}))
    [(topic, command)] = publisher.published
    assert (topic, command.type, command.trigger_id, command.regenerate) == (topics.XERO_COMMANDS, "CreateQuote",
                                                                            "p1-won", False)


async def test_moved_into_a_trigger_stage_and_won_at_once_makes_one_command_per_trigger():
    _, publisher = await run(event("change", deal(stage_id=5), {"stage_id": 4, "status": "open"}))
    assert [(c.type, c.trigger_id) for _, c in publisher.published] == [("CreateInvoice", "p1-s5"),
                                                                        ("CreateQuote", "p1-won")]
    assert len({c.ledger_key for _, c in publisher.published}) == 2


async def test_marking_a_deal_lost_reads_no_settings():
    repo, publisher = await run(event("change", deal(status="lost"), {"status": "open"}))
    assert repo.reads == 0 and publisher.published == []


def request(kind: str | None, *trigger_ids: str) -> DealChanged:
    return event("change", deal(status="open"), {"title": "old"}).model_copy(
        update={"replay_of": "r0", "replay_triggers": trigger_ids, "request": kind})


@pytest.mark.parametrize(("kind", "trigger_id", "makes", "regenerate"), [
    ("replay", "p1-won", "CreateQuote", True),
    ("replay", f"p1-s5@{T1}", "CreateInvoice", True),
    ("on_demand", "manual-invoice", "CreateInvoice", False),
    ("on_demand", "manual-quote@req-7", "CreateQuote", False),
    ("backfill", "p1-s5", "CreateInvoice", False),
    ("backfill", "p1-won", "CreateQuote", False),
    (None, "p1-s5", "CreateInvoice", False),  # a replay from before requests existed
])
async def test_requests_resolve_every_kind_of_trigger_and_only_a_replay_regenerates(kind, trigger_id, makes,
                                                                                      regenerate):
    message = request(kind, trigger_id)
    _, publisher = await run(message)
    [(topic, command)] = publisher.published
    assert (topic, command.type, command.trigger_id) == (topics.XERO_COMMANDS, makes, trigger_id)
    assert command.regenerate is regenerate and command.source_event_id == message.id


@pytest.mark.parametrize(("kind", "trigger_id", "says", "fix_says"), [
    ("on_demand", "manual-quote", "Creating drafts from the deal is switched off in the app's settings, so no draft "
     "was made.", "tick \"Salespeople may create a draft quote from a deal\" under On demand and save, then try "
     "again from the deal."),
    ("on_demand", "manual-invoice@req-9", "Creating drafts from the deal is switched off",
     "tick \"Salespeople may create a draft invoice from a deal\""),
    ("replay", "p3-won", "The \"deal marked won\" trigger of this pipeline is switched off in the app's settings, "
     "so the replay made nothing.", "tick Enabled for the trigger and save, then replay the deal."),
    ("backfill", "p2-won", "no longer set to make a draft when a deal is marked won, so the backfill made nothing.",
     "add a trigger under \"When a deal is marked won\" for the pipeline and save, then run the backfill again."),
    (None, "p1-s9", "The stage that made this draft is no longer set to make one, so the replay made nothing.",
     "add a trigger for the stage"),
])
async def test_a_trigger_that_is_off_or_gone_is_explained(kind, trigger_id, says, fix_says):
    settings = SETTINGS.model_copy(update={"on_demand": OnDemand(invoice=False, quote=False)})
    _, publisher = await run(request(kind, trigger_id), settings)
    [(topic, failure)] = publisher.published
    assert topic == topics.DOCUMENT_RESULTS and failure.code == "trigger_removed"
    assert failure.trigger_id == trigger_id and says in failure.message and fix_says in failure.fix
    assert "Open Triggers" in failure.fix or "open Triggers" in failure.fix
    assert failure.kind == (trigger_id.removeprefix("manual-").split("@")[0] if kind == "on_demand" else None)
