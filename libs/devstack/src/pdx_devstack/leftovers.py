"""The processes a launcher started, recorded in its data folder (``children.json``) as they start, so that the next
launcher can stop what a launcher killed with SIGKILL left behind.

A recorded PID is signalled only while ``/proc/<pid>/cmdline`` is still the command line recorded for it: PIDs are
reused, and a process that is not ours is never touched.
"""

import json
import os
import signal
import time
from pathlib import Path

REGISTRY = "children.json"


def cmdline(pid: int) -> list[str] | None:
    """The process's command line, or None when it is gone (or a zombie, whose command line is empty)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.rstrip(b"\0").decode(errors="replace").split("\0") if raw else None


def _exec_done(pid: int, timeout: float = 5.0) -> list[str] | None:
    """The command line of a process just started: a vfork'ed child lets its parent go on before the kernel has
    filled in the new command line, which reads empty for that moment."""
    deadline = time.monotonic() + timeout
    while (line := cmdline(pid)) is None and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return line


class Registry:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / REGISTRY

    def entries(self) -> list[dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []

    def add(self, name: str, pid: int) -> None:
        line = _exec_done(pid)
        if line is None:
            return  # already gone: nothing to stop later
        kept = [e for e in self.entries() if e["pid"] != pid]
        self._write([*kept, {"name": name, "pid": pid, "cmdline": line}])

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self, entries: list[dict]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=1))
        tmp.replace(self.path)

    def stop_leftovers(self, timeout: float = 20.0) -> list[str]:
        """Stop every recorded process still running as recorded (SIGTERM, then SIGKILL); say what was stopped.

        Raises with the exact command to run when one of them cannot be stopped (for example another user's).
        """
        stopped = []
        for entry in self.entries():
            if cmdline(entry["pid"]) != entry["cmdline"]:
                continue
            _end(entry["pid"], entry["cmdline"], timeout)
            stopped.append(f"{entry['name']} (pid {entry['pid']})")
        self.clear()
        return stopped


def _end(pid: int, line: list[str], timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        if not _gone(pid, line, timeout):
            os.kill(pid, signal.SIGKILL)
            _gone(pid, line, timeout)
    except ProcessLookupError:
        return
    except PermissionError as exc:
        raise RuntimeError(f"a process left by an earlier run (pid {pid}: {' '.join(line)}) cannot be stopped "
                           f"from here; stop it with `kill {pid}`, then start again") from exc


def _gone(pid: int, line: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while cmdline(pid) == line:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
