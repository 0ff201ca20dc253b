"""PlayerController: the stream, its workers, the frame cache and the playback clock.

Lives in the UI thread; every decode happens on a DecodeWorker, the side-information scan on a
ScanWorker. When decoding is slower than real time, playback pauses in a "buffering" state until
enough frames are cached, rather than stuttering frame by frame.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QThread, QTimer, Signal

from app.player.cache import FrameCache
from app.player.source import SourceFactory, StreamInfo
from app.player.worker import DecodeWorker, ScanWorker
from codec.stats import FrameStats

THREAD_JOIN_MS = 10_000


class PlayerController(QObject):
    """Opens streams, seeks, steps and plays them; reports frames and stats via signals."""

    opened = Signal(object)  # StreamInfo
    open_failed = Signal(str)
    scanned = Signal(object)  # list[FrameStats]
    scan_failed = Signal(str)
    encode_stats_ready = Signal(object)  # list[FrameStats] | None
    frame_shown = Signal(int, object, object)  # frame, RGB uint8 image, FrameStats
    frame_decoded = Signal(int, object)  # frame, its decoded FrameStats (timings measured)
    decode_failed = Signal(int, str)
    playing_changed = Signal(bool)
    buffer_changed = Signal()  # cache contents or buffering state changed (throttled)
    closed = Signal()

    def __init__(self, cache_mb: float = 512.0, readahead_s: float = 2.0) -> None:
        super().__init__()
        self.cache = FrameCache(cache_mb)
        self.readahead_s = readahead_s
        self.resume_s = 0.5  # buffer this much before resuming after a stall
        self.loop = False
        self.info: StreamInfo | None = None
        self.stats: list[FrameStats] = []
        self.encoder_stats: list[FrameStats] | None = None
        self.timings: dict[int, dict[str, float]] = {}  # measured decode timings per frame
        self.decoded: dict[int, FrameStats] = {}  # stats of decoded frames (with block maps)
        self.keyframes: list[int] = []
        self.current = -1  # frame on screen
        self.target = -1  # frame asked for (shown once decoded)
        self.playing = False
        self.buffering = False
        self.scanning = False
        self.decode_ms: float | None = None  # moving average of sequential decode times
        self.last_error: str | None = None
        self._factory: SourceFactory | None = None
        self._scan: ScanWorker | None = None
        self._decoder: DecodeWorker | None = None
        self._graveyard: list[QThread] = []
        self._clock = QTimer(self)
        self._clock.setTimerType(Qt.TimerType.PreciseTimer)
        self._clock.timeout.connect(self._tick)
        self._elapsed = QElapsedTimer()
        self._origin = (0, 0)  # (frame, elapsed ms) when playback (re)started
        self._notify = QTimer(self)
        self._notify.setSingleShot(True)
        self._notify.setInterval(80)
        self._notify.timeout.connect(self.buffer_changed)

    # -- opening and closing -----------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.info is not None

    @property
    def factory(self) -> SourceFactory | None:
        """The factory of the open stream (for other workers that need their own decoder)."""
        return self._factory

    @property
    def is_loading(self) -> bool:
        return self._scan is not None and self.info is None

    def open(self, factory: SourceFactory, label: str, path: Path | None = None) -> None:
        """Open a stream; `opened` or `open_failed` follows (the UI thread never waits)."""
        self.close()
        self._factory = factory
        self.last_error = None
        self.scanning = True
        scan = ScanWorker(factory, label, path)
        scan.opened.connect(self._on_opened)
        scan.failed.connect(self._on_open_failed)
        scan.scanned.connect(self._on_scanned)
        scan.scan_failed.connect(self._on_scan_failed)
        scan.encode_stats.connect(self._on_encode_stats)
        self._scan = scan
        scan.start()

    def close(self) -> None:
        """Stop playback and the workers and forget the stream."""
        was_open = self.info is not None
        self.pause()
        for worker in (self._scan, self._decoder):
            if worker is not None:
                if isinstance(worker, DecodeWorker):
                    worker.stop()
                self._bury(worker)
        self._scan = self._decoder = None
        self._factory = None
        self.info = None
        self.stats, self.encoder_stats, self.keyframes = [], None, []
        self.timings = {}
        self.decoded = {}
        self.current = self.target = -1
        self.scanning = False
        self.decode_ms = None
        self.cache.clear()
        if was_open:
            self.closed.emit()

    def shutdown(self) -> None:
        """Close and wait for every worker thread (call before the application quits)."""
        self.close()
        for thread in list(self._graveyard):
            thread.wait(THREAD_JOIN_MS)

    def _bury(self, thread: QThread) -> None:
        self._graveyard.append(thread)
        thread.finished.connect(lambda t=thread: self._graveyard.remove(t)
                                if t in self._graveyard else None)
        if not thread.isRunning():
            thread.wait()

    def _on_opened(self, info: StreamInfo) -> None:
        if self.sender() is not self._scan or self._factory is None:
            return
        self.info = info
        if info.num_frames <= 0:
            self._fail_open("The stream holds no frames.")
            return
        worker = DecodeWorker(self._factory, self.cache, info.num_frames)
        worker.decoded.connect(self._on_decoded)
        worker.failed.connect(self._on_decode_failed)
        self._decoder = worker
        worker.start()
        self.opened.emit(info)
        self.seek(0)

    def _on_open_failed(self, message: str) -> None:
        if self.sender() is self._scan:
            self._fail_open(message)

    def _fail_open(self, message: str) -> None:
        self.close()
        self.last_error = message
        self.open_failed.emit(message)

    def _on_scanned(self, stats: list[FrameStats]) -> None:
        if self.sender() is not self._scan:
            return
        self.stats = stats
        self.keyframes = sorted(s.index for s in stats if s.keyframe)
        self.scanned.emit(stats)

    def _on_scan_failed(self, message: str) -> None:
        if self.sender() is self._scan:
            self.scanning = False
            self.scan_failed.emit(message)

    def _on_encode_stats(self, stats: list[FrameStats] | None) -> None:
        if self.sender() is self._scan:
            self.scanning = False
            self.encoder_stats = stats
            self.encode_stats_ready.emit(stats)

    # -- seeking -----------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.info.num_frames if self.info else 0

    @property
    def readahead_frames(self) -> int:
        if self.info is None:
            return 0
        wanted = max(2, int(round(self.readahead_s * float(self.info.fps))))
        room = self.cache.capacity_frames(self.info.frame_bytes) - 2
        return max(1, min(wanted, room))  # at least the next frame, even in a tiny cache

    def seek(self, n: int) -> None:
        """Show frame `n` as soon as it is decoded (at once when cached)."""
        if self.info is None:
            return
        n = max(0, min(int(n), self.info.num_frames - 1))
        self.target = n
        if self.playing:
            self._restart_clock(n)
        item = self.cache.get(n)
        if item is not None:
            self._show(n)
        else:
            self._request(n)
            self._schedule_notify()

    def step(self, delta: int) -> None:
        """Pause and move `delta` frames (from the frame asked for last, so keys repeat)."""
        self.pause()
        base = self.target if self.target >= 0 else self.current
        self.seek(base + delta)

    def to_start(self) -> None:
        self.seek(0)

    def to_end(self) -> None:
        self.pause()
        self.seek(self.num_frames - 1)

    def next_keyframe(self) -> None:
        base = self.target if self.target >= 0 else self.current
        i = bisect.bisect_right(self.keyframes, base)
        if i < len(self.keyframes):
            self.seek(self.keyframes[i])

    def prev_keyframe(self) -> None:
        base = self.target if self.target >= 0 else self.current
        i = bisect.bisect_left(self.keyframes, base)
        if i > 0:
            self.seek(self.keyframes[i - 1])

    def _request(self, n: int) -> None:
        ahead = self.readahead_frames
        self.cache.set_focus(n, n + ahead + 1)
        if self._decoder is not None:
            self._decoder.request(n, ahead)

    def keyframe_before(self, n: int) -> int | None:
        """The last keyframe at or before `n` (from the scan), or None before the scan."""
        i = bisect.bisect_right(self.keyframes, n)
        return self.keyframes[i - 1] if i > 0 else None

    def _show(self, n: int, preview: bool = False) -> None:
        """Put frame `n` on screen; a preview keeps the target and the decode request."""
        item = self.cache.get(n)
        if item is None:
            return
        self.current = n
        if n not in self.timings and item.stats is not None and item.stats.timings:
            # cached by the worker before its "decoded" signal reached this thread
            self.timings[n] = dict(item.stats.timings)
        if not preview:
            if self.target < n or not self.playing:
                self.target = n
            self._request(n)
        self.frame_shown.emit(n, item.image, item.stats)
        self._schedule_notify()

    def _on_decoded(self, n: int, stats: FrameStats, ms: float) -> None:
        if self.sender() is not self._decoder:
            return
        timings = dict(stats.timings) if stats.timings else {"decode": ms}
        self.timings[n] = timings
        self.decoded[n] = stats
        if n - 1 in self.cache:  # sequential decodes only (a seek decodes a whole GOP)
            self.decode_ms = ms if self.decode_ms is None else 0.8 * self.decode_ms + 0.2 * ms
        self.frame_decoded.emit(n, stats)
        if n == self.target and n != self.current:
            self._show(n)
        elif (not self.playing and n != self.current and n < self.target
              and n == self.keyframe_before(self.target)):
            self._show(n, preview=True)  # seeking far: the keyframe first, then decode forward
        if self.buffering:
            self._maybe_resume()
        self._schedule_notify()

    def _on_decode_failed(self, n: int, message: str) -> None:
        if self.sender() is not self._decoder:
            return
        if n < 0:
            self._fail_open(message)
            return
        self.last_error = f"Frame {n}: {message}"
        if self.playing and n == self.current + 1:
            self.pause()
        self.decode_failed.emit(n, message)
        self._schedule_notify()

    def is_bad(self, n: int) -> bool:
        return self._decoder is not None and self._decoder.is_bad(n)

    # -- playback ----------------------------------------------------------------------------
    def play(self) -> None:
        if self.info is None or self.playing:
            return
        if self.current >= self.info.num_frames - 1 and not self.loop:
            self.seek(0)
        self.playing = True
        self.buffering = False
        self._restart_clock(max(self.current, 0))
        period_ms = 1000.0 / max(1e-3, float(self.info.fps))
        self._clock.start(max(4, min(15, int(period_ms / 3))))
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self.buffering = False
        self._clock.stop()
        self.playing_changed.emit(False)
        self._schedule_notify()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def _restart_clock(self, frame: int) -> None:
        if not self._elapsed.isValid():
            self._elapsed.start()
        self._origin = (frame, self._elapsed.elapsed())

    def _tick(self) -> None:
        if not self.playing or self.info is None:
            return
        if self.buffering:
            self._maybe_resume()
            return
        last = self.info.num_frames - 1
        fps = float(self.info.fps)
        origin_frame, origin_ms = self._origin
        due = origin_frame + int((self._elapsed.elapsed() - origin_ms) * fps / 1000.0)
        due = min(due, last)
        if due <= self.current:
            return
        k = self.current
        while k < due and (k + 1) in self.cache:
            k += 1
        if k > self.current:
            self._show(k)
        if self.current >= last:
            if self.loop:
                self.seek(0)
                self._restart_clock(0)
            else:
                self.pause()
        elif k < due:
            if self.is_bad(k + 1):
                self.pause()
            else:
                self.buffering = True
                self._schedule_notify()

    def buffered_ahead(self) -> int:
        """Consecutive frames after the current one that are decoded and cached."""
        return self.cache.ahead(self.current) if self.current >= 0 else 0

    def _maybe_resume(self) -> None:
        if self.info is None:
            return
        remaining = self.info.num_frames - 1 - self.current
        need = max(1, min(self.readahead_frames, int(self.resume_s * float(self.info.fps))))
        ahead = self.buffered_ahead()
        if ahead >= min(need, remaining) or self.is_bad(self.current + ahead + 1):
            self.buffering = False
            self._restart_clock(self.current)
            self._schedule_notify()

    def _schedule_notify(self) -> None:
        if not self._notify.isActive():
            self._notify.start()

    # -- settings ----------------------------------------------------------------------------
    def set_cache_mb(self, mb: float) -> None:
        self.cache.set_capacity_mb(mb)
        if self.current >= 0:
            self._request(self.current)
        self._schedule_notify()

    def frame_stats(self, n: int) -> FrameStats | None:
        """The richest stats known for frame `n`: decoded ones, else the scan's."""
        if n in self.decoded:
            return self.decoded[n]
        return self.stats[n] if 0 <= n < len(self.stats) else None

    def merged_stats(self) -> list[FrameStats]:
        """Every frame's stats: decoded ones (block maps, timings) where known, else scanned."""
        return [self.decoded.get(s.index, s) for s in self.stats]

    def measured_stats(self) -> list[FrameStats]:
        """`merged_stats` with the measured timings (for export)."""
        return [
            replace(s, timings=dict(self.timings[s.index])) if s.index in self.timings else s
            for s in self.merged_stats()
        ]
