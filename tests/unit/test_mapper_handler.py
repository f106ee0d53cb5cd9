"""The mapper's use case with fakes: what it reads, what it publishes, and on which day."""

from datetime import UTC, date, datetime

from pdx_common import topics
from pdx_common.company_settings import CompanySettings, Trigger
from pdx_common.contracts import DealChanged
from pdx_mapper.domain.mapping import DealSnapshot
from pdx_mapper.handlers import handle_deal_changed

DEAL = {"id": 9, "title": "Kiwi rollout", "value": 100, "currency": "NZD", "stage_id": 5, "pipeline_id": 1,
        "org_id": 1}


class FakeSettings:
    def __init__(self, settings: CompanySettings) -> None:
        self.settings, self.reads = settings, 0

    async def get(self, company_id: str) -> CompanySettings:
        self.reads += 1
        return self.settings


class FakeReader:
    async def read(self, company_id: str, deal_id: str) -> DealSnapshot:
        return DealSnapshot(deal=DEAL, org={"id": 1, "name": "Kiwi Ltd"}, company_domain="kiwi")


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, object]] = []

    async def publish(self, message, topic: str, key: bytes) -> None:
        self.published.append((topic, message))


def event(previous: dict) -> DealChanged:
    return DealChanged(company_id="7", deal_id="9", event_id="e1", action="change", data=DEAL, previous=previous)


async def run(previous: dict, settings: CompanySettings, now: datetime):
    repo, publisher = FakeSettings(settings), FakePublisher()
    await handle_deal_changed(event(previous), settings_repo=repo, reader=FakeReader(), publisher=publisher, now=now)
    return repo, publisher


SETTINGS = CompanySettings(timezone="Pacific/Auckland",
                           triggers=(Trigger(pipeline_id=1, stage_id=5, action="invoice"),))


async def test_an_edit_that_moves_no_stage_reads_nothing_and_publishes_nothing():
    repo, publisher = await run({"title": "old"}, SETTINGS, datetime.now(UTC))
    assert repo.reads == 0 and publisher.published == []


async def test_the_draft_is_dated_in_the_company_time_zone():
    # 20:00 UTC on the 26th is 09:00 on the 27th in Auckland.
    _, publisher = await run({"stage_id": 4}, SETTINGS, datetime(2026, 11, 26, 20, 0, tzinfo=UTC))
    [(topic, command)] = publisher.published
    assert topic == topics.XERO_COMMANDS and command.date == date(2026, 11, 27)
    assert command.source_event_id == "e1" and command.trigger_id == "p1-s5"


def test_stored_settings_from_an_older_version_still_read():
    from pdx_common.company_settings import stored_settings

    old = {"_id": "7", "updated_at": "x", "version": 3, "money": {"sales_account_code": "260", "retired": []},
           "triggers": [{"pipeline_id": 1, "stage_id": 5, "action": "invoice"}], "retired_setting": True}
    settings = stored_settings(old)
    assert settings.version == 3 and settings.money.sales_account_code == "260" and settings.triggers[0].id == "p1-s5"


async def test_the_deal_link_is_built_from_the_company_domain_saved_at_install_not_from_the_event():
    hostile = event({"stage_id": 4}).model_copy(update={"host": "evil.example"})
    publisher = FakePublisher()
    await handle_deal_changed(hostile, settings_repo=FakeSettings(SETTINGS), reader=FakeReader(), publisher=publisher,
                              now=datetime.now(UTC))
    [(_, command)] = publisher.published
    assert command.deal_url == "https://kiwi.pipedrive.com/deal/9"


async def test_a_replay_re_runs_exactly_the_failed_triggers_with_the_deal_as_it_is_now():
    # An edit event (no stage move) carrying the replayed trigger: the trigger is re-run although nothing "entered".
    replay = event({"title": "old"}).model_copy(update={"replay_of": "r0", "replay_triggers": ("p1-s5@2026-11-01",)})
    publisher = FakePublisher()
    await handle_deal_changed(replay, settings_repo=FakeSettings(SETTINGS), reader=FakeReader(), publisher=publisher,
                              now=datetime.now(UTC))
    [(topic, command)] = publisher.published
    assert topic == topics.XERO_COMMANDS and command.trigger_id == "p1-s5@2026-11-01"
    assert command.source_event_id == replay.id  # a replay is a new request, not Pipedrive's old event


async def test_a_replay_of_a_trigger_no_longer_configured_is_explained():
    replay = event({"stage_id": 4}).model_copy(update={"replay_of": "r0", "replay_triggers": ("p1-s9",)})
    publisher = FakePublisher()
    await handle_deal_changed(replay, settings_repo=FakeSettings(SETTINGS), reader=FakeReader(), publisher=publisher,
                              now=datetime.now(UTC))
    [(topic, failure)] = publisher.published
    assert topic == topics.DOCUMENT_RESULTS and failure.code == "trigger_removed" and failure.trigger_id == "p1-s9"
