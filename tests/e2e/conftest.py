"""The whole stack as a user runs it: broker, store, sandboxes and every service as separate processes."""

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pdx_devstack.stack import Stack, StackOptions


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-e2e-"))
    running = Stack(StackOptions(data_dir=data_dir, pipedrive_retry_delays="0.5,1,2", retry_first_delay=0.2,
                                 pipedrive_burst_limit=2000))
    asyncio.run(running.start())
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
