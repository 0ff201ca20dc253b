"""A thread-safe frame cache bounded in megabytes.

Workers put decoded frames in; the UI thread reads them. Eviction keeps the frames around the
playhead (`set_focus`): first frames outside the focus window go, least recently used first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from codec.stats import FrameStats

MB = 1024 * 1024


@dataclass(frozen=True)
class CachedFrame:
    """One decoded frame and the stats the decoder reported for it."""

    image: np.ndarray
    stats: FrameStats | None  # None for source-video frames

    @property
    def nbytes(self) -> int:
        return int(self.image.nbytes)


class FrameCache:
    """LRU frame store bounded by `capacity_mb`; safe to use from several threads."""

    def __init__(self, capacity_mb: float = 512.0) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[int, CachedFrame] = OrderedDict()
        self._used = 0
        self._capacity = int(capacity_mb * MB)
        self._focus = (0, 0)  # protected window [start, stop)

    # -- size --------------------------------------------------------------------------------
    @property
    def capacity_bytes(self) -> int:
        return self._capacity

    @property
    def used_bytes(self) -> int:
        return self._used

    def set_capacity_mb(self, capacity_mb: float) -> None:
        with self._lock:
            self._capacity = int(capacity_mb * MB)
            self._evict()

    def capacity_frames(self, frame_bytes: int) -> int:
        """How many frames of `frame_bytes` fit (at least 1)."""
        return max(1, self._capacity // max(1, frame_bytes))

    def __len__(self) -> int:
        return len(self._items)

    # -- access ------------------------------------------------------------------------------
    def __contains__(self, n: object) -> bool:
        return n in self._items

    def get(self, n: int) -> CachedFrame | None:
        """The frame, marked as recently used; None when not cached."""
        with self._lock:
            item = self._items.get(n)
            if item is not None:
                self._items.move_to_end(n)
            return item

    def put(self, n: int, image: np.ndarray, stats: FrameStats | None) -> list[int]:
        """Store frame `n`; returns the frames evicted to make room."""
        item = CachedFrame(image, stats)
        with self._lock:
            old = self._items.pop(n, None)
            if old is not None:
                self._used -= old.nbytes
            self._items[n] = item
            self._used += item.nbytes
            return self._evict(keep=n)

    def set_focus(self, start: int, stop: int) -> None:
        """Frames in [start, stop) are evicted last."""
        with self._lock:
            self._focus = (start, stop)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0

    # -- queries for the UI ------------------------------------------------------------------
    def indices(self) -> list[int]:
        with self._lock:
            return sorted(self._items)

    def ranges(self) -> list[tuple[int, int]]:
        """Cached frames as sorted [start, stop) runs."""
        out: list[tuple[int, int]] = []
        for n in self.indices():
            if out and out[-1][1] == n:
                out[-1] = (out[-1][0], n + 1)
            else:
                out.append((n, n + 1))
        return out

    def ahead(self, n: int) -> int:
        """How many consecutive frames after `n` are cached."""
        k = n + 1
        while k in self._items:
            k += 1
        return k - n - 1

    # -- eviction ----------------------------------------------------------------------------
    def _evict(self, keep: int | None = None) -> list[int]:
        evicted: list[int] = []
        start, stop = self._focus
        while self._used > self._capacity and len(self._items) > 1:
            victim = None
            for n in self._items:  # least recently used first
                if n != keep and not start <= n < stop:
                    victim = n
                    break
            if victim is None:  # everything is in focus: drop the farthest ahead
                candidates = [n for n in self._items if n != keep]
                victim = max(candidates, key=lambda n: abs(n - start))
            self._used -= self._items.pop(victim).nbytes
            evicted.append(victim)
        return evicted
