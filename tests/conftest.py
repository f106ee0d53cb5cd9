"""Shared fixtures: the real embedded broker and store (started once per session), random ids per test."""

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from pdx_devstack.infra import Infra, start_infra

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    data_dir = Path(tempfile.mkdtemp(prefix="pdx-test-infra-"))
    running = asyncio.run(start_infra(data_dir))
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def mongo_db(infra: Infra, run_id: str) -> AsyncIterator:
    client = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    try:
        yield client[f"t{run_id}"]
    finally:
        await client.drop_database(f"t{run_id}")
        await client.close()
