"""Every path of issue 11 keeps its guarantee when Pipedrive delivers each webhook four times and the writer is killed
with SIGKILL mid-run (the supervisor restarts it, as Kubernetes would): Replay after a fix, Replay regenerating a
draft, Create draft quote pressed repeatedly, deals marked won, a backfill. Each deal ends with exactly one
document."""

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pdx_devstack.peek import sandbox_get
from pdx_devstack.stack import Stack, StackOptions
from tests.e2e.deal_actions import action_link, confirm, modal
from tests.e2e.helpers import activities, admin, create_deal, edit_deal, eventually, move, subjects

DEALS = 6  # of each kind


@pytest.fixture
async def faulty() -> AsyncIterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-e2e-faults-"))
    stack = Stack(StackOptions(data_dir=data_dir, pipedrive_retry_delays="0.5,1,2", retry_first_delay=0.2,
                               pipedrive_burst_limit=2000, pipedrive_duplicate_deliveries=4,
                               restart_on_exit=True, restart_delay=0.5))
    await stack.start()
    try:
        yield stack
    finally:
        await asyncio.to_thread(stack.stop)
        if os.environ.get("PDX_E2E_KEEP"):
            print(f"e2e logs kept in {data_dir / 'logs'}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _documents(stack: Stack, deal_id: int) -> list[dict]:
    tenant = stack.seeded.tenant_id
    found = []
    for kind in ("invoices", "quotes"):
        for doc in await sandbox_get(stack.urls["xero"], f"/_sandbox/tenants/{tenant}/{kind}"):
            if f"/deal/{deal_id}?" in (doc.get("Url") or "") or f"[deal {deal_id}]" in (doc.get("Reference") or ""):
                found.append(doc)
    return [d for d in found if d.get("Status") != "DELETED"]


async def _has(stack: Stack, deal_id: int, prefix: str) -> list[dict] | None:
    found = await activities(stack, deal_id)
    return found if any(s.startswith(prefix) for s in subjects(found)) else None


async def _writer_killed_until_restarted(stack: Stack) -> None:
    before = stack.restarts.get("xero-writer", 0)
    stack.kill("xero-writer")
    await eventually(lambda: asyncio.sleep(0, stack.restarts.get("xero-writer", 0) > before), timeout=60)


async def test_every_deal_action_makes_exactly_one_document_under_4x_delivery_and_a_killed_writer(faulty):
    stack = faulty
    company = stack.seeded.company_id
    patch = {"won_triggers": [{"pipeline_id": 2, "action": "invoice"}],
             "fields": {"reference": "{deal.title} [deal {deal.id}]"}}
    code, answer = await admin(stack, "settings", "patch", json.dumps(patch), "--company", company)
    assert code == 0, answer

    failing = [await create_deal(stack, title=f"Fix and replay {n}", org_id=None, person_id=None)
               for n in range(DEALS)]
    drafted = [await create_deal(stack, title=f"Regenerate {n}") for n in range(DEALS)]
    won = [await create_deal(stack, title=f"Won button {n}", pipeline_id=2, stage="Renewal due", org_id=102,
                             person_id=202) for n in range(DEALS)]
    on_demand = [await create_deal(stack, title=f"Quote on demand {n}") for n in range(DEALS)]
    sitting = [await create_deal(stack, title=f"Backfill {n}", stage="Contact Made") for n in range(DEALS)]

    for deal in failing + drafted:
        await move(stack, deal["id"], "Won")
    await _writer_killed_until_restarted(stack)
    for deal in won:
        await edit_deal(stack, deal["id"], status="won")
    for deal in failing:
        await eventually(lambda d=deal: _has(stack, d["id"], "Xero draft invoice not created"), timeout=120)
    for deal in drafted:
        await eventually(lambda d=deal: _has(stack, d["id"], "Draft invoice"), timeout=120)

    # The fixes, then the actions, while the writer is killed again mid-run.
    for deal in failing:
        await edit_deal(stack, deal["id"], org_id=103)
    code, answer = await admin(stack, "settings", "patch",
                               json.dumps({"fields": {"reference": "v2 {deal.title} [deal {deal.id}]"}}),
                               "--company", company)
    assert code == 0, answer
    for deal in failing:
        [failure] = [a for a in await activities(stack, deal["id"]) if a["subject"].startswith("Xero draft")]
        status, _ = await confirm(action_link(failure["note"]))
        assert status == 200
    for deal in drafted:
        for n in range(2):  # pressed twice: the same draft is updated, never a second one
            status, answer = await modal(stack, "replay", deal["id"], submit=True, issued_at=time.time() - 10 * n)
            assert status == 200, answer
    # A trigger added for a stage where deals already sit: a backfill makes their drafts (checked, then run).
    code, current = await admin(stack, "settings", "get", "--company", company)
    assert code == 0, current
    triggers = [*current["triggers"], {"pipeline_id": 1, "stage_id": 2, "action": "invoice"}]
    code, answer = await admin(stack, "settings", "patch", json.dumps({"triggers": triggers}), "--company", company)
    assert code == 0, answer
    code, backfill = await admin(stack, "backfill", "--company", company)
    assert code == 0, backfill
    await _writer_killed_until_restarted(stack)
    for deal in on_demand:
        for n in range(4):  # pressed four times: one quote, then refusals with its number
            await modal(stack, "create-quote", deal["id"], submit=True, issued_at=time.time() - 10 * n)

    for deal in failing + won + sitting:
        await eventually(lambda d=deal: _has(stack, d["id"], "Draft invoice"), timeout=180)
    for deal in on_demand:
        await eventually(lambda d=deal: _has(stack, d["id"], "Draft quote"), timeout=180)
    for deal in drafted:
        await eventually(lambda d=deal: _has(stack, d["id"], "Draft invoice INV-"), timeout=180)

        async def regenerated(d=deal) -> list[dict] | None:
            docs = await _documents(stack, d["id"])
            return docs if any((doc.get("Reference") or "").startswith("v2 ") for doc in docs) else None
        await eventually(regenerated, timeout=180)

    code, job = await admin(stack, "job", "--company", company, backfill["job"]["id"], "--wait")
    assert code == 0 and job["job"]["state"] == "done", job
    for deal in failing + drafted + won + on_demand + sitting:
        docs = await _documents(stack, deal["id"])
        assert len(docs) == 1, (deal["title"], docs)
