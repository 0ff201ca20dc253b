"""Flat bars around the picture (letterbox, pillarbox): found by the encoder, sent as numbers.

Films shown in a wider or narrower frame carry flat black bars. A learned intra coder pays
dearly for the straight, sharp edge between a bar and the picture (sintel at 854x480: its two
edges took 57 % of the keyframe's latent bits at level 2), while the bars themselves need no
transform at all. From format 6.0 an I-frame may carry a `Bars` record: the widths of the bars
on each side and their one RGB colour. The intra coder then codes only the inner rectangle and
the decoder fills the rest with the colour. P-frames predict the bars like any other pixels.

Detection (`find_bars`, encoder only): the colour is the per-channel median of the four corner
pixels (so a bar on one side only, whose far corners show the picture, is usually not found);
a line (row or column, from each edge inwards) belongs to a bar while its mean absolute
difference from the colour is at most MEAN_TOL and no pixel differs by more than MAX_TOL. A
side's bar counts from MIN_BAR such lines on; then up to EDGE_LINES lines of the ringing that
compressed sources carry next to the picture join it (mean difference up to EDGE_MEAN_TOL): the
picture must start at its own edge, or the intra coder blurs the step two dark lines inside it.
The inner rectangle keeps at least MIN_INNER lines each way.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import ZVC69FormatError

MEAN_TOL = 2.0
MAX_TOL = 32
MIN_BAR = 8
MIN_INNER = 16
EDGE_LINES = 4  # after a bar, lines of ringing (mean difference <= EDGE_MEAN_TOL) join it
EDGE_MEAN_TOL = 12.0
_CHUNK = 32  # lines compared at a time
_REC = struct.Struct("<HHHHBBB")


@dataclass(frozen=True)
class Bars:
    """Bar widths in pixels (top, bottom, left, right) and their RGB colour."""

    top: int
    bottom: int
    left: int
    right: int
    colour: tuple[int, int, int]

    SIZE = _REC.size  # bytes of the packed record

    def pack(self) -> bytes:
        return _REC.pack(self.top, self.bottom, self.left, self.right, *self.colour)

    @classmethod
    def unpack(cls, data: bytes, height: int | None = None, width: int | None = None,
               offset: int = 0) -> Bars:
        """Parse a record; ZVC69FormatError when it is cut short or, given the frame size,
        when the bars leave no picture in a (height, width) frame."""
        if len(data) != _REC.size:
            raise ZVC69FormatError(f"bars record of {len(data)} bytes, expected {_REC.size}",
                                   offset)
        t, b, left, right, r, g, bl = _REC.unpack(data)
        if height is not None and width is not None and (t + b >= height
                                                          or left + right >= width):
            raise ZVC69FormatError(f"bars {t}+{b} x {left}+{right} px leave no picture in a "
                                   f"{width}x{height} frame", offset)
        return cls(t, b, left, right, (r, g, bl))

    @property
    def sides(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) in pixels, as FrameStats.bars reports them."""
        return self.top, self.bottom, self.left, self.right

    def inner_shape(self, height: int, width: int) -> tuple[int, int]:
        return height - self.top - self.bottom, width - self.left - self.right

    def crop(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        return np.ascontiguousarray(frame[self.top : h - self.bottom, self.left : w - self.right])

    def paste(self, inner: np.ndarray, height: int, width: int) -> np.ndarray:
        """The (height, width, 3) uint8 frame: the colour, with `inner` at its place."""
        out = np.empty((height, width, 3), np.uint8)
        out[:] = np.array(self.colour, np.uint8)
        out[self.top : height - self.bottom, self.left : width - self.right] = inner
        return out

    def place_bits(self, bits: np.ndarray, height: int, width: int, block: int,
                   grid: tuple[int, int]) -> np.ndarray:
        """Bits per `block`-pixel position of the inner rectangle's latent grid -> the same
        total spread over the whole frame's `grid` (what the analyzer draws per block)."""
        ih, iw = self.inner_shape(height, width)
        px = np.repeat(np.repeat(bits.astype(np.float64), block, 0), block, 1)[:ih, :iw]
        total, kept = float(bits.sum()), float(px.sum())
        if kept > 0:
            px *= total / kept  # latents in the inner padding: their bits go to the picture
        full = np.zeros((grid[0] * block, grid[1] * block))
        full[self.top : self.top + ih, self.left : self.left + iw] = px
        return full.reshape(grid[0], block, grid[1], block).sum((1, 3)).astype(np.float32)


def _leading(ok: np.ndarray) -> int:
    return int(np.argmin(ok)) if not ok.all() else len(ok)


def _run(lines: np.ndarray, colour: np.ndarray, limit: int) -> int:
    """How many of `lines` (n, length, 3), from the first on, belong to a bar of `colour`:
    at least MIN_BAR flat ones, then up to EDGE_LINES of ringing. Reads the lines in chunks
    and stops at the first that does not belong (a picture costs one chunk)."""
    def diff(start: int, stop: int) -> np.ndarray:
        return np.abs(lines[start : min(stop, limit)].astype(np.int16) - colour)

    n = 0
    for start in range(0, limit, _CHUNK):
        d = diff(start, start + _CHUNK)
        flat = _leading((d.mean((1, 2)) <= MEAN_TOL) & (d.max((1, 2)) <= MAX_TOL))
        n += flat
        if flat < len(d):
            break
    if n < MIN_BAR:
        return 0
    return n + _leading(diff(n, n + EDGE_LINES).mean((1, 2)) <= EDGE_MEAN_TOL)


def find_bars(frame: np.ndarray) -> Bars | None:
    """The flat bars of an (H, W, 3) uint8 frame, or None when it has none."""
    h, w = frame.shape[:2]
    if h < MIN_INNER + MIN_BAR or w < MIN_INNER + MIN_BAR:
        return None
    corners = frame[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.int16)
    colour = np.median(corners, axis=0).astype(np.int16)
    rows = (h - MIN_INNER) // 2
    cols = (w - MIN_INNER) // 2
    top = _run(frame, colour, rows)
    bottom = _run(frame[::-1], colour, rows)
    left = _run(frame.transpose(1, 0, 2), colour, cols)
    right = _run(frame.transpose(1, 0, 2)[::-1], colour, cols)
    if not top + bottom + left + right:
        return None
    return Bars(top, bottom, left, right, tuple(int(c) for c in colour))  # type: ignore[arg-type]


def shared_bars(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the bars two frames share: both have bars of one colour
    (within MAX_TOL / 16 per channel), per side the narrower; None otherwise. Format 7
    P-frames leave these unweighted in a fade (codec.weights)."""
    ba, bb = find_bars(a), find_bars(b)
    if ba is None or bb is None:
        return None
    if max(abs(x - y) for x, y in zip(ba.colour, bb.colour, strict=True)) > MAX_TOL // 16:
        return None
    sides = tuple(min(x, y) for x, y in zip(ba.sides, bb.sides, strict=True))
    return sides if any(sides) else None  # type: ignore[return-value]
