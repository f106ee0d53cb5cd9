"""Property-based tests of every inbound HTTP surface against the real apps, broker and store: whatever arrives
(good or wrong credentials, hostile bodies, ids and queries), no answer is a 5xx, a refused input (4xx) stores
nothing, and only accepted webhooks publish deal events, each exactly once.

The same Hypothesis strategies drive ``./dev fuzz`` (10,000 inputs); here a small, deterministic sample per surface
(derandomized, no example database)."""

from collections.abc import AsyncIterator

import pytest

from pdx_devstack.fuzz import Stack, Tally, running_apps
from pdx_devstack.fuzz_inputs import SURFACES, drive, quiet_hypothesis

EXAMPLES = 120  # per surface: about two seconds each on an idle machine

quiet_hypothesis()


@pytest.fixture
async def stack(infra, run_id) -> AsyncIterator[Stack]:
    base = int(run_id, 16) % 10**8 * 10
    companies = (str(base + 1), str(base + 2), str(base + 3))
    async with running_apps(infra.kafka_bootstrap, infra.mongo_url, partitions=6, db_prefix=f"fz{run_id}",
                            companies=companies) as running:
        yield running


async def fuzz(stack: Stack, surface: str) -> Tally:
    tally = Tally()
    await drive(SURFACES[surface](stack.target), EXAMPLES, lambda probe: stack.send(probe, tally))
    return tally


@pytest.mark.parametrize("surface", ["operators' API", "crm-card panel", "Xero webhook", "metering API"])
async def test_no_input_gets_a_5xx_and_a_refused_one_changes_nothing(stack: Stack, surface: str) -> None:
    tally = await fuzz(stack, surface)
    assert tally.sent == EXAMPLES
    assert tally.failed == 0, f"{tally.failed} answers were 5xx"
    assert tally.refused_changed == 0, f"{tally.refused_changed} refused inputs stored something"
    assert tally.refused > 0  # the sample did reach the refusals
    assert (await stack.published_by_company()).get(stack.target.api_company, 0) == 0


async def test_pipedrive_webhooks_publish_only_what_they_accept(stack: Stack) -> None:
    tally = await fuzz(stack, "gateway webhook")
    assert tally.failed == 0, f"{tally.failed} answers were 5xx"
    assert tally.refused_changed == 0, f"{tally.refused_changed} refused webhooks stored something"
    assert tally.accepted > 0 and tally.refused > 0
    published = await stack.published_by_company()
    assert published.get(stack.target.webhook_company, 0) == tally.accepted
