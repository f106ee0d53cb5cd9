"""What each chaos scenario does to the running stack while its deals move to Won.

A disruption gets the run (``Run``: the stack, a random source, and an event set once every deal was moved) and
returns when the disruption is over; faults injected into the sandboxes are removed by the runner afterwards, once
every deal settled. Outages last as long as the issue says: the store 2 minutes, the broker frozen 1 minute.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from pdx_devstack.processes import wait_ready
from pdx_devstack.stack import SERVICES, Stack

XERO_API = "/api.xro/2.0/"
PIPEDRIVE_API = "/api/"


@dataclass
class Run:
    stack: Stack
    rng: random.Random
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)

    async def fault(self, sandbox: str, rule: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.stack.urls[sandbox]}/_sandbox/faults", json=rule) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"{sandbox} refused the fault {rule}: {await resp.text()}")

    async def clear_faults(self) -> None:
        async with aiohttp.ClientSession() as http:
            for sandbox in ("xero", "pipedrive"):
                async with http.delete(f"{self.stack.urls[sandbox]}/_sandbox/faults") as resp:
                    await resp.read()


Disruption = Callable[[Run], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    disrupt: Disruption


async def nothing(run: Run) -> None:
    return None


def kill(service: str, times: int = 3) -> Disruption:
    """kill -9 at random moments while deals move; the stack's supervisor restarts it as Kubernetes would."""

    async def disrupt(run: Run) -> None:
        for _ in range(times):
            await asyncio.sleep(run.rng.uniform(1.0, 8.0))
            pid = run.stack.kill(service)
            run.note(f"killed {service} (pid {pid})")
            await _back(run.stack, service, pid)

    return disrupt


async def _back(stack: Stack, service: str, old_pid: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while stack.child(service).pid == old_pid:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service} was not restarted within {timeout}s")
        await asyncio.sleep(0.2)
    await wait_ready(stack.child(service), timeout)


async def store_crash(run: Run) -> None:
    """The store killed with SIGKILL mid-burst, then started again on its data folder."""
    assert run.stack.infra is not None
    await asyncio.sleep(run.rng.uniform(2.0, 6.0))
    await asyncio.to_thread(run.stack.infra.kill_store)
    run.note("store killed (SIGKILL)")
    await asyncio.to_thread(run.stack.infra.start_store)
    run.stack.register_infra()


def store_down(seconds: float) -> Disruption:
    async def disrupt(run: Run) -> None:
        assert run.stack.infra is not None
        await asyncio.sleep(2.0)
        await asyncio.to_thread(run.stack.infra.stop_store)
        run.note(f"store stopped for {seconds:.0f}s")
        await asyncio.sleep(seconds)
        await asyncio.to_thread(run.stack.infra.start_store)
        run.stack.register_infra()

    return disrupt


def broker_frozen(seconds: float) -> Disruption:
    async def disrupt(run: Run) -> None:
        assert run.stack.infra is not None
        await asyncio.sleep(2.0)
        run.stack.infra.freeze_broker()
        run.note(f"broker frozen (SIGSTOP) for {seconds:.0f}s")
        try:
            await asyncio.sleep(seconds)
        finally:
            run.stack.infra.thaw_broker()

    return disrupt


def faults(sandbox: str, rule: dict[str, Any]) -> Disruption:
    """A fault that stays until every deal settled (the runner removes it)."""

    async def disrupt(run: Run) -> None:
        await run.fault(sandbox, rule)

    return disrupt


def storms(sandbox: str, path: str, every: float = 30.0, lasting: float = 10.0) -> Disruption:
    """Every ``every`` seconds, ``lasting`` seconds in which every call answers 429 with a Retry-After."""

    async def disrupt(run: Run) -> None:
        while True:
            await run.fault(sandbox, {"status": 429, "ratio": 1.0, "paths": [path], "retry_after": 5})
            run.note(f"429 storm on {sandbox} for {lasting:.0f}s")
            await asyncio.sleep(lasting)
            await run.clear_faults()
            if run.moved.is_set():
                return
            await asyncio.sleep(every - lasting)

    return disrupt


SCENARIOS = {s.name: s for s in [
    Scenario("baseline", "no failure (for comparison)", nothing),
    *[Scenario(f"kill-{name}", f"kill -9 of {name} three times at random moments, restarted", kill(name))
      for name in SERVICES],
    Scenario("store-crash", "the store killed (SIGKILL) and restarted on its data", store_crash),
    Scenario("store-down-2m", "the store unreachable for 2 minutes", store_down(120)),
    Scenario("broker-freeze-1m", "the broker frozen (SIGSTOP, then SIGCONT) for 1 minute", broker_frozen(60)),
    Scenario("xero-5xx", "Xero answers 503 to 20% of calls", faults("xero", {"status": 503, "ratio": 0.2,
                                                                           "paths": [XERO_API]})),
    Scenario("xero-timeouts", "10% of Xero calls answer after 35 s (past the client's 30 s timeout), work done",
             faults("xero", {"status": None, "ratio": 0.1, "delay": 35, "paths": [XERO_API]})),
    Scenario("xero-429-storms", "Xero answers 429 to every call for 10 s in every 30 s", storms("xero", XERO_API)),
    Scenario("pipedrive-5xx", "Pipedrive answers 503 to 20% of API calls",
             faults("pipedrive", {"status": 503, "ratio": 0.2, "paths": [PIPEDRIVE_API]})),
    Scenario("pipedrive-429", "Pipedrive answers 429 (Retry-After 2) to 20% of API calls",
             faults("pipedrive", {"status": 429, "ratio": 0.2, "paths": [PIPEDRIVE_API], "retry_after": 2})),
]}
