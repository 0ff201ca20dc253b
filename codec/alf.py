"""Adaptive loop filter (format 12): a Wiener filter fitted per frame, in the loop.

The learned coders blur and the detail layer's quantisation leaves ringing and noise; a small
filter fitted by least squares against the source removes part of that error for a few bytes
(VVC's ALF, with fewer classes). After the detail layer and deblocking, each RGB channel x
of a frame is filtered with 12 integer coefficients c_k (1/128) over a 7x7 diamond:

    x'(p) = clip(x(p) + (sum_k c_k (d(p + o_k) + d(p - o_k)) + 64) >> 7, 0, 255),
    d(q) = clip(x(q) - x(p), -C, C)

with o_k the 12 offsets of one half of the diamond (`OFFSETS`), the frame's edges repeated,
and C one of `CLIPS` (small clips make it a non-linear filter that restores fine detail and
leaves edges alone). A frame may have up to four sets of coefficients, one per class of 4x4
blocks by activity (the sum of |4 Y(p) - its four neighbours| over the block, Y the integer
luma of the unfiltered frame), split at thresholds the record carries. Integer arithmetic only,
so the decoder filters exactly as the encoder did, and the filtered frame is the reference of
later frames.

The record ends the frame's payload (the frame header's `filtered` bit says it is there): n
sets of 12 coefficients as int8, n - 1 ascending u16 thresholds, then one byte: bits 0-2 the
index into `CLIPS`, bits 3-4 n - 1, bits 5-7 zero (13 bytes for one class). The encoder fits
every clip (stills also with two and four classes) and keeps the filter that saves the most
distortion, at the frame's price of it, net of its bits, if any does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .container import FILTERED_FROM
from .errors import ZVC69FormatError
from .profiler import Profiler

FROM = FILTERED_FROM  # the stream format with the filter
RADIUS = 3
OFFSETS = tuple((dy, dx) for dy in range(RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)
                if abs(dy) + abs(dx) <= RADIUS and (dy, dx) > (0, 0))
SHIFT = 7
CLIPS = (1, 2, 3, 4, 6, 8, 16, 255)  # part of the format
# The encoder tries every clip (choosing on a quarter of the rows is cheap): carphone (17
# frames, Q1/3/5/7) BD-rate Y against format 11 -4.81 %, with 2, 4, 8 and linear only -4.46 %
TRY_CLIPS = CLIPS
NTAPS = len(OFFSETS)
SIZE = NTAPS + 1  # bytes of a one-class record
MAX_CLASSES = 4
_SUBSAMPLE = 4  # the encoder chooses the clip on every 4th band of 8 rows
REFIT = True  # then fits its coefficients on all rows (carphone -4.46 against -4.23 %)


@dataclass(frozen=True)
class LoopFilter:
    """One frame's filter: the index into CLIPS, per activity class 12 coefficients in 1/128,
    and the classes' lower activity thresholds (one fewer than classes)."""

    clip: int
    coeffs: tuple[tuple[int, ...], ...]
    thresholds: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return size(len(self.coeffs))

    def pack(self) -> bytes:
        return (np.asarray(self.coeffs, np.int8).tobytes()
                + struct.pack(f"<{len(self.thresholds)}H", *self.thresholds)
                + bytes([self.clip | (len(self.coeffs) - 1) << 3]))

    @classmethod
    def unpack(cls, data: bytes, at: int = 0) -> LoopFilter:
        """A whole record; ZVC69FormatError if malformed (offsets from `at`, where the record
        starts in its payload)."""
        if not data:
            raise ZVC69FormatError("empty loop filter record", at)
        last = data[-1]
        if last >> 5:
            raise ZVC69FormatError(f"loop filter byte {last:#04x} has reserved bits set",
                                   at + len(data) - 1)
        n = (last >> 3) + 1
        if len(data) != size(n):
            raise ZVC69FormatError(f"loop filter record of {len(data)} bytes for {n} classes "
                                   f"(not {size(n)})", at)
        coeffs = np.frombuffer(data[: n * NTAPS], np.int8).reshape(n, NTAPS)
        thresholds = struct.unpack_from(f"<{n - 1}H", data, n * NTAPS)
        if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
            raise ZVC69FormatError(f"loop filter thresholds {list(thresholds)} do not ascend",
                                   at + n * NTAPS)
        return cls(last & 7, tuple(tuple(int(c) for c in row) for row in coeffs), thresholds)

    @property
    def clip_value(self) -> int:
        return CLIPS[self.clip]

    def stats(self) -> tuple[int, tuple[tuple[int, ...], ...], tuple[int, ...]]:
        """(clip value, coefficients per class, thresholds) for FrameStats.loop_filter."""
        return self.clip_value, self.coeffs, self.thresholds

    @classmethod
    def of(cls, stats: tuple[int, tuple[tuple[int, ...], ...], tuple[int, ...]]
           ) -> LoopFilter:
        """The filter FrameStats.loop_filter describes."""
        return cls(CLIPS.index(stats[0]), tuple(tuple(c) for c in stats[1]), tuple(stats[2]))


def size(classes: int) -> int:
    """Bytes of a record with this many classes."""
    return classes * NTAPS + 2 * (classes - 1) + 1


def split(payload: bytes) -> tuple[bytes, LoopFilter]:
    """A filtered frame's payload -> (the payload before the record, the filter)."""
    n = (payload[-1] >> 3 & 3) + 1 if payload else 1
    if len(payload) < size(n):
        raise ZVC69FormatError(f"payload of {len(payload)} bytes is too short for its loop "
                               f"filter record ({size(n)} bytes)", 0)
    at = len(payload) - size(n)
    return payload[:at], LoopFilter.unpack(payload[at:], at)


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


def activity(frame: np.ndarray) -> np.ndarray:
    """(ceil(H / 4), ceil(W / 4)) int32: per 4x4 block the sum of |4 Y(p) - Y(p + (0, +-1))
    - Y(p + (+-1, 0))| over its pixels in the frame, Y = (77 R + 150 G + 29 B + 128) >> 8 and
    the frame's edges repeated."""
    f = frame.astype(np.int32)
    y = (77 * f[..., 0] + 150 * f[..., 1] + 29 * f[..., 2] + 128) >> 8
    p = np.pad(y, 1, mode="edge")
    lap = np.abs(4 * y - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:])
    h, w = y.shape
    hb, wb = -(-h // 4), -(-w // 4)
    lap = np.pad(lap, ((0, 4 * hb - h), (0, 4 * wb - w)))
    return lap.reshape(hb, 4, wb, 4).sum(axis=(1, 3), dtype=np.int32)


def _pixels(blocks: np.ndarray, h: int, w: int) -> np.ndarray:
    return blocks.repeat(4, axis=0).repeat(4, axis=1)[:h, :w]


def class_map(frame: np.ndarray, thresholds: tuple[int, ...]) -> np.ndarray:
    """(H, W) uint8 class of every pixel: how many thresholds its block's activity reaches."""
    act = activity(frame)
    cls = np.searchsorted(np.asarray(thresholds, np.int32), act, side="right")
    return _pixels(cls.astype(np.uint8), *frame.shape[:2])


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
        table = np.asarray(filt.coeffs, np.int32)  # (classes, 12)
        cmap = class_map(frame, filt.thresholds) if len(table) > 1 else None
        for y in range(0, h, _BAND):
            n = min(_BAND, h - y)
            band = p[:, y : y + n + 2 * r]
            c = band[:, r : r + n, r : r + w]
            acc = np.full(c.shape, 1 << SHIFT - 1, np.int32)
            cm = None if cmap is None else cmap[y : y + n]
            for j, (dy, dx) in enumerate(OFFSETS):
                if not table[:, j].any():
                    continue
                a = band[:, r + dy : r + n + dy, r + dx : r + w + dx] - c
                b = band[:, r - dy : r + n - dy, r - dx : r + w - dx] - c
                if clip < 255:
                    np.clip(a, -clip, clip, out=a)
                    np.clip(b, -clip, clip, out=b)
                a += b
                acc += (table[0, j] if cm is None else table[cm, j]) * a.astype(np.int32)
            acc >>= SHIFT
            acc += c
            out[y : y + n] = np.moveaxis(np.clip(acc, 0, 255), 0, -1)
        if bars is not None:
            top, bottom, left, right = bars
            kept = frame.copy()
            kept[top : h - bottom, left : w - right] = out[top : h - bottom, left : w - right]
            return kept
        return out


def _sample_rows(h: int, phase: int = 0) -> np.ndarray | None:
    """The rows the encoder fits on: every 4th band of 8 from band `phase` (all phases of the
    8x8 block grid, whose edges the detail layer and deblocking treat apart); None (all) in
    small frames."""
    if h < 64:
        return None
    ys = np.arange(h)
    return ys[(ys // 8) % _SUBSAMPLE == phase]


def _grouping(bins: np.ndarray, rows: np.ndarray | None, planes: int, nbins: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """The samples of `_features(..., rows)` sorted by activity bin: (order, bin ends)."""
    lab = np.tile(bins[slice(None) if rows is None else rows].ravel(), planes)
    order = np.argsort(lab, kind="stable")
    return order, np.searchsorted(lab[order], np.arange(nbins + 1))


def _target(frame: np.ndarray, source: np.ndarray, rows: np.ndarray | None,
            groups: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """source - frame on `rows` (None: all) in the order of `_features` (or of `groups`)."""
    sel = slice(None) if rows is None else rows
    t = np.moveaxis(source[sel].astype(np.float32) - frame[sel], -1, 0).ravel()
    return t if groups is None else t[groups[0]]


def _normals(p: np.ndarray, clip: int, rows: np.ndarray | None, t: np.ndarray,
             groups: tuple[np.ndarray, np.ndarray] | None = None
             ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The least-squares system (F^T F, F^T t) of the three channels of the padded frame `p`
    on `rows` (None: all), t from `_target`: one, or with `groups` (`_grouping`) one per
    activity bin."""
    f = _features(p, clip, rows)
    if groups is None:
        return [((f @ f.T).astype(np.float64), (f @ t).astype(np.float64))]
    order, ends = groups
    g = np.take(f.T, order, axis=0)  # (N, 12): each bin's samples contiguous
    out = []
    for lo, hi in zip(ends[:-1], ends[1:], strict=True):
        gj, tj = g[lo:hi], t[lo:hi]
        out.append(((gj.T @ gj).astype(np.float64), (tj @ gj).astype(np.float64)))
    return out


def _solve(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    c = np.linalg.solve(a + 1e-3 * np.eye(len(b)) * (1.0 + np.trace(a) / len(b)), b)
    return tuple(int(v) for v in np.clip(np.round(c * (1 << SHIFT)), -128, 127))


def _gain(a: np.ndarray, b: np.ndarray, coeffs: tuple[int, ...]) -> float:
    """SSE the rounded coefficients remove from the system's samples."""
    c = np.asarray(coeffs, np.float64) / (1 << SHIFT)
    return float(2 * c @ b - c @ a @ c)


def _sse(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.int32) - b
    return float(np.einsum("ijk,ijk->", d, d, dtype=np.int64))


Split = tuple[tuple[int, ...], list[list[int]]]  # thresholds, the activity bins of each class


def _options(act: np.ndarray, classes: tuple[int, ...]) -> tuple[tuple[int, ...], list[Split]]:
    """Activity bins (thresholds at the quartiles of the blocks' activity, each above the
    least) and the splits into `classes` classes to try: per split its thresholds and the bins
    of each class."""
    q = np.quantile(act, (0.25, 0.5, 0.75), method="lower").astype(int)
    edges = tuple(int(v) for v in np.unique(q) if v > act.min())
    nb = len(edges) + 1
    out: list[Split] = []
    for n in classes:
        if n == 1:
            out.append(((), [list(range(nb))]))
        elif n == 2 and nb >= 2:
            mid = len(edges) // 2
            out.append(((edges[mid],), [list(range(mid + 1)), list(range(mid + 1, nb))]))
        elif n == nb and n > 2:
            out.append((edges, [[j] for j in range(nb)]))
    return edges, out


def fit(frame: np.ndarray, source: np.ndarray, bits_per_sse: float,
        prof: Profiler | None = None, bars: Margins | None = None,
        classes: tuple[int, ...] = (1,)) -> tuple[LoopFilter, np.ndarray] | None:
    """The filter for reconstruction `frame` of `source` ((H, W, 3) uint8 each) and the frame
    it makes, or None when no filter saves more than its bits at `bits_per_sse` (bits per unit
    of 8-bit RGB SSE); `bars` as for `apply`; `classes`: the class counts to try (of 1, 2, 4;
    more than one only in frames of 64 rows or more)."""
    prof = prof or Profiler()
    with prof.stage("loop_filter_fit"):
        h = frame.shape[0]
        rows = _sample_rows(h)
        check = None
        fit_groups = check_groups = all_groups = None
        if rows is None or max(classes) == 1:  # one class, judged on the rows it is fitted on
            edges, options = (), [((), [[0]])]
        else:  # fitted on one quarter of the rows and judged on another: judged on the same
            # rows, more classes always look better than they are
            act = activity(frame)
            edges, options = _options(act, classes)
            bins = _pixels(np.searchsorted(np.asarray(edges, np.int32), act, side="right"),
                           *frame.shape[:2])
            check = _sample_rows(h, _SUBSAMPLE // 2)
            planes, nb = frame.shape[2], len(edges) + 1
            fit_groups = _grouping(bins, rows, planes, nb)
            check_groups = _grouping(bins, check, planes, nb)
            all_groups = _grouping(bins, None, planes, nb)
        scale = 1.0 if check is None else h / len(check)
        p = _padded(frame)  # (the padding and the targets serve every clip)
        t_fit = _target(frame, source, rows, fit_groups)
        t_check = None if check is None else _target(frame, source, check, check_groups)
        best: tuple[float, int, int] | None = None  # net bits, clip, option
        for clip in TRY_CLIPS:
            per_bin = _normals(p, clip, rows, t_fit, fit_groups)
            judge = per_bin if t_check is None else _normals(p, clip, check, t_check,
                                                             check_groups)
            for i, (_, groups) in enumerate(options):
                gain = 0.0
                for members in groups:
                    a = sum(per_bin[j][0] for j in members)
                    b = sum(per_bin[j][1] for j in members)
                    coeffs = _solve(a, b)
                    gain += _gain(sum(judge[j][0] for j in members),
                                  sum(judge[j][1] for j in members), coeffs)
                net = gain * scale * bits_per_sse - 8 * size(len(groups))
                if best is None or net > best[0]:
                    best = (net, clip, i)
        assert best is not None
        _, clip, i = best
        thresholds, groups = options[i]
        per_bin = (_normals(p, clip, None, _target(frame, source, None, all_groups),
                            all_groups) if REFIT
                   else _normals(p, clip, rows, t_fit, fit_groups))
        coeffs = tuple(_solve(sum(per_bin[j][0] for j in m), sum(per_bin[j][1] for j in m))
                       for m in groups)
        filt = LoopFilter(CLIPS.index(clip), coeffs, thresholds)
    if not any(any(c) for c in filt.coeffs):
        return None
    out = apply(frame, filt, prof, bars)
    src = source.astype(np.int32)
    saved = _sse(frame, src) - _sse(out, src)
    if saved * bits_per_sse <= 8 * filt.size:
        return None
    return filt, out
