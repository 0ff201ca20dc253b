"""EncodeJob: one codec.api.encode_file run on a worker thread, reporting to the UI by signals.

Every frame's statistics are sent (the charts need one point per frame); the source and decoded
pictures at most `picture_hz` times a second (and always the first and last), so a fast encode
of small frames cannot flood the UI thread. `cancel(keep)` may be called from any thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread, Signal

from app.encode.options import EncodeOptions
from app.messages import describe_error
from codec.stats import FrameStats

PICTURE_HZ = 15.0


class KeepChoice:
    """encode_file's `keep_on_cancel`, decided when the user cancels, not when the job starts.

    encode_file only consults it after it has seen the cancel event, and `EncodeJob.cancel` sets
    the choice before the event, so the user's Stop (keep) or Discard is what happens.
    """

    def __init__(self) -> None:
        self.keep = True

    def __bool__(self) -> bool:
        return self.keep


class RateMeter:
    """Encoding speed over the last few seconds, and the time left at that speed."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_s = window_s
        self.t0 = time.perf_counter()
        self.samples: deque[tuple[float, int]] = deque([(self.t0, 0)])

    def add(self, frames_done: int, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self.samples.append((now, frames_done))
        while len(self.samples) > 2 and now - self.samples[1][0] > self.window_s:
            self.samples.popleft()

    @property
    def fps(self) -> float:
        (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 and n1 > n0 else 0.0

    def seconds_left(self, frames_done: int, total: int | None) -> float | None:
        fps = self.fps
        if total is None or fps <= 0:
            return None
        return max(0, total - frames_done) / fps

    @property
    def elapsed(self) -> float:
        return self.samples[-1][0] - self.t0


class EncodeJob(QThread):
    """Encodes `options` with codec.api.encode_file; see the module docstring."""

    progressed = Signal(int, object, object)  # frames done, total (None: unknown), FrameStats
    picture = Signal(int, object, object)  # frame index, source, decoded (uint8 RGB)
    completed = Signal(str)  # the finished stream
    stopped = Signal(object, int)  # the kept stream (str) or None when discarded, frames done
    failed = Signal(str)  # one-line message

    def __init__(self, options: EncodeOptions, device: str = "auto",
                 picture_hz: float = PICTURE_HZ) -> None:
        super().__init__()
        self.options = options
        self.device = device
        self.picture_interval = 1.0 / picture_hz if picture_hz > 0 else 0.0
        self.cancel_event = threading.Event()
        self.keep = KeepChoice()
        self.frames_done = 0
        self.total: int | None = None
        self._last_picture = 0.0

    def cancel(self, keep: bool = True) -> None:
        """Stop before the next frame: keep a valid file of the frames done, or discard it."""
        self.keep.keep = keep
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def _progress(self, n: int, total: int | None, source: np.ndarray, recon: np.ndarray,
                  stats: FrameStats) -> None:
        self.frames_done, self.total = n, total
        # the charts need the scalars only: leave the block maps (MBs per frame when large)
        light = replace(stats, mv=None, skip=None, residual_energy=None, bits_per_block=None,
                        mv_back=None, modes=None)
        self.progressed.emit(n, total, light)
        now = time.perf_counter()
        if n == 1 or n == total or now - self._last_picture >= self.picture_interval:
            self._last_picture = now
            self.picture.emit(n - 1, source, recon)

    def run(self) -> None:
        from codec.api import encode_file

        out = self.options.output_path
        try:
            path = encode_file(
                self.options.source, out, progress=self._progress, cancel=self.cancel_event,
                keep_on_cancel=self.keep,  # type: ignore[arg-type]  # see KeepChoice
                device=self.device, **self.options.kwargs())  # type: ignore[arg-type]
        except Exception as exc:  # reported in the view, never raised on a worker thread
            self.failed.emit(describe_error(exc, "encoding"))
            return
        if not self.cancelled:
            self.completed.emit(str(path))
        elif self.keep:
            self.stopped.emit(str(path) if path else None, self.frames_done)
        else:
            if path is not None:  # the last frame was done before the cancel was seen
                remove_stream(Path(path))
            self.stopped.emit(None, self.frames_done)


def remove_stream(path: Path) -> None:
    """Delete a stream and its statistics sidecar."""
    from codec.encoder import stats_path

    for p in (path, stats_path(path)):
        p.unlink(missing_ok=True)
