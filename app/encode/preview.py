"""PreviewWorker: what the current settings do to the first frames of the range, off the UI thread.

Each request names a source, a frame range start, an output size, a quality and a preset. Only
the latest request counts: one arriving while another is being worked on makes the worker drop
the older one at its next step. The worker reads the first two frames of the range (kept until
the source, start or size change), codes frame 0 as an I-frame (`codec.api.encode_preview`, its
result depends on the quality only), then frames 0 and 1 as I then P (depends on the preset
too), and reports each as it is ready. Large frames are previewed on a centre crop so that a
slider move answers in about a second; bits per pixel and PSNR of a crop are representative.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
from PySide6.QtCore import QThread, Signal

from app.messages import describe_error
from codec.stats import FrameStats

PREVIEW_MAX = (640, 360)  # largest previewed area (width, height); bigger frames are cropped
RESULT_CACHE = 32  # preview results kept (per source/start/size)


@dataclass(frozen=True)
class PreviewRequest:
    """Preview `quality`/`preset` on frames `start`, `start + 1` of `source` at `size`."""

    serial: int
    source: str
    start: int
    size: tuple[int, int] | None
    quality: int
    preset: str
    device: str = "auto"

    @property
    def frames_key(self) -> tuple[str, int, tuple[int, int] | None]:
        return (self.source, self.start, self.size)


@dataclass(frozen=True)
class SourceInfo:
    """What the source holds from `start` on: stored size, rate, frames (None: unknown)."""

    source: str
    width: int
    height: int
    fps: Fraction
    frames: int | None
    crop: tuple[int, int] | None = None  # previewed area when the frames are cropped
    subsampled_chroma: bool | None = None  # the previewed frames' (codec.media's)


@dataclass(frozen=True)
class PreviewResult:
    """An I-frame (and, once ready, the following P-frame) coded at one setting."""

    serial: int
    quality: int
    preset: str
    source: np.ndarray  # the source frame shown (frame 1 when `inter` is set, else frame 0)
    recon: np.ndarray  # its decoded picture
    intra: FrameStats
    inter: FrameStats | None = None
    ms: float = 0.0  # time spent coding
    final: bool = False  # no P-frame follows (it is here, or the source has a single frame)


def centre_crop(frame: np.ndarray, limit: tuple[int, int] = PREVIEW_MAX) -> np.ndarray:
    """The middle `limit`-sized part of a frame (offsets on the 16-pixel block grid)."""
    h, w = frame.shape[:2]
    cw, ch = min(w, limit[0]), min(h, limit[1])
    if (cw, ch) == (w, h):
        return frame
    x0, y0 = (w - cw) // 2 // 16 * 16, (h - ch) // 2 // 16 * 16
    return np.ascontiguousarray(frame[y0:y0 + ch, x0:x0 + cw])


def read_preview_frames(source: str, start: int,
                        size: tuple[int, int] | None) -> tuple[SourceInfo, list[np.ndarray]]:
    """The source's description and its (cropped) frames `start` and `start + 1`."""
    from codec.media import open_any

    with open_any(source, start=start) as src:
        width = int(getattr(src, "source_width", src.width))
        height = int(getattr(src, "source_height", src.height))
        fps, count = Fraction(src.fps), src.frame_count
        subsampled = src.subsampled_chroma
        if size is None:
            frames = list(itertools.islice(iter(src), 2))
    if size is not None:
        with open_any(source, scale=size, frames=2, start=start) as src:
            subsampled = src.subsampled_chroma
            frames = list(src)
    if not frames:
        from codec.errors import SourceError

        raise SourceError(f"{source}: holds no frame from frame {start} on")
    cropped = [centre_crop(f) for f in frames]
    h, w = cropped[0].shape[:2]
    crop = (w, h) if cropped[0].shape != frames[0].shape else None
    return SourceInfo(source, width, height, fps, count, crop, subsampled), cropped


class PreviewWorker(QThread):
    """Answers the latest `PreviewRequest`; see the module docstring."""

    source_ready = Signal(int, object, object)  # serial, SourceInfo, first frame (cropped)
    ready = Signal(int, object)  # serial, PreviewResult (twice: I only, then I and P)
    failed = Signal(int, str)  # serial, one-line message

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._pending: PreviewRequest | None = None
        self._stop = False
        self._frames_key: tuple | None = None
        self._frames: list[np.ndarray] = []
        self._subsampled: bool | None = None  # the frames' SourceInfo.subsampled_chroma
        self._results: OrderedDict[tuple, tuple[np.ndarray, FrameStats, float]] = OrderedDict()

    def request(self, req: PreviewRequest) -> None:
        """Replace any request not yet answered (any thread)."""
        with self._cond:
            self._pending = req
            self._cond.notify()

    def stop(self) -> None:
        """Finish after the step in progress."""
        with self._cond:
            self._stop = True
            self._cond.notify()

    def _superseded(self) -> bool:
        with self._cond:
            return self._stop or self._pending is not None

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._pending is None:
                    self._cond.wait()
                if self._stop:
                    return
                req, self._pending = self._pending, None
            try:
                self._answer(req)
            except Exception as exc:  # shown in the view, never raised
                self._frames_key = None
                self.failed.emit(req.serial, describe_error(exc, "encoding"))

    def _answer(self, req: PreviewRequest) -> None:
        if req.frames_key != self._frames_key:
            self._frames_key = None
            self._results.clear()
            info, self._frames = read_preview_frames(req.source, req.start, req.size)
            self._subsampled = info.subsampled_chroma
            self._frames_key = req.frames_key
            self.source_ready.emit(req.serial, info, self._frames[0])
        if self._superseded():
            return
        frames = self._frames
        i_recon, i_stats, i_ms = self._coded((req.quality,), frames[:1], req)
        result = PreviewResult(req.serial, req.quality, req.preset, frames[0], i_recon,
                               i_stats, None, i_ms, final=len(frames) < 2)
        self.ready.emit(req.serial, result)
        if result.final or self._superseded():
            return
        p_recon, p_stats, p_ms = self._coded((req.quality, req.preset), frames[:2], req)
        self.ready.emit(req.serial, replace(result, source=frames[1], recon=p_recon,
                                            inter=p_stats, ms=i_ms + p_ms, final=True))

    def _coded(self, key: tuple, frames: list[np.ndarray],
               req: PreviewRequest) -> tuple[np.ndarray, FrameStats, float]:
        """encode_preview of `frames` at the request's setting, remembered under `key`."""
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        from codec.api import encode_preview

        t0 = time.perf_counter()
        recon, stats = encode_preview(frames, req.quality, req.preset, device=req.device,
                                      still=len(self._frames) < 2,
                                      subsampled_chroma=self._subsampled)
        entry = (recon, stats, (time.perf_counter() - t0) * 1000.0)
        self._results[key] = entry
        while len(self._results) > RESULT_CACHE:
            self._results.popitem(last=False)
        return entry
