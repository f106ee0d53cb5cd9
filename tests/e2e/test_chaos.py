"""The reduced chaos run (``./dev chaos`` with fewer deals and scenarios): kill -9 of the writer and the mapper
(restarted as Kubernetes would), Xero answering 503 to 20% of calls, Pipedrive answering 429 to 20%. Every deal
settles, exactly one draft each, nothing lost, nothing dead-lettered."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from pdx_devstack.chaos import ChaosOptions, chaos_stack, run_scenarios, table

REDUCED = ("kill-xero-writer", "kill-mapper", "xero-5xx", "pipedrive-429")


@pytest.mark.timeout(1500)
async def test_reduced_chaos_run_loses_nothing_and_duplicates_nothing() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-chaos-test-"))
    options = ChaosOptions(data_dir=data_dir, deals=int(os.environ.get("PDX_CHAOS_DEALS", "50")), scenarios=REDUCED,
                           pace=10.0, settle_timeout=600.0, seed=int(os.environ.get("PDX_CHAOS_SEED", "0")))
    stack = await chaos_stack(options).start()
    try:
        outcomes = await run_scenarios(stack, options, report=print)
    finally:
        stack.stop()
    report = f"{table(outcomes)}\nlogs: {data_dir / 'logs'}"
    print(report)
    assert [o.scenario for o in outcomes] == list(REDUCED)
    for outcome in outcomes:
        assert outcome.settle_seconds is not None, f"{outcome.scenario}: not every deal settled\n{report}"
        assert outcome.duplicates == 0, f"{outcome.scenario}: duplicate drafts\n{report}"
        assert outcome.lost == 0, f"{outcome.scenario}: deals lost\n{report}"
        assert outcome.dead_letters == 0, f"{outcome.scenario}: dead letters for transient failures\n{report}"
    if os.environ.get("PDX_E2E_KEEP"):
        print(f"chaos logs kept in {data_dir / 'logs'}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
