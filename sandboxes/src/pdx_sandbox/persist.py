"""A sandbox's state kept in one file, so a restart on the same data folder finds the company as it was left.

The file is written shortly after each change (changes within ``delay`` seconds are written once) and on shutdown,
atomically (a temporary file, then a rename): a sandbox killed with SIGKILL loses at most the last ``delay`` seconds.
It is a pickle written and read only by the sandbox itself in the local data folder (dev and test only); a file
that cannot be read (another version's) is set aside as ``<name>.unreadable`` and the sandbox starts fresh.
"""

import asyncio
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 1


class StateFile:
    def __init__(self, path: Path, dump: Callable[[], dict[str, Any]], delay: float = 0.2) -> None:
        self.path, self._dump, self.delay = path, dump, delay
        self._pending: asyncio.TimerHandle | None = None

    def load(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as f:
                saved = pickle.load(f)  # noqa: S301 - our own file, see the module docstring
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - any unreadable file means: start fresh, and say so
            print(f"sandbox state {self.path} unreadable ({exc!r}); starting fresh", file=sys.stderr, flush=True)
            self.path.replace(self.path.with_name(self.path.name + ".unreadable"))
            return None
        return saved["state"] if saved.get("format") == FORMAT else None

    def changed(self) -> None:
        """Something persisted changed: write it soon (one write for a burst of changes)."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(self.delay, self.save)

    def save(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump({"format": FORMAT, "state": self._dump()}, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self.path)
