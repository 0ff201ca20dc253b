"""P-frame payload: motion vectors, skip mask and residual latents, each its own section.

Layout: u8 quality level, u8 motion block size (8 or 16), u8 vector precision (1, 2, 4 =
integer, half, quarter pel), u8 flags (bit 0: residual present, bit 1: detail layer present),
u32 sizes of the motion, skip and z sections, with bit 1 a u32 size of the y section, with bit
2 the prediction weights (weights.py, 6 bytes), then the motion, skip, z and y sections and the
detail section (detail.py; the last section runs to the end). The side information (motion
and skip sections) decodes without the residual networks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import ZVC69FormatError
from .weights import SIZE as WEIGHTS_SIZE
from .weights import Weights

_HEAD = struct.Struct("<BBBBIII")
_U32 = struct.Struct("<I")
HAS_RESIDUAL = 1
HAS_DETAIL = 2
HAS_WEIGHTS = 4


@dataclass
class InterPayload:
    level: int
    mv_block: int
    precision: int
    mv_bytes: bytes
    skip_bytes: bytes
    z_bytes: bytes
    y_bytes: bytes
    has_residual: bool
    detail_bytes: bytes = b""  # detail.DetailSection, packed; empty: no detail layer
    weights: Weights | None = None  # weighted prediction (weights.py); None: plain reference

    def pack(self) -> bytes:
        flags = ((HAS_RESIDUAL if self.has_residual else 0)
                 | (HAS_DETAIL if self.detail_bytes else 0)
                 | (HAS_WEIGHTS if self.weights is not None else 0))
        head = _HEAD.pack(self.level, self.mv_block, self.precision, flags, len(self.mv_bytes),
                          len(self.skip_bytes), len(self.z_bytes))
        if self.detail_bytes:
            head += _U32.pack(len(self.y_bytes))
        if self.weights is not None:
            head += self.weights.pack()
        return (head + self.mv_bytes + self.skip_bytes + self.z_bytes + self.y_bytes
                + self.detail_bytes)

    @classmethod
    def unpack(cls, data: bytes) -> InterPayload:
        if len(data) < _HEAD.size:
            raise ZVC69FormatError(f"P-frame payload of {len(data)} bytes is too short", 0)
        level, block, prec, flags, n_mv, n_skip, n_z = _HEAD.unpack_from(data)
        if not 1 <= level <= 8:
            raise ZVC69FormatError(f"P-frame quality level {level} is not in 1..8", 0)
        if block not in (8, 16):
            raise ZVC69FormatError(f"P-frame motion block size {block} is not 8 or 16", 1)
        if prec not in (1, 2, 4):
            raise ZVC69FormatError(f"P-frame vector precision 1/{prec} is not 1, 1/2 or 1/4", 2)
        if flags & ~(HAS_RESIDUAL | HAS_DETAIL | HAS_WEIGHTS):
            raise ZVC69FormatError(f"P-frame flags {flags:#x} name unknown sections", 3)
        p = _HEAD.size
        n_y = None
        if flags & HAS_DETAIL:
            if len(data) < p + _U32.size:
                raise ZVC69FormatError("P-frame payload is too short for its detail layer", p)
            (n_y,) = _U32.unpack_from(data, p)
            p += _U32.size
        weights = None
        if flags & HAS_WEIGHTS:
            weights = Weights.unpack(data[p : p + WEIGHTS_SIZE])
            p += WEIGHTS_SIZE
        end = p + n_mv + n_skip + n_z + (n_y or 0)
        if end > len(data):
            raise ZVC69FormatError(f"P-frame sections ({end} bytes) run past the payload "
                                   f"({len(data)} bytes)", 4)
        mv, p = data[p : p + n_mv], p + n_mv
        skip, p = data[p : p + n_skip], p + n_skip
        z, p = data[p : p + n_z], p + n_z
        has_res = bool(flags & HAS_RESIDUAL)
        if n_y is None:
            return cls(level, block, prec, mv, skip, z, data[p:], has_res, weights=weights)
        return cls(level, block, prec, mv, skip, z, data[p : p + n_y], has_res, data[p + n_y :],
                   weights)

    def bits(self) -> dict[str, int]:
        head = _HEAD.size + (_U32.size if self.detail_bytes else 0) + (
            WEIGHTS_SIZE if self.weights is not None else 0)
        return {"header": 8 * head, "motion": 8 * len(self.mv_bytes),
                "skip": 8 * len(self.skip_bytes), "hyperprior": 8 * len(self.z_bytes),
                "residual": 8 * len(self.y_bytes), "detail": 8 * len(self.detail_bytes)}
