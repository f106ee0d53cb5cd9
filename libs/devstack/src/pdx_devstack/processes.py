"""Child processes of the local stack: started in their own session (so a terminal's Ctrl-C reaches only the
launcher, which stops them in order), logging to files, ended by PID."""

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from pdx_devstack.infra import stop_process


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path
    url: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


def spawn(name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, start_new_session=True)
    return Child(name, proc, log_path)


def wait_for_line(child: Child, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        match = regex.search(child.log_path.read_text(errors="replace"))
        if match:
            return match
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited ({child.proc.returncode}); see {child.log_path}")
        time.sleep(0.05)
    raise TimeoutError(f"{child.name} did not print {pattern!r} within {timeout}s; see {child.log_path}")


async def wait_ready(child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.name} exited ({child.proc.returncode}); see {child.log_path}")
            try:
                async with session.get(f"{child.url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{child.name} not ready within {timeout}s; see {child.log_path}")
            await asyncio.sleep(0.1)


def stop_children(children: list[Child], timeout: float = 25.0) -> None:
    for child in reversed(children):
        stop_process(child.proc, timeout)
