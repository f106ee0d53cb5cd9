"""Xero's numbers back on the deal, against the real store and the Xero and Pipedrive sandboxes: a payment made in
Xero (``/_sandbox/invoices/{id}/pay``) reaches the crm-card as Xero's webhook and sets the chosen deal fields and the
paid stage exactly once, however often Xero delivers it, and again when the payment is removed; nothing is written
for a company that chose nothing; a write Pipedrive refuses is recorded with its reason; one that fails for a moment
is written by the retry; webhooks handled at the same time write once, and the newest values last."""

from typing import Any

from pdx_common.company_settings import CompanySettings
from pdx_crmcard.adapters.deal_field_writes import MongoDealFieldWrites
from pdx_sandbox.pipedrive import fields
from pdx_sandbox.pipedrive.seed import SALES_PIPELINE_ID, STAGE_NEGOTIATIONS, STAGE_WON
from pdx_sandbox.xero import NZ_TENANT_ID
from pdx_sandbox.xero.documents import stamp
from tests.integration.test_panel_rig import DEMO_DEAL, CardRig, open_card
from tests.integration.test_xero_webhooks import eventually, post, settled, subjects

TRIGGER = f"p{SALES_PIPELINE_ID}-s{STAGE_NEGOTIATIONS}"


def make_fields(rig: CardRig) -> dict[str, str]:
    """The four deal fields, as "Create these fields in Pipedrive" makes them: name -> 40-character key."""
    made = {}
    for name, field_type in (("status", "varchar"), ("amount_due", "monetary"), ("number", "varchar"),
                             ("link", "varchar")):
        made[name] = fields.create(rig.pd, "deal", {"name": f"Xero {name}", "field_type": field_type})["key"]
    return made


async def choose(rig: CardRig, keys: dict[str, str] | None, *, paid_stage: bool = True) -> None:
    """The company's settings as the settings app saves them: a trigger, and the deal fields (None: none chosen)."""
    types = {"amount_due": "monetary"}
    deal_fields: dict[str, Any] = {name: {"key": key, "field_type": types.get(name, "varchar")}
                                   for name, key in (keys or {}).items()}
    if keys is not None and paid_stage:
        deal_fields["paid_stages"] = [{"pipeline_id": SALES_PIPELINE_ID, "stage_id": STAGE_WON}]
    settings = CompanySettings.model_validate({
        "triggers": [{"pipeline_id": SALES_PIPELINE_ID, "stage_id": STAGE_NEGOTIATIONS, "action": "invoice"}],
        "deal_fields": deal_fields})
    await rig.db.company_settings.replace_one({"_id": rig.company_id},
                                              {**settings.model_dump(mode="json"), "version": 1}, upsert=True)


async def in_xero(rig: CardRig, invoice_id: str, action: str) -> None:
    """A person approving or paying the invoice in Xero."""
    async with rig.session.post(f"{rig.xero_url}/_sandbox/invoices/{invoice_id}/{action}",
                                json={"tenant_id": NZ_TENANT_ID}) as resp:
        assert resp.status == 200, await resp.text()


def patches(rig: CardRig, deal_id: int = DEMO_DEAL) -> list[dict]:
    return [r for r in rig.pd.requests if r["method"] == "PATCH" and r["path"] == f"/api/v2/deals/{deal_id}"]


def deal(rig: CardRig, deal_id: int = DEMO_DEAL) -> dict:
    return rig.pd.deals[deal_id]


async def test_a_payment_sets_the_deal_fields_and_stage_once_however_often_xero_says_so(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        keys = make_fields(rig)
        await choose(rig, keys)
        invoice = await rig.draft(DEMO_DEAL, trigger_id=TRIGGER)  # the pipeline, from the trigger
        rig.xero.webhook_url = f"{rig.card_url}/webhooks/xero"  # after the draft: its CREATE would race DocumentCreated
        invoice_id, number = invoice["InvoiceID"], invoice["InvoiceNumber"]
        assert deal(rig)["custom_fields"][keys["status"]] == "Draft"
        await in_xero(rig, invoice_id, "approve")
        await eventually(lambda: deal(rig)["custom_fields"][keys["status"]] == "Awaiting payment")
        await in_xero(rig, invoice_id, "pay")
        await eventually(lambda: deal(rig)["stage_id"] == STAGE_WON)
        await settled(rig)

        delivery = rig.xero.webhook_deliveries[-1]
        for _ in range(2):  # the same delivery twice more: three in all (our answers were lost, say)
            assert await post(rig, delivery.body, delivery.signature) == 200
        before = len(rig.xero.webhook_deliveries)
        rig.xero.emit(NZ_TENANT_ID, "INVOICE", "UPDATE", invoice_id)  # and a later event about the same state
        await eventually(lambda: len(rig.xero.webhook_deliveries) > before)
        await settled(rig)
        written = [r["json"] for r in patches(rig)]
        claims = await rig.db.deal_field_writes.find().to_list()

    links = [w["custom_fields"].pop(keys["link"]) for w in written]
    assert all(invoice_id in link and link.startswith("https://go.xero.com/") for link in links)
    due = keys["amount_due"]
    assert written == [
        {"custom_fields": {keys["status"]: "Draft", due: {"value": 1725.0, "currency": "NZD"}, keys["number"]: number}},
        {"custom_fields": {keys["status"]: "Awaiting payment", due: {"value": 1725.0, "currency": "NZD"},
                           keys["number"]: number}},
        {"custom_fields": {keys["status"]: "Paid", due: {"value": 0.0, "currency": "NZD"}, keys["number"]: number},
         "stage_id": STAGE_WON}]
    assert deal(rig)["custom_fields"][keys["amount_due"]] == {"value": 0.0, "currency": "NZD"}
    [claim] = claims  # one per deal: what it last got
    assert (claim["_id"], claim["state"], claim["xero_id"]) == (
        f"deal-fields:{rig.company_id}:{DEMO_DEAL}", "written", invoice_id)
    assert subjects(rig, DEMO_DEAL).count(f"Invoice {number} paid") == 1


async def test_nothing_is_written_on_the_deal_unless_the_company_chose_it(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        make_fields(rig)
        await choose(rig, None)
        invoice = await rig.draft(DEMO_DEAL, trigger_id=TRIGGER)
        rig.xero.webhook_url = f"{rig.card_url}/webhooks/xero"  # after the draft: its CREATE would race DocumentCreated
        await in_xero(rig, invoice["InvoiceID"], "approve")
        await in_xero(rig, invoice["InvoiceID"], "pay")
        await eventually(lambda: f"Invoice {invoice['InvoiceNumber']} paid" in subjects(rig, DEMO_DEAL))
        await settled(rig)
        claims = await rig.db.deal_field_writes.count_documents({})

    assert patches(rig) == [] and claims == 0
    assert deal(rig)["stage_id"] == STAGE_NEGOTIATIONS


async def test_a_paid_stage_alone_moves_the_deal_when_paid_and_writes_nothing_before(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        await choose(rig, {})
        invoice = await rig.draft(DEMO_DEAL, pipeline_id=SALES_PIPELINE_ID)  # the pipeline, from the result
        rig.xero.webhook_url = f"{rig.card_url}/webhooks/xero"  # after the draft: its CREATE would race DocumentCreated
        await in_xero(rig, invoice["InvoiceID"], "approve")
        await in_xero(rig, invoice["InvoiceID"], "pay")
        await eventually(lambda: deal(rig)["stage_id"] == STAGE_WON)
        await settled(rig)

    assert [r["json"] for r in patches(rig)] == [{"stage_id": STAGE_WON}]


async def test_a_write_pipedrive_refuses_is_recorded_with_its_reason(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        keys = make_fields(rig)
        await choose(rig, keys, paid_stage=False)
        async with rig.session.delete(f"{rig.settings.pipedrive_api_url}/_sandbox/fields/{keys['status']}") as resp:
            assert resp.status == 200  # an admin deletes the status field in Pipedrive since
        invoice = await rig.draft(DEMO_DEAL, trigger_id=TRIGGER)  # told, though the fields are refused
        rig.xero.webhook_url = f"{rig.card_url}/webhooks/xero"  # after the draft: its CREATE would race DocumentCreated
        await in_xero(rig, invoice["InvoiceID"], "approve")
        await eventually(lambda: f"Invoice {invoice['InvoiceNumber']} approved in Xero" in subjects(rig, DEMO_DEAL))
        await settled(rig)
        failures = await MongoDealFieldWrites(rig.db).failures(rig.company_id)
        inbox = [(d["state"], d.get("outcome")) async for d in rig.db.xero_webhook_inbox.find()]

    assert [r["status"] for r in patches(rig)] == [400, 400]  # each change tried once, never again
    assert len(failures) == 2 and {f["state"] for f in failures} == {"failed"}
    assert failures[0]["reason"].startswith("Pipedrive refused the update of the deal (400): unknown custom fields")
    assert ("done", "applied") in inbox and {state for state, _ in inbox} == {"done"}  # the webhooks were handled
    assert deal(rig)["custom_fields"].get(keys["number"]) is None


async def test_a_write_that_fails_for_a_moment_is_written_by_the_retry(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        keys = make_fields(rig)
        await choose(rig, keys)
        invoice = await rig.draft(DEMO_DEAL, trigger_id=TRIGGER)
        rig.xero.webhook_url = f"{rig.card_url}/webhooks/xero"  # after the draft: its CREATE would race DocumentCreated
        await in_xero(rig, invoice["InvoiceID"], "approve")
        await eventually(lambda: deal(rig)["custom_fields"][keys["status"]] == "Awaiting payment")
        fault = {"status": 503, "methods": ["PATCH"], "paths": [f"/api/v2/deals/{DEMO_DEAL}"], "count": 1}
        async with rig.session.post(f"{rig.settings.pipedrive_api_url}/_sandbox/faults", json=fault) as resp:
            assert resp.status == 201, await resp.text()
        await in_xero(rig, invoice["InvoiceID"], "pay")
        await eventually(lambda: deal(rig)["stage_id"] == STAGE_WON)
        await settled(rig)
        claims = await rig.db.deal_field_writes.find({}, {"state": 1}).to_list()

    assert [(r["status"], r["json"].get("stage_id")) for r in patches(rig)] == [
        (200, None), (200, None), (503, STAGE_WON), (200, STAGE_WON)]
    assert [c["state"] for c in claims] == ["written"]


def payment_removed(rig: CardRig, invoice_id: str) -> None:
    """Someone removes the invoice's payment in Xero (a wrong bank match undone): the sandbox has no route for it, so
    its state is changed as Xero would, and Xero's event queued."""
    invoices = rig.xero.tenants[NZ_TENANT_ID].invoices
    paid = invoices[invoice_id]
    invoices[invoice_id] = {**{k: v for k, v in paid.items() if k != "FullyPaidOnDate"}, "Status": "AUTHORISED",
                            "Payments": [], "AmountPaid": 0.0, "AmountDue": paid["Total"],
                            "UpdatedDateUTC": stamp(rig.xero.clock.time())}
    rig.xero.emit(NZ_TENANT_ID, "INVOICE", "UPDATE", invoice_id)


async def test_a_payment_removed_in_xero_sets_the_deal_fields_back_however_often_xero_says_so(infra, mongo_db) -> None:
    async with open_card(infra, mongo_db, background=True) as rig:
        keys = make_fields(rig)
        await choose(rig, keys)
        invoice = await rig.draft(DEMO_DEAL, trigger_id=TRIGGER)
        rig.xero.webhook_url = f"{rig.card_url}/webhooks/xero"  # after the draft: its CREATE would race DocumentCreated
        invoice_id = invoice["InvoiceID"]
        await in_xero(rig, invoice_id, "approve")
        await eventually(lambda: deal(rig)["custom_fields"][keys["status"]] == "Awaiting payment")
        await in_xero(rig, invoice_id, "pay")
        await eventually(lambda: deal(rig)["custom_fields"][keys["status"]] == "Paid")
        payment_removed(rig, invoice_id)
        await eventually(lambda: deal(rig)["custom_fields"][keys["status"]] == "Awaiting payment")
        await settled(rig)
        delivery = rig.xero.webhook_deliveries[-1]
        for _ in range(2):  # the removal's delivery twice more: three in all
            assert await post(rig, delivery.body, delivery.signature) == 200
        await settled(rig)

    due = keys["amount_due"]
    assert [(w["custom_fields"][keys["status"]], w["custom_fields"][due]["value"], w.get("stage_id"))
            for w in (r["json"] for r in patches(rig))] == [
        ("Draft", 1725.0, None), ("Awaiting payment", 1725.0, None), ("Paid", 0.0, STAGE_WON),
        ("Awaiting payment", 1725.0, None)]
    assert deal(rig)["custom_fields"][due] == {"value": 1725.0, "currency": "NZD"}
