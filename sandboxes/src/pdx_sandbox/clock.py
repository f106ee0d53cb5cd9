"""A clock that can run faster than the wall clock, so rate-limit windows and token lifetimes pass in seconds."""

import time
from datetime import UTC, datetime


class SandboxClock:
    """Sandbox time: starts at the wall clock, runs `speed` times faster, and can be moved forward by hand."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()
        self._offset = 0.0

    def time(self) -> float:
        """Sandbox seconds since the epoch."""
        return self._origin_wall + (time.monotonic() - self._origin_mono) * self.speed + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def real_seconds(self, sandbox_seconds: float) -> float:
        """How long sandbox_seconds last on the wall clock."""
        return sandbox_seconds / self.speed
