"""Weighted prediction: a per-channel gain and offset applied to a P-frame's reference.

Motion compensation copies brightness along with texture, so in a fade (to or from black, or a
slow change of exposure) every block's prediction is off by the same factor and the residual
coders pay for it in every frame. As in H.264's explicit weighted prediction, the encoder
sends, per RGB channel, a weight w (1/64 units, 1..255) and an offset o (-128..127); the
decoder predicts from ref' = clip(((ref * w + 32) >> 6) + o, 0, 255), integers only, before
the motion search's field is applied. The encoder estimates them from the frames' channel means
and keeps them when they cut the zero-motion prediction error by at least 10 %.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import ZVC69FormatError

FRAC = 6  # weights in 1/64
_PACK = struct.Struct("<BBBbbb")
SIZE = _PACK.size
MIN_GAIN = 0.9  # use weights only when they leave at most this share of the error


@dataclass(frozen=True)
class Weights:
    w: tuple[int, int, int]
    o: tuple[int, int, int]

    def pack(self) -> bytes:
        return _PACK.pack(*self.w, *self.o)

    @classmethod
    def unpack(cls, data: bytes) -> Weights:
        if len(data) != SIZE:
            raise ZVC69FormatError(f"prediction weights need {SIZE} bytes, not {len(data)}", 0)
        v = _PACK.unpack(data)
        if min(v[:3]) == 0:
            raise ZVC69FormatError("prediction weight of zero", 0)
        return cls((v[0], v[1], v[2]), (v[3], v[4], v[5]))


def apply(ref: np.ndarray, weights: Weights) -> np.ndarray:
    """(H, W, 3) uint8 reference -> weighted reference, uint8 (exact integer arithmetic)."""
    w = np.array(weights.w, np.int32)
    o = np.array(weights.o, np.int32)
    x = ((ref.astype(np.int32) * w + (1 << (FRAC - 1))) >> FRAC) + o
    return np.clip(x, 0, 255).astype(np.uint8)


def estimate(frame: np.ndarray, ref: np.ndarray) -> Weights | None:
    """Weights that map ref's channel means onto frame's, or None when they do not help."""
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
