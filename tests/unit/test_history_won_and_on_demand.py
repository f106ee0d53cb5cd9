"""The History section names the won triggers and the on-demand choices as the Triggers section labels them."""

from types import SimpleNamespace

from pdx_gateway.app_ui import history
from pdx_gateway.app_ui.catalog import Source


def _names() -> history.Names:
    return history.Names({"pipelines": Source([SimpleNamespace(id=2, name="Renewals")])})


def test_a_won_trigger_added_reads_as_its_sentence():
    names = _names()
    section, label, kind = history.describe("won_triggers", names)
    assert (section, label) == ("Triggers", "When a deal is marked won")
    assert history.value(kind, [{"pipeline_id": 2, "action": "invoice", "enabled": True}], names) == \
        "Deals marked won in Renewals become a DRAFT invoice"
    assert history.value(kind, [{"pipeline_id": 2, "action": "quote", "enabled": False}], names) == \
        "Switched off: deals marked won in Renewals make nothing"


def test_a_won_triggers_pipeline_and_document_changes_are_labelled():
    names = _names()
    section, label, kind = history.describe("won_triggers.0.pipeline_id", names)
    assert label == "When a deal is marked won · Pipeline" and history.value(kind, 2, names) == "Renewals"
    assert history.describe("won_triggers.0.action", names)[1] == "When a deal is marked won · Document"


def test_the_on_demand_choices_use_the_sections_labels():
    names = _names()
    section, label, kind = history.describe("on_demand.more_than_once", names)
    assert (section, label) == ("Triggers", "Allow more than one per deal")
    assert history.value(kind, True, names) == "On"
    assert history.describe("on_demand.quote", names)[1] == "Salespeople may create a draft quote from a deal"


def test_won_triggers_added_changed_and_removed_read_as_sentences_like_stage_triggers():
    names, zone = _names(), history.ZoneInfo("UTC")
    added = history._entry({"won_triggers": [{"pipeline_id": 2, "action": "invoice"}],
                            "changes": [{"path": "won_triggers", "old": [], "new": [{"pipeline_id": 2,
                                                                                      "action": "invoice"}]}]},
                           {"won_triggers": []}, names, zone)
    assert [r["sentence"] for r in added["changes"]] == ["Added: Deals marked won in Renewals become a DRAFT invoice."]
    changed = history._entry({"won_triggers": [{"pipeline_id": 2, "action": "quote"}],
                              "changes": [{"path": "won_triggers.0.action", "old": "invoice", "new": "quote"}]},
                             {"won_triggers": [{"pipeline_id": 2, "action": "invoice"}]}, names, zone)
    assert [r["sentence"] for r in changed["changes"]] == \
        ["Changed: Deals marked won in Renewals now become a DRAFT quote (was: invoice)."]
    removed = history._entry({"won_triggers": [], "changes": [{"path": "won_triggers", "old": [{"pipeline_id": 2,
                                                                                                 "action": "quote"}],
                                                                "new": []}]}, None, names, zone)
    assert [r["sentence"] for r in removed["changes"]] == \
        ["Removed: Deals marked won in Renewals become a DRAFT quote."]
