"""The whole stack as a user runs it: broker, store, sandboxes and every service as separate processes."""

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pdx_devstack.stack import SERVICES, Stack, StackOptions

# Proving a service matters: PDX_E2E_WITHOUT=mapper runs the stack without it, and the flow tests must fail.
WITHOUT = {name for name in os.environ.get("PDX_E2E_WITHOUT", "").split(",") if name}


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-e2e-"))
    running = Stack(StackOptions(data_dir=data_dir, pipedrive_retry_delays="0.5,1,2", retry_first_delay=0.2,
                                 pipedrive_burst_limit=2000, record_sync_delay=2.0,
                                 services=tuple(s for s in SERVICES if s not in WITHOUT)))
    asyncio.run(running.start())
    try:
        yield running
    finally:
        running.stop()
        if os.environ.get("PDX_E2E_KEEP"):  # keep the services' logs to read after a failure
            print(f"e2e logs kept in {data_dir / 'logs'}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
