"""P-frame payload: motion vectors, skip mask and residual latents, each its own section.

Format 4 layout: u8 quality level (bits 0-3) and flags (bits 4-6: residual, detail layer,
weights present), u8 motion byte (bit 0: 8x8 motion blocks, else 16x16; bits 1-2: vector
precision code 0, 1, 2 = integer, half, quarter pel), LEB128 varint sizes of the motion, skip
and z sections and, with a detail layer, of the y section, with weights the prediction
weights (weights.py, 6 bytes; from format 7 9 bytes, wider offsets, and with flag bit 7 8
more, a region; format 8: motion byte bit 3, the residual latents are coded as differences
from their spatial prediction, latent_prediction.py), then the sections in that order and
the detail section last (the last section runs to the end): 6 to 9 bytes of header where
format 3 had 16 to 26.

Format 13: motion byte bit 6, the frame's predictions sample the references with the 8-tap
filter (warp.SHARP8) instead of the cubic one. Format 14: P-frames may have 32x32 motion
blocks too (motion byte bit 5, as B-frames).

B-frames (format 9, frame type 2) use the same layout (motion byte bit 4: the vectors are
differences from their temporal prediction; bit 5: 32x32 motion blocks) with four more varints
after the motion byte: the display distances to the references before and after the frame and
the lengths of the backward motion section and the mode map (bipred.py); those two sections
follow the (forward) motion section.

Format 1-3 layout: u8 quality level, u8 motion block size (8 or 16), u8 vector
precision (1, 2, 4 = integer, half, quarter pel), u8 flags (bit 0: residual present, bit 1:
detail layer present), u32 sizes of the motion, skip and z sections, with bit 1 a u32 size of
the y section, with bit 2 the prediction weights (weights.py, 6 bytes), then the motion, skip,
z and y sections and the detail section (detail.py; the last section runs to the end). The side
information (motion and skip sections) decodes without the residual networks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import ZVC69FormatError
from .varint import pack_uvarint, read_uvarint
from .weights import SIZE as WEIGHTS_SIZE
from .weights import Weights
from .weights import size as weights_size

_HEAD = struct.Struct("<BBBBIII")
_U32 = struct.Struct("<I")
HAS_RESIDUAL = 1
HAS_DETAIL = 2
HAS_WEIGHTS = 4
HAS_REGION = 8  # format 7: the weights record carries a region (weights.py)
SPATIAL = 8  # motion byte, format 8: residual latents with spatial prediction
TEMPORAL = 16  # motion byte, B-frames: vectors predicted from the reference after (bipred)
BLOCK32 = 32  # motion byte, B-frames (P-frames from format 14): 32x32 motion blocks
SHARP = 64  # motion byte, format 13: the predictions use the 8-tap filter (warp.SHARP8)
SHARP_FROM = 13
P32_FROM = 14  # the format whose P-frames may have 32x32 motion blocks
_PREC_CODE = {1: 0, 2: 1, 4: 2}  # vector precision 1/p -> 2-bit code (format 4)
_PREC_OF_CODE = {v: k for k, v in _PREC_CODE.items()}


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
    layout: int = 4  # the format it was parsed from (3: format 1-3 header)
    spatial: bool = False  # format 8: residual latents coded with spatial prediction
    # B-frames (format 9): display distances to the references before and after the frame
    refs: tuple[int, int] | None = None
    mv_back_bytes: bytes = b""  # B-frames: the motion field towards the reference after
    mode_bytes: bytes = b""  # B-frames: per motion block forward, backward or both (bipred)
    temporal: bool = False  # B-frames: vectors coded as differences from the temporal prediction
    sharp: bool = False  # format 13: motion compensation with the 8-tap filter

    def _flags(self) -> int:
        return ((HAS_RESIDUAL if self.has_residual else 0)
                | (HAS_DETAIL if self.detail_bytes else 0)
                | (HAS_WEIGHTS if self.weights is not None else 0)
                | (HAS_REGION if self.weights is not None and self.weights.region else 0))

    def _head(self) -> bytes:
        """Format 4: u8 level | flags << 4, u8 precision code << 1 | (block == 8), varint
        lengths of the motion, skip, z (and, with a detail layer, y) sections, weights."""
        if self.sharp and self.layout < SHARP_FROM:
            raise ValueError(f"the 8-tap filter bit needs format {SHARP_FROM}, not {self.layout}")
        if self.mv_block == 32 and self.refs is None and self.layout < P32_FROM:
            raise ValueError(f"P-frames with 32x32 motion blocks need format {P32_FROM}, "
                             f"not {self.layout}")
        head = bytes([self.level | self._flags() << 4,
                      SHARP * self.sharp | BLOCK32 * (self.mv_block == 32)
                      | TEMPORAL * self.temporal
                      | SPATIAL * self.spatial | _PREC_CODE[self.precision] << 1
                      | (self.mv_block == 8)])
        if self.refs is not None:  # (format 10: one side section, in mv_bytes)
            if self.layout >= 10 and (self.mv_back_bytes or self.mode_bytes):
                raise ValueError("a format 10 B-frame carries its backward field and mode map "
                                 "in its side section (mv_bytes), not in sections of their own")
            extra = (len(self.mv_back_bytes), len(self.mode_bytes)) if self.layout < 10 else ()
            head += b"".join(pack_uvarint(x) for x in (*self.refs, *extra))
        lengths = [self.mv_bytes, self.skip_bytes, self.z_bytes]
        if self.detail_bytes:
            lengths.append(self.y_bytes)
        head += b"".join(pack_uvarint(len(x)) for x in lengths)
        return head + (self.weights.pack(self.layout) if self.weights is not None else b"")

    def pack(self) -> bytes:
        """Format 4 layout (`_head`, then the sections in order)."""
        return (self._head() + self.mv_bytes + self.mv_back_bytes + self.mode_bytes
                + self.skip_bytes + self.z_bytes + self.y_bytes
                + self.detail_bytes)

    def _head_v3(self) -> bytes:
        """Format 1-3: u8 level, block, precision, flags, u32 lengths, weights."""
        head = _HEAD.pack(self.level, self.mv_block, self.precision, self._flags(),
                          len(self.mv_bytes), len(self.skip_bytes), len(self.z_bytes))
        if self.detail_bytes:
            head += _U32.pack(len(self.y_bytes))
        return head + (self.weights.pack() if self.weights is not None else b"")

    def pack_v3(self) -> bytes:
        """Format 1-3 layout (`_head_v3`, then the sections in order)."""
        return (self._head_v3() + self.mv_bytes + self.skip_bytes + self.z_bytes + self.y_bytes
                + self.detail_bytes)

    @classmethod
    def unpack(cls, data: bytes, version: int = 4, bidir: bool = False) -> InterPayload:
        """Parse a P-frame (`bidir`: B-frame) payload of a format `version` stream."""
        if bidir and version < 9:
            raise ZVC69FormatError(f"a B-frame in a format {version} stream (9.0 and later "
                                   "only)", 0)
        if version < 4:
            return cls._unpack_v3(data)
        if len(data) < 2:
            raise ZVC69FormatError(f"P-frame payload of {len(data)} bytes is too short", 0)
        level, flags = data[0] & 15, data[0] >> 4
        if not 1 <= level <= 8:
            raise ZVC69FormatError(f"P-frame quality level {level} is not in 1..8", 0)
        known = HAS_RESIDUAL | HAS_DETAIL | HAS_WEIGHTS | (HAS_REGION if version >= 7 else 0)
        if flags & ~known or (flags & HAS_REGION and not flags & HAS_WEIGHTS):
            raise ZVC69FormatError(f"P-frame flags {flags:#x} name unknown sections", 0)
        spatial = bool(data[1] & SPATIAL)
        temporal = bidir and bool(data[1] & TEMPORAL)
        sharp = version >= SHARP_FROM and bool(data[1] & SHARP)
        if data[1] & SHARP and not sharp:
            raise ZVC69FormatError(f"P-frame motion byte {data[1]:#x} has the 8-tap filter bit "
                                   f"of format {SHARP_FROM} in a format {version} stream", 1)
        if data[1] & BLOCK32 and not bidir and version < P32_FROM:
            raise ZVC69FormatError(f"P-frame motion byte {data[1]:#x} has 32x32 motion blocks, "
                                   f"which P-frames have from format {P32_FROM}, in a format "
                                   f"{version} stream", 1)
        bits = (TEMPORAL if bidir else 0) | BLOCK32 | (SHARP if sharp else 0)
        if ((data[1] & ~bits) >> 4
                or data[1] & BLOCK32 and data[1] & 1
                or (data[1] >> 1 & 3) not in _PREC_OF_CODE
                or spatial and (version < 8 or not flags & HAS_RESIDUAL)):
            raise ZVC69FormatError(f"P-frame motion byte {data[1]:#x} is not valid", 1)
        block = 8 if data[1] & 1 else 32 if data[1] & BLOCK32 else 16
        prec = _PREC_OF_CODE[data[1] >> 1 & 3]
        p, lengths = 2, []
        refs, bi = None, [0, 0]
        if bidir:
            back, p = read_uvarint(data, p, "B-frame reference distance")
            fwd, p = read_uvarint(data, p, "B-frame reference distance")
            if not (1 <= back <= 255 and 1 <= fwd <= 255):
                raise ZVC69FormatError(f"B-frame reference distances {back}, {fwd} are not "
                                       "in 1..255", 2)
            refs = (back, fwd)
            for i, name in enumerate(("backward motion", "mode map") if version < 10 else ()):
                bi[i], p = read_uvarint(data, p, f"B-frame {name} length")
        for name in ("motion", "skip map", "z", "y")[: 4 if flags & HAS_DETAIL else 3]:
            n, p = read_uvarint(data, p, f"P-frame {name} length")
            lengths.append(n)
        weights = None
        if flags & HAS_WEIGHTS:  # Weights.unpack names a short field
            n = weights_size(version, bool(flags & HAS_REGION))
            weights = Weights.unpack(data[p : p + n], version, bool(flags & HAS_REGION))
            p += n
        if p + sum(lengths) + sum(bi) > len(data):
            raise ZVC69FormatError(f"P-frame sections ({p + sum(lengths) + sum(bi)} bytes) "
                                   f"run past the payload ({len(data)} bytes)", p)
        parts = []
        for n in (lengths[0], *bi, *lengths[1:]):
            parts.append(data[p : p + n])
            p += n
        if not flags & HAS_DETAIL:
            parts.append(data[p:])
            p = len(data)
        mv_bytes, back_bytes, mode_bytes = parts[:3]
        return cls(level, block, prec, mv_bytes, *parts[3:6], bool(flags & HAS_RESIDUAL),
                   data[p:], weights, layout=version, spatial=spatial, refs=refs,
                   mv_back_bytes=back_bytes, mode_bytes=mode_bytes, temporal=temporal,
                   sharp=sharp)

    @classmethod
    def _unpack_v3(cls, data: bytes) -> InterPayload:
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
            return cls(level, block, prec, mv, skip, z, data[p:], has_res, weights=weights,
                       layout=3)
        return cls(level, block, prec, mv, skip, z, data[p : p + n_y], has_res, data[p + n_y :],
                   weights, layout=3)

    def bits(self) -> dict[str, int]:
        head = self._head() if self.layout >= 4 else self._head_v3()
        motion = len(self.mv_bytes) + len(self.mv_back_bytes) + len(self.mode_bytes)
        return {"header": 8 * len(head), "motion": 8 * motion,
                "skip": 8 * len(self.skip_bytes), "hyperprior": 8 * len(self.z_bytes),
                "residual": 8 * len(self.y_bytes), "detail": 8 * len(self.detail_bytes)}
