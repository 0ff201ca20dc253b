"""Adaptive loop filter (format 12): a Wiener filter fitted per frame, in the loop.

The learned coders blur and the detail layer's quantisation leaves ringing and noise; a small
filter fitted by least squares against the source removes part of that error for a few bytes
(VVC's ALF, without its classes). After the detail layer and deblocking, each RGB channel x
of a frame is filtered with one set of 12 integer coefficients c_k (1/128) over a 7x7 diamond:

    x'(p) = clip(x(p) + (sum_k c_k (d(p + o_k) + d(p - o_k)) + 64) >> 7, 0, 255),
    d(q) = clip(x(q) - x(p), -C, C)

with o_k the 12 offsets of one half of the diamond (`OFFSETS`), the frame's edges repeated,
and C one of `CLIPS` (small clips make it a non-linear filter that restores fine detail and
leaves edges alone). Integer arithmetic only, so the decoder filters exactly as the encoder
did, and the filtered frame is the reference of later frames.

The record ends the frame's payload (the frame header's `filtered` bit says it is there):
12 coefficients as int8, then one byte, bits 0-2 the index into `CLIPS`, bits 3-7 zero.
The encoder fits the coefficients for each clip and keeps the best filter when it saves more
distortion, at the frame's price of it, than its 13 bytes cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ZVC69FormatError
from .profiler import Profiler

FROM = 12  # the stream format with the filter
RADIUS = 3
OFFSETS = tuple((dy, dx) for dy in range(RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)
                if abs(dy) + abs(dx) <= RADIUS and (dy, dx) > (0, 0))
SHIFT = 7
CLIPS = (1, 2, 3, 4, 6, 8, 16, 255)  # part of the format
# The encoder tries every clip (choosing on a quarter of the rows is cheap): carphone (17
# frames, Q1/3/5/7) BD-rate Y against format 11 -4.81 %, with 2, 4, 8 and linear only -4.46 %
TRY_CLIPS = CLIPS
SIZE = len(OFFSETS) + 1  # bytes of a record
_SUBSAMPLE = 4  # the encoder chooses the clip on every 4th band of 8 rows
REFIT = True  # then fits its coefficients on all rows (carphone -4.46 against -4.23 %)


@dataclass(frozen=True)
class LoopFilter:
    """One frame's filter: the index into CLIPS and 12 coefficients in 1/128."""

    clip: int
    coeffs: tuple[int, ...]

    def pack(self) -> bytes:
        return np.asarray(self.coeffs, np.int8).tobytes() + bytes([self.clip])

    @classmethod
    def unpack(cls, data: bytes) -> LoopFilter:
        """The record of `SIZE` bytes; ZVC69FormatError (offset in the record) if malformed."""
        if len(data) != SIZE:
            raise ZVC69FormatError(f"loop filter record of {len(data)} bytes (not {SIZE})", 0)
        if data[-1] >= len(CLIPS):
            raise ZVC69FormatError(f"loop filter byte {data[-1]:#04x} has reserved bits set",
                                   SIZE - 1)
        return cls(data[-1], tuple(int(c) for c in np.frombuffer(data[:-1], np.int8)))

    @property
    def clip_value(self) -> int:
        return CLIPS[self.clip]

    def stats(self) -> tuple[int, tuple[int, ...]]:
        """(clip value, coefficients) for FrameStats.loop_filter."""
        return self.clip_value, self.coeffs

    @classmethod
    def of(cls, stats: tuple[int, tuple[int, ...]]) -> LoopFilter:
        """The filter FrameStats.loop_filter describes."""
        return cls(CLIPS.index(stats[0]), tuple(stats[1]))


def split(payload: bytes) -> tuple[bytes, LoopFilter]:
    """A filtered frame's payload -> (the payload before the record, the filter)."""
    if len(payload) < SIZE:
        raise ZVC69FormatError(f"payload of {len(payload)} bytes is too short for its loop "
                               f"filter record ({SIZE} bytes)", 0)
    try:
        return payload[:-SIZE], LoopFilter.unpack(payload[-SIZE:])
    except ZVC69FormatError as e:
        raise ZVC69FormatError(str(e), len(payload) - SIZE + (e.offset or 0)) from None


def strip(payload: bytes, filtered: bool) -> bytes:
    """A frame's payload without its loop filter record (`filtered`: the frame header's bit)."""
    return split(payload)[0] if filtered else payload


def _features(p: np.ndarray, clip: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Padded planes p (C, H + 6, W + 6) int16 -> (12, N) float32 features of the pixels on
    `rows` (default all; plane by plane, row-major): per offset o the clipped differences of
    its two neighbours to the centre, summed."""
    r = RADIUS
    h, w = p.shape[1] - 2 * r, p.shape[2] - 2 * r
    ys = np.arange(h) if rows is None else rows
    whole = rows is None

    def band(dy: int) -> np.ndarray:
        return p[:, r + dy : r + h + dy] if whole else p[:, ys + r + dy]

    out = np.empty((len(OFFSETS), p.shape[0], len(ys), w), np.float32)
    c = band(0)[:, :, r : r + w]
    for k, (dy, dx) in enumerate(OFFSETS):
        a = band(dy)[:, :, r + dx : r + w + dx] - c
        b = band(-dy)[:, :, r - dx : r + w - dx] - c
        if clip < 255:
            np.clip(a, -clip, clip, out=a)
            np.clip(b, -clip, clip, out=b)
        np.add(a, b, out=out[k], dtype=np.float32)
    return out.reshape(len(OFFSETS), -1)


def _padded(x: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> (C, H + 6, W + 6) int16 planes, edges repeated."""
    return np.pad(np.moveaxis(x, -1, 0).astype(np.int16),
                  ((0, 0), (RADIUS, RADIUS), (RADIUS, RADIUS)), mode="edge")


_BAND = 128  # rows filtered at a time


Margins = tuple[int, int, int, int]  # (top, bottom, left, right) pixels left as they are


def apply(frame: np.ndarray, filt: LoopFilter, prof: Profiler | None = None,
          bars: Margins | None = None) -> np.ndarray:
    """frame (H, W, 3) uint8 filtered with `filt` (module docstring), a new array; `bars`:
    an I-frame's flat bars (bars.py), whose pixels keep their colour."""
    prof = prof or Profiler()
    with prof.stage("loop_filter"):
        p = _padded(frame)
        out = np.empty_like(frame)
        r, h, w = RADIUS, frame.shape[0], frame.shape[1]
        clip = filt.clip_value
        for y in range(0, h, _BAND):
            n = min(_BAND, h - y)
            band = p[:, y : y + n + 2 * r]
            c = band[:, r : r + n, r : r + w]
            acc = np.full(c.shape, 1 << SHIFT - 1, np.int32)
            for (dy, dx), k in zip(OFFSETS, filt.coeffs, strict=True):
                if not k:
                    continue
                a = band[:, r + dy : r + n + dy, r + dx : r + w + dx] - c
                b = band[:, r - dy : r + n - dy, r - dx : r + w - dx] - c
                if clip < 255:
                    np.clip(a, -clip, clip, out=a)
                    np.clip(b, -clip, clip, out=b)
                a += b
                acc += k * a.astype(np.int32)
            acc >>= SHIFT
            acc += c
            out[y : y + n] = np.moveaxis(np.clip(acc, 0, 255), 0, -1)
        if bars is not None:
            top, bottom, left, right = bars
            inner = out[top : h - bottom, left : w - right].copy()
            out[:] = frame
            out[top : h - bottom, left : w - right] = inner
        return out


def _sample_rows(h: int) -> np.ndarray | None:
    """The rows the encoder fits on: every 4th band of 8 (all phases of the 8x8 block grid,
    whose edges the detail layer and deblocking treat apart); None (all) in small frames."""
    if h < 64:
        return None
    ys = np.arange(h)
    return ys[(ys // 8) % _SUBSAMPLE == 0]


def _normal(frame: np.ndarray, source: np.ndarray, clip: int, rows: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares system (F^T F, F^T t) of the three channels on `rows` (None: all),
    t = source - frame."""
    f = _features(_padded(frame), clip, rows)
    sel = slice(None) if rows is None else rows
    t = np.moveaxis(source[sel].astype(np.float32) - frame[sel], -1, 0).ravel()
    return (f @ f.T).astype(np.float64), (f @ t).astype(np.float64)


def _solve(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    c = np.linalg.solve(a + 1e-3 * np.eye(len(b)) * (1.0 + np.trace(a) / len(b)), b)
    return tuple(int(v) for v in np.clip(np.round(c * (1 << SHIFT)), -128, 127))


def _sse(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.int32) - b
    return float(np.einsum("ijk,ijk->", d, d, dtype=np.int64))


def fit(frame: np.ndarray, source: np.ndarray, bits_per_sse: float,
        prof: Profiler | None = None, bars: Margins | None = None
        ) -> tuple[LoopFilter, np.ndarray] | None:
    """The filter for reconstruction `frame` of `source` ((H, W, 3) uint8 each) and the frame
    it makes, or None when no filter of TRY_CLIPS saves more than its bits at `bits_per_sse`
    (bits per unit of 8-bit RGB SSE); `bars` as for `apply`."""
    prof = prof or Profiler()
    with prof.stage("loop_filter_fit"):
        rows = _sample_rows(frame.shape[0])
        best: tuple[float, LoopFilter] | None = None
        for clip in TRY_CLIPS:
            a, b = _normal(frame, source, clip, rows)
            coeffs = _solve(a, b)
            c = np.asarray(coeffs, np.float64) / (1 << SHIFT)
            gain = 2 * c @ b - c @ a @ c  # SSE removed on the sampled rows
            if best is None or gain > best[0]:
                best = (gain, LoopFilter(CLIPS.index(clip), coeffs))
        assert best is not None
        filt = best[1]
        if rows is not None and REFIT:  # the chosen clip's coefficients from every row
            filt = LoopFilter(filt.clip, _solve(*_normal(frame, source, filt.clip_value, None)))
    if not any(filt.coeffs):
        return None
    out = apply(frame, filt, prof, bars)
    src = source.astype(np.int32)
    saved = _sse(frame, src) - _sse(out, src)
    if saved * bits_per_sse <= 8 * SIZE:
        return None
    return filt, out
