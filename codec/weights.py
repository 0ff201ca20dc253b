"""Weighted prediction: a per-channel gain and offset applied to a P-frame's reference.

Motion compensation copies brightness along with texture, so in a fade (to or from black, or a
slow change of exposure) every block's prediction is off by the same factor and the residual
coders pay for it in every frame. As in H.264's explicit weighted prediction, the encoder
sends, per RGB channel, a weight w (1/64 units, 1..255) and an offset o (-128..127); the
decoder predicts from ref' = clip(((ref * w + 32) >> 6) + o, 0, 255), integers only, before
the motion search's field is applied. The encoder estimates them from the frames' channel means
and keeps them when they cut the zero-motion prediction error by at least 10 %.

Format 7 widens the record to 9 bytes (`<BBBhhh`): offsets -255..255, so a fade to a bright
colour (w near 0, o near the colour) is expressible; with the P-frame's region flag 8 more
bytes (`<HHHH`) follow: margins (top, bottom, left, right) in pixels outside which the
reference stays plain, so a letterboxed picture can fade while its black bars stay black.
The format 7 encoder fits w and o per channel by least squares of the frame against the
plain reference's motion-compensated prediction, over the whole frame and over the picture
inside the bars both frames share (`codec.bars.shared_bars`), and keeps the fit that leaves
the least prediction error, if it cuts that error by 10 %.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import ZVC69FormatError
from .stats import WeightsInfo

FRAC = 6  # weights in 1/64
_PACK = struct.Struct("<BBBbbb")
_PACK_V7 = struct.Struct("<BBBhhh")
_REGION = struct.Struct("<HHHH")
SIZE = _PACK.size  # formats 1-6
MAX_OFFSET_V7 = 255
MIN_GAIN = 0.9  # use weights only when they leave at most this share of the error


@dataclass(frozen=True)
class Weights:
    w: tuple[int, int, int]
    o: tuple[int, int, int]
    # format 7: (top, bottom, left, right) margins in pixels left unweighted; None: whole frame
    region: tuple[int, int, int, int] | None = None

    def pack(self, version: int = 6) -> bytes:
        if version < 7:
            return _PACK.pack(*self.w, *self.o)
        out = _PACK_V7.pack(*self.w, *self.o)
        return out + (_REGION.pack(*self.region) if self.region is not None else b"")

    @classmethod
    def unpack(cls, data: bytes, version: int = 6, region: bool = False) -> Weights:
        """Parse a record of a format `version` stream (region: the P-frame's region flag)."""
        need = size(version, region)
        if len(data) != need:
            raise ZVC69FormatError(f"prediction weights need {need} bytes, not {len(data)}", 0)
        v = (_PACK_V7 if version >= 7 else _PACK).unpack_from(data)
        if min(v[:3]) == 0:
            raise ZVC69FormatError("prediction weight of zero", 0)
        if max(abs(x) for x in v[3:6]) > MAX_OFFSET_V7:
            raise ZVC69FormatError("prediction offset outside -255..255", 3)
        margins = _REGION.unpack_from(data, _PACK_V7.size) if region else None
        return cls((v[0], v[1], v[2]), (v[3], v[4], v[5]), margins)

    def stats(self) -> WeightsInfo:
        """(gains, offsets, region) as FrameStats.weights reports them."""
        return tuple(w / (1 << FRAC) for w in self.w), self.o, self.region


def size(version: int, region: bool = False) -> int:
    """Bytes of the weights record in a format `version` stream."""
    if version < 7:
        return SIZE
    return _PACK_V7.size + (_REGION.size if region else 0)


def _weigh(ref: np.ndarray, w: np.ndarray, o: np.ndarray) -> np.ndarray:
    x = ((ref.astype(np.int32) * w + (1 << (FRAC - 1))) >> FRAC) + o
    return np.clip(x, 0, 255).astype(np.uint8)


def apply(ref: np.ndarray, weights: Weights) -> np.ndarray:
    """(H, W, 3) uint8 reference -> weighted reference, uint8 (exact integer arithmetic).

    ZVC69FormatError if the region's margins leave no picture."""
    w = np.array(weights.w, np.int32)
    o = np.array(weights.o, np.int32)
    if weights.region is None:
        return _weigh(ref, w, o)
    top, bottom, left, right = weights.region
    h, wd = ref.shape[:2]
    if top + bottom >= h or left + right >= wd:
        raise ZVC69FormatError(f"prediction weights' region (margins {weights.region}) leaves "
                               f"nothing of a {wd}x{h} frame", 0)
    out = ref.copy()
    inner = (slice(top, h - bottom), slice(left, wd - right))
    out[inner] = _weigh(ref[inner], w, o)
    return out


def estimate(frame: np.ndarray, ref: np.ndarray) -> Weights | None:
    """Weights that map ref's channel means onto frame's, or None when they do not help
    (formats 1-6)."""
    ms = frame.reshape(-1, 3).mean(0)
    mr = ref.reshape(-1, 3).mean(0)
    w, o = [], []
    for c in range(3):
        wc = 64 if mr[c] < 1.0 else int(np.clip(round(64 * ms[c] / mr[c]), 1, 255))
        w.append(wc)
        o.append(int(np.clip(round(ms[c] - mr[c] * wc / 64), -128, 127)))
    weights = Weights((w[0], w[1], w[2]), (o[0], o[1], o[2]))
    if weights.w == (64, 64, 64) and weights.o == (0, 0, 0):
        return None
    sub = (slice(None, None, 2), slice(None, None, 2))  # every 4th pixel is plenty
    f = frame[sub].astype(np.int32)
    plain = float(np.sum((f - ref[sub]) ** 2))
    weighted = float(np.sum((f - apply(ref[sub], weights)) ** 2))
    return weights if weighted < MIN_GAIN * plain else None


def _fit(frame: np.ndarray, pred: np.ndarray) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Least-squares (w, o) per channel of frame ~ w * pred + o, quantised as the format 7
    record carries them."""
    w, o = [], []
    for c in range(3):
        a = pred[..., c].astype(np.float64).ravel()
        b = frame[..., c].astype(np.float64).ravel()
        va = a.var()
        wc = 1.0 if va < 1e-6 else float(np.mean((a - a.mean()) * (b - b.mean())) / va)
        wi = int(np.clip(round(64 * wc), 1, 255))
        w.append(wi)
        o.append(int(np.clip(round(float(np.mean(b - a * wi / 64))), -MAX_OFFSET_V7,
                             MAX_OFFSET_V7)))
    return (w[0], w[1], w[2]), (o[0], o[1], o[2])


def estimate_v7(frame: np.ndarray, pred: np.ndarray,
                region: tuple[int, int, int, int] | None) -> Weights | None:
    """Format 7 weights for a frame whose motion-compensated prediction from the plain
    reference is pred; region: margins of the picture inside flat bars, or None. Of the fits
    over the whole frame and over the region, the one that leaves the least prediction error;
    None when neither cuts it by 1 - MIN_GAIN."""
    h, wd = frame.shape[:2]
    fi = frame[::2, ::2].astype(np.int32)  # every 4th pixel is plenty
    ps = pred[::2, ::2]
    best, best_err = None, MIN_GAIN * float(np.sum((fi - ps) ** 2))
    for reg in (None, region) if region is not None and any(region) else (None,):
        top, bottom, left, right = reg or (0, 0, 0, 0)
        inner = (slice(top, h - bottom, 2), slice(left, wd - right, 2))
        w, o = _fit(frame[inner], pred[inner])
        if w == (64, 64, 64) and o == (0, 0, 0):
            continue
        cand = Weights(w, o, reg)
        weighted = _weigh(ps, np.array(w, np.int32), np.array(o, np.int32))
        if reg is not None:  # apply()'s region, on the sampled grid
            rows, cols = np.arange(0, h, 2), np.arange(0, wd, 2)
            inside = (((rows >= top) & (rows < h - bottom))[:, None]
                      & ((cols >= left) & (cols < wd - right))[None, :])
            weighted = np.where(inside[..., None], weighted, ps)
        err = float(np.sum((fi - weighted) ** 2))
        if err < best_err:
            best, best_err = cand, err
    return best
