"""Per-stage wall-clock timings that end up in FrameStats.timings (milliseconds)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Profiler:
    """Accumulates milliseconds per named stage; `stage()` is a context manager."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - t0) * 1000.0)

    def add(self, name: str, ms: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + ms

    def take(self) -> dict[str, float]:
        """Return the timings so far and start afresh."""
        out, self.timings = self.timings, {}
        return out
