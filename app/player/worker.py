"""Decode and scan workers: QThreads that each own their own FrameSource."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread, Signal

from app.messages import describe_error
from app.player.cache import FrameCache
from app.player.source import FrameSource, SourceFactory, info_of


class DecodeWorker(QThread):
    """Decodes the requested frame, then reads ahead into the cache until told otherwise.

    `request(target, ahead)` may be called from any thread; only the latest request counts, so
    scrubbing the timeline never queues work. To reach a frame it decodes forward one frame at a
    time from the keyframe before it (or from the frame decoded last), caching every frame on
    the way and checking for a newer request between frames. A failing frame is reported once
    and skipped.
    """

    decoded = Signal(int, object, float)  # frame, FrameStats, wall-clock milliseconds
    failed = Signal(int, str)  # frame (-1: the source could not be opened), message

    def __init__(self, factory: SourceFactory, cache: FrameCache, num_frames: int) -> None:
        super().__init__()
        self._factory = factory
        self._cache = cache
        self._num_frames = num_frames
        self._cond = threading.Condition()
        self._target: int | None = None
        self._ahead = 0
        self._stop = False
        self._bad: set[int] = set()
        self.busy_frame: int | None = None  # the frame being decoded now, if any
        self._last: int | None = None  # the frame the source decoded last (its reference)

    def request(self, target: int, ahead: int) -> None:
        """Make sure `target` and up to `ahead` frames after it are decoded."""
        with self._cond:
            self._target, self._ahead = target, max(0, ahead)
            self._cond.notify()

    def stop(self) -> None:
        """Ask the thread to finish after the frame in progress."""
        with self._cond:
            self._stop = True
            self._cond.notify()

    def is_bad(self, n: int) -> bool:
        return n in self._bad

    def _next_job(self) -> int | None:
        if self._target is None:
            return None
        end = min(self._num_frames, self._target + self._ahead + 1)
        for k in range(max(0, self._target), end):
            if k not in self._cache and k not in self._bad:
                return k
        return None

    def _step_towards(self, source: FrameSource, aim: int) -> int:
        """The next frame to decode on the way to `aim`: each call costs one frame."""
        try:
            key = source.keyframe_before(aim)
        except Exception:
            return aim
        if self._last is not None and key <= self._last < aim:
            step = self._last + 1
        else:
            step = key
        if any(k in self._bad for k in range(step, aim)):
            return aim  # the chain is broken: let decode(aim) say why
        return step

    def run(self) -> None:
        try:
            source = self._factory()
        except BaseException as exc:  # reported to the user, never raised
            self.failed.emit(-1, describe_error(exc))
            return
        try:
            while True:
                with self._cond:
                    job = self._next_job()
                    while not self._stop and job is None:
                        self._cond.wait()
                        job = self._next_job()
                    if self._stop:
                        return
                assert job is not None
                job = self._step_towards(source, job)
                self.busy_frame = job
                t0 = time.perf_counter()
                try:
                    image, stats = source.decode(job)
                except Exception as exc:
                    self._bad.add(job)
                    self._last = None
                    self.busy_frame = None
                    self.failed.emit(job, describe_error(exc))
                    continue
                ms = (time.perf_counter() - t0) * 1000.0
                self._last = job
                self._cache.put(job, image, stats)
                self.busy_frame = None
                self.decoded.emit(job, stats, ms)
        finally:
            try:
                source.close()
            except Exception:  # closing must not take the app down
                pass


class ScanWorker(QThread):
    """Opens a source, reports its header, then scans every frame's side information."""

    opened = Signal(object)  # StreamInfo
    scanned = Signal(object)  # list[FrameStats]
    encode_stats = Signal(object)  # list[FrameStats] | None
    failed = Signal(str)
    scan_failed = Signal(str)

    def __init__(self, factory: SourceFactory, label: str, path: object = None) -> None:
        super().__init__()
        self._factory = factory
        self._label = label
        self._path = path

    def _step_towards(self, source: FrameSource, aim: int) -> int:
        """The next frame to decode on the way to `aim`: each call costs one frame."""
        try:
            key = source.keyframe_before(aim)
        except Exception:
            return aim
        if self._last is not None and key <= self._last < aim:
            step = self._last + 1
        else:
            step = key
        if any(k in self._bad for k in range(step, aim)):
            return aim  # the chain is broken: let decode(aim) say why
        return step

    def run(self) -> None:
        try:
            source = self._factory()
            info = info_of(source, self._label, self._path)  # type: ignore[arg-type]
        except BaseException as exc:
            self.failed.emit(describe_error(exc))
            return
        try:
            self.opened.emit(info)
            try:
                stats = source.scan()
            except Exception as exc:
                self.scan_failed.emit(describe_error(exc))
                return
            self.scanned.emit(list(stats))
            try:
                enc = source.encode_stats()
            except Exception:  # optional data
                enc = None
            self.encode_stats.emit(list(enc) if enc else None)
        finally:
            try:
                source.close()
            except Exception:
                pass
