"""Comparing the stream with its source video: PSNR per frame and the difference picture.

A CompareWorker owns its own decoder and source reader (codec.media.open_source by default),
measures PSNR for every frame in order and keeps source frames in a bounded cache for the
difference view; frames evicted from that cache are read again on request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QThread, Signal

from app.messages import describe_error
from app.player.cache import FrameCache
from app.player.source import SourceFactory
from app.views.colormaps import lut

VideoFactory = Callable[[], Any]  # -> an iterable of (H, W, 3) uint8 RGB frames
PsnrFunction = Callable[[np.ndarray, np.ndarray], float]


def media_factory(path: str | Path) -> VideoFactory:
    """Opens `path` with codec.media.open_source (imported when first used)."""

    def make() -> Any:
        from codec.media import open_source

        return open_source(str(path))

    return make


def codec_psnr(a: np.ndarray, b: np.ndarray) -> float:
    from codec.metrics import psnr_rgb

    return float(psnr_rgb(a, b))


def difference_image(source: np.ndarray, decoded: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """|source - decoded| averaged over RGB, times `gain`, as an inferno-coloured RGB image."""
    err = np.abs(source.astype(np.int16) - decoded.astype(np.int16)).mean(axis=2) * gain
    return lut("inferno")[np.clip(err, 0, 255).astype(np.uint8)]


def _as_rgb(frame: Any) -> np.ndarray:
    if hasattr(frame, "to_ndarray"):
        frame = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.asarray(frame, dtype=np.uint8))


class CompareWorker(QThread):
    """Measures PSNR of every decoded frame against the source, then serves source frames."""

    measured = Signal(int, float)  # frame, PSNR dB (inf when identical)
    source_ready = Signal(int)  # a requested source frame is now in the cache
    done = Signal(int)  # frames compared
    failed = Signal(str)
    note = Signal(str)

    def __init__(self, video_factory: VideoFactory, decoder_factory: SourceFactory,
                 num_frames: int, cache: FrameCache, psnr: PsnrFunction | None = None) -> None:
        super().__init__()
        self._video_factory = video_factory
        self._decoder_factory = decoder_factory
        self._num_frames = num_frames
        self.cache = cache
        self._psnr = psnr or codec_psnr
        self._cond = threading.Condition()
        self._wanted: int | None = None
        self._stop = False
        self.compared = 0

    def request(self, n: int) -> None:
        """Ask for source frame `n` (answered by `source_ready`)."""
        with self._cond:
            self._wanted = n
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    def run(self) -> None:
        video = decoder = None
        try:
            video = self._video_factory()
            decoder = self._decoder_factory()
            size = (getattr(video, "width", None), getattr(video, "height", None))
            if None not in size and size != (decoder.width, decoder.height):
                self.failed.emit(f"The source is {size[0]}×{size[1]} but the stream is "
                                 f"{decoder.width}×{decoder.height}.")
                return
            self._measure(video, decoder)
            self._serve(video)
        except Exception as exc:  # reported to the user, never raised
            self.failed.emit(describe_error(exc))
        finally:
            for obj in (video, decoder):
                close = getattr(obj, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:  # closing must not take the app down
                        pass

    def _measure(self, video: Any, decoder: Any) -> None:
        frames: Iterator[Any] = iter(video)
        for n in range(self._num_frames):
            if self._stop:
                return
            try:
                src = _as_rgb(next(frames))
            except StopIteration:
                self.note.emit(f"The source ends after {n} frames; the stream has "
                               f"{self._num_frames}.")
                break
            if src.shape != (decoder.height, decoder.width, 3):
                self.failed.emit(f"Source frame {n} is {src.shape[1]}×{src.shape[0]}, "
                                 f"the stream is {decoder.width}×{decoder.height}.")
                return
            try:
                decoded, _ = decoder.decode(n)
            except Exception as exc:
                self.note.emit(f"Frame {n} could not be decoded for comparison: "
                               f"{describe_error(exc)}")
                self.cache.put(n, src, None)
                continue
            value = float(self._psnr(src, decoded))
            self.cache.put(n, src, None)
            self.compared = n + 1
            self.measured.emit(n, value)
            if n == self._wanted:
                self.source_ready.emit(n)
        self.done.emit(self.compared)

    def _serve(self, video: Any) -> None:
        while True:
            with self._cond:
                while not self._stop and (self._wanted is None or self._wanted in self.cache):
                    if self._wanted is not None:
                        self.source_ready.emit(self._wanted)
                        self._wanted = None
                    else:
                        self._cond.wait()
                if self._stop:
                    return
                n = self._wanted
            assert n is not None
            frame = self._read(video, n)
            if frame is not None:
                self.cache.put(n, frame, None)

    def _read(self, video: Any, n: int) -> np.ndarray | None:
        """Source frame `n`: random access when the reader has it, else read from the start."""
        if hasattr(video, "frame"):
            return _as_rgb(video.frame(n))
        reopened = self._video_factory()
        try:
            for k, frame in enumerate(reopened):
                if k == n:
                    return _as_rgb(frame)
                if self._stop:
                    return None
        finally:
            close = getattr(reopened, "close", None)
            if close is not None:
                close()
        with self._cond:
            self._wanted = None
        return None
