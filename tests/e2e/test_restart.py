"""A restart is a normal day (issue 16): the same data folder, the company as it was left, nothing installed twice,
and a launcher killed with SIGKILL leaves nothing in the way of the next one."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from pdx_devstack.leftovers import cmdline
from pdx_devstack.peek import sandbox_get, sandbox_post
from pdx_devstack.stack import Stack, StackOptions
from tests.e2e.helpers import create_deal, eventually, invoices_for_deal, move


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pdx-restart-"))
    yield path
    if os.environ.get("PDX_E2E_KEEP"):
        print(f"restart test data kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def options(data_dir: Path) -> StackOptions:
    return StackOptions(data_dir=data_dir, pipedrive_retry_delays="0.5,1,2", retry_first_delay=0.2,
                        pipedrive_burst_limit=2000)


async def one_draft(urls: dict[str, str], tenant_id: str, deal_id: int) -> dict:
    async def drafts() -> list[dict]:
        docs = await sandbox_get(urls["xero"], f"/_sandbox/tenants/{tenant_id}/invoices")
        return [d for d in docs if f"/deal/{deal_id}?" in (d.get("Url") or "")]

    found = await eventually(drafts, timeout=120)
    assert len(found) == 1, found
    return found[0]


async def settings(stack: Stack) -> dict:
    assert stack.seeded
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {stack.api_token}"}) as session:
        async with session.get(f"{stack.urls['gateway']}/api/companies/{stack.seeded.company_id}/settings") as resp:
            assert resp.status == 200
            return await resp.json()


async def test_stop_and_start_on_the_same_data_folder_keeps_the_company(data_dir: Path) -> None:
    first = await Stack(options(data_dir)).start()
    try:
        assert first.seeded
        before = await create_deal(first, title="Made before the restart")
        moved_first = await create_deal(first, title="Won before the restart")
        await move(first, moved_first["id"], "Won")
        draft = await one_draft(first.urls, first.seeded.tenant_id, moved_first["id"])
        saved_settings = await settings(first)
    finally:
        first.stop()

    second = await Stack(options(data_dir)).start()
    try:
        assert not second.installed_now, "the company was installed a second time"
        assert second.seeded == first.seeded and second.urls["pipedrive"] == first.urls["pipedrive"]
        # Nothing installed twice: no new OAuth grant in either sandbox, one webhook subscription per object.
        assert await sandbox_get(second.urls["pipedrive"], "/_sandbox/requests", {"path_prefix": "/oauth"}) == []
        assert await sandbox_get(second.urls["xero"], "/_sandbox/requests",
                                 {"path_prefix": "/identity/connect/authorize"}) == []
        hooks = await sandbox_get(second.urls["pipedrive"], "/_sandbox/webhooks")
        assert sorted(h["event_object"] for h in hooks) == ["deal", "organization", "person", "product"]
        assert {h["subscription_url"] for h in hooks} == {
            f"{second.urls['gateway']}/webhooks/pipedrive/{second.seeded.company_id}"}
        assert await settings(second) == saved_settings
        # The deal made before the restart becomes a draft after it; the earlier draft is still the only one.
        await move(second, before["id"], "Won")
        await one_draft(second.urls, second.seeded.tenant_id, before["id"])
        assert (await one_draft(second.urls, second.seeded.tenant_id, moved_first["id"]))["InvoiceID"] == \
            draft["InvoiceID"]
        await move(second, moved_first["id"], "Negotiations Started")
        await move(second, moved_first["id"], "Won")  # entering Won again: still exactly one draft
        await eventually(lambda: _activities_count(second, moved_first["id"], 2), timeout=120)
        assert len(await invoices_for_deal(second, moved_first["id"])) == 1
    finally:
        second.stop()
    logs = data_dir / "logs"
    assert (logs / "gateway.log").exists() and (logs / "gateway.log.1").exists(), "earlier run's log not kept"


async def _activities_count(stack: Stack, deal_id: int, at_least: int) -> bool:
    found = await sandbox_get(stack.urls["pipedrive"], "/_sandbox/activities", {"deal_id": str(deal_id)})
    return len(found) >= at_least


def launch(data_dir: Path, out: Path) -> subprocess.Popen:
    with open(out, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "pdx_devstack", "--data-dir", str(data_dir), "up"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def running(proc: subprocess.Popen, out: Path, timeout: float = 240.0) -> str:
    """The launcher's output once it printed the demo commands (it is up)."""
    deadline = time.monotonic() + timeout
    while "Then look" not in out.read_text(errors="replace"):
        assert proc.poll() is None, f"the launcher exited ({proc.returncode}):\n{out.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"not up within {timeout}s:\n{out.read_text(errors='replace')}"
        await asyncio.sleep(0.25)
    return out.read_text(errors="replace")


async def test_up_again_after_the_launcher_was_killed(data_dir: Path) -> None:
    first = launch(data_dir, data_dir / "first.out")
    try:
        await running(first, data_dir / "first.out")
        state = json.loads((data_dir / "stack.json").read_text())
        left = {pid: cmdline(pid) for pid in state["pids"].values()}
        first.kill()  # SIGKILL: no chance to stop its children
        first.wait()
        assert all(cmdline(pid) == line for pid, line in left.items()), "children did not outlive the launcher"
    finally:
        if first.poll() is None:
            first.kill()
    second = launch(data_dir, data_dir / "second.out")
    try:
        output = await running(second, data_dir / "second.out")
        assert "Stopped what an earlier run left running" in output, output
        assert "installed in an earlier run" in output, output
        assert all(cmdline(pid) != line for pid, line in left.items()), "a child of the killed launcher survived"
        state = json.loads((data_dir / "stack.json").read_text())
        deal = await sandbox_post(state["urls"]["pipedrive"], "/_sandbox/deals",
                                  {"title": "After a SIGKILL", "stage": "Negotiations Started", "org_id": 101,
                                   "person_id": 201, "products": [{"product_id": 301, "quantity": 1,
                                                                   "item_price": 100, "tax": 15}]})
        await sandbox_post(state["urls"]["pipedrive"], f"/_sandbox/deals/{deal['id']}/move", {"stage": "Won"})
        await one_draft(state["urls"], state["tenant_id"], deal["id"])
        children = list(state["pids"].values())
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(120)
        finally:
            if second.poll() is None:
                second.kill()
    assert second.returncode == 0, (data_dir / "second.out").read_text(errors="replace")
    assert all(cmdline(pid) is None for pid in children), "Ctrl-C left a process behind"
