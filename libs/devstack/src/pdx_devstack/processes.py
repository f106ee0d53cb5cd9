"""Child processes of the local stack: started in their own session (so a terminal's Ctrl-C reaches only the
launcher, which stops them in order), logging to files, ended by PID.

A child's log is appended to across restarts of the same child within one run; a new run rotates the earlier run's
logs to ``<name>.log.1`` .. ``.5`` (``rotate_logs``). Whatever reads a child's output reads only from where that
child's own output starts (``Child.log_offset``), never an earlier run's or an earlier incarnation's lines.
"""

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from pdx_devstack.infra import stop_process

KEPT_RUNS = 5


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path
    url: str | None = None
    log_offset: int = 0  # where this process's output starts in its log
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """What this process wrote to its log, and nothing before it."""
        with open(self.log_path, "rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")


def spawn(name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        offset = log.tell()
        proc = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, start_new_session=True)
    return Child(name, proc, log_path, log_offset=offset, args=list(args), env=dict(env or {}))


def respawn(child: Child) -> Child:
    """The same program again, as Kubernetes restarts a container: same arguments, environment, address and log."""
    again = spawn(child.name, child.args, child.log_path.parent, child.env)
    again.url = child.url
    return again


def rotate_logs(log_dir: Path, keep: int = KEPT_RUNS) -> None:
    """Keep the last ``keep`` runs' logs as ``<name>.log.1`` (the latest) .. ``<name>.log.<keep>``."""
    if not log_dir.is_dir():
        return
    for current in log_dir.glob("*.log"):
        for n in range(keep - 1, 0, -1):
            older = current.with_name(f"{current.name}.{n}")
            if older.exists():
                older.replace(current.with_name(f"{current.name}.{n + 1}"))
        current.replace(current.with_name(f"{current.name}.1"))


def wait_for_line(child: Child, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        match = regex.search(child.output())
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
