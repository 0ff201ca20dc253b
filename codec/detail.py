"""P-frame detail layer: what the learned residual coder leaves, coded with an 8x8 block transform.

The learned residual coder (residual.py) has a ceiling: its transforms reconstruct a residual
to about 33 dB even unquantised (M = 128 latents per 16x16 block), so at the top levels it
pays more and more bits for almost nothing. After it, the encoder codes the remaining error
(source - learned reconstruction) with an orthonormal colour rotation (a luma axis and two
chroma axes) and an 8x8 DCT per axis, uniform quantisation with a dead zone, and constriction's
ANS coder with fixed integer Laplace tables (zero mean; one scale per axis and frequency band,
chosen by the encoder and sent; resources/models/detail_tables.npz is part of the format). A
per-block flag map (coded like the skip mask, skip.py) says which 8x8 blocks carry
coefficients; blocks whose coefficients buy less distortion than their bits cost, at the
level's lambda, send none.

Reconstruction is integer arithmetic only (dequantise, inverse DCT and colour rotation with
12-bit fixed-point matrices, rounding shifts), so the decoder adds exactly the encoder's
detail on every machine. The quantiser step follows the level's lambda as an H.264 encoder's
does (lambda = 0.136 step^2 per bit, `step_for_level`; format 5 steps are 0.84 times that,
`STEPS16`). In format 5 the frame is then deblocked (deblock.py).

Format 11 lets a flagged block be coded as four 4x4 transforms instead of one 8x8 (a per-block
choice, made by the encoder at the level's lambda): residuals at edges and in fine texture cost
fewer bits there. Its coefficients sit in the 8x8 block's layout, each 4x4 block in its quadrant,
so coefficient coding and contexts stay as they are; its scale indexes come from a second set
of bands, by frequency inside the 4x4 block (`BANDS4`).

Format 15 lets the four flagged blocks of a 16x16 region, or the sixteen of a 32x32 one, be
coded as one 16x16 or 32x32 transform (per-region choices, made on top of the 8x8/4x4 one at
the same lambda, 16x16 first): a smooth residual of low amplitude, which 8x8 blocks each drop
or pay a DC for, costs a few low frequencies there. The coefficients are laid out over the
region's blocks by quadrant, with a set of scales per region size by frequency (`BANDS16`,
`BANDS32`); the deblocking filter skips the edges inside a region. Format 17 adds 64x64
regions (sixty-four blocks, one 64-point transform, `BANDS64`), chosen after the others.

Layouts (docs/BITSTREAM.md): format 3, u16 luma step, u16 chroma step (1/16 pixel units),
NBANDS x 3 u8 scale indexes (axis-major), u32 length of the block-flag map, the map (skip.py
format, True = no coefficients), then the ANS words of the coefficients of the flagged blocks
(block-major, then axis, row, column). Formats 4-17: a level byte (bit 4: the level's format 4
steps; bit 5, format 11: the section has 4x4 blocks), the 6-bit scale indexes (a second set for
4x4 blocks with bit 5, then one for 16x16 regions with bit 6 and one for 32x32 regions with bit
7, format 15), a varint map length and the map, then varint lengths and maps (`encode_split`)
of the 32x32 regions (bit 7) among those whose blocks are all flagged, of the 16x16 regions
(bit 6) among the others whose blocks are all flagged, and of the 4x4 blocks (bit 5) among the
other flagged blocks, then the coefficients diagonal by diagonal. Format 16: in a grey frame
(codec.grey, said by its frame header) every set holds the luma axis's scales alone and only
the luma coefficients are coded (the chroma axes drop out of a grey reconstruction). Format
17: the level byte holds level - 1 in bits 0-2 and bit 3 flags 64x64 regions, whose scales
follow the 32x32 ones' and whose map comes first. Format 18 (file header flag YCC_AXES): the
colour axes are BT.601's Y, Cb and Cr directions (`AXES_YCC`, not orthogonal: the encoder
prices distortion through their Gram matrix) instead of the rotation, whose luma axis tinted
every luma correction; the section's layout is unchanged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import constriction
import numpy as np

from . import entropy
from .bside import PROBS, _codes, _nibbles, _unnibble
from .errors import ZVC69FormatError
from .grey import SSE_PER_LUMA_SSE
from .models import format_tables_path
from .profiler import Profiler
from .quant import LAMBDAS, SCALE_INDEX_STEP, SCALE_LEVELS, SCALE_LOG_BASE
from .regions import (
    FREQ16,
    FREQ32,
    FREQ64,
    KIND_4X4,
    KIND_8X8,
    KIND_16,
    KIND_32,
    KIND_64,
    SIZES,
    TRANSFORM16_FROM,
    TRANSFORM64_FROM,
    WIDE,
    WIDE32,
    WIDE64,
    region_blocks,
    transform_map,
    whole_regions,
)
from .skip import _BERNOULLI, _contexts, _order, decode_mask, decode_skip, encode_skip
from .varint import pack_uvarint, read_uvarint

B = 8  # transform block size
NBANDS = 6
# Frequency band of coefficient (u, v): by u + v, 0 | 1 | 2 | 3-4 | 5-7 | 8-14.
_BAND_OF_SUM = np.array([0, 1, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5])
BANDS = _BAND_OF_SUM[np.add.outer(np.arange(B), np.arange(B))]
# 8-point DCT-II, orthonormal, times 4096 (rounded): the decoder's transform, in integers.
_D_INT = np.array([
    [1448, 1448, 1448, 1448, 1448, 1448, 1448, 1448],
    [2009, 1703, 1138, 400, -400, -1138, -1703, -2009],
    [1892, 784, -784, -1892, -1892, -784, 784, 1892],
    [1703, -400, -2009, -1138, 1138, 2009, 400, -1703],
    [1448, -1448, -1448, 1448, 1448, -1448, -1448, 1448],
    [1138, -2009, 400, 1703, -1703, -400, 2009, -1138],
    [784, -1892, 1892, -784, -784, 1892, -1892, 784],
    [400, -1138, 1703, -2009, 2009, -1703, 1138, -400],
], np.int64)
# Colour rotation (rows: luma axis along BT.601 weights, two orthogonal chroma axes) x 4096.
_T_INT = np.array([[1832, 3596, 698], [2588, -718, -3093], [-2593, 1824, -2593]], np.int64)
# Format 18 (file header flag codec.container.YCC_AXES): axes whose rows, the RGB directions
# the decoder adds a coefficient along, are BT.601's Y, Cb and Cr, each of unit length x 4096:
# grey (1, 1, 1) / sqrt(3), and the inverse matrix's Cb (0, -0.344, 1.772) and Cr (1.402,
# -0.714, 0) columns, so a luma coefficient changes no chroma plane and a chroma coefficient no
# luma. Format 17's luma axis (along the BT.601 weights) tinted every luma correction (a unit
# of Y moved Cb by -0.42 and Cr by -0.24), which its coarser chroma steps left uncorrected.
YCC_FROM = 18
_T_YCC_INT = np.array([[2365, 2365, 2365], [0, -781, 4021], [3650, -1859, 0]], np.int64)
_D_INT_F = _D_INT.astype(np.float64)
# Format 11: the 4-point DCT-II, orthonormal, times 4096, applied to each quadrant of an 8x8
# block at once (block-diagonal), and the bands of its coefficients by u + v inside the 4x4.
TRANSFORM4_FROM = 11
SPLIT = 0x20  # level byte bit: the section has blocks coded as four 4x4 transforms
_C4_INT = np.array([[2048, 2048, 2048, 2048], [2676, 1108, -1108, -2676],
                    [2048, -2048, -2048, 2048], [1108, -2676, 2676, -1108]], np.int64)
_D4_INT_F = np.kron(np.eye(2), _C4_INT.astype(np.float64))
BANDS4 = _BAND_OF_SUM[np.add.outer(np.arange(B) % 4, np.arange(B) % 4)]
# Format 15's regions (codec/regions.py): bands by the 8x8 frequency each coefficient stands for.
BANDS16, BANDS32, BANDS64 = _BAND_OF_SUM[FREQ16], _BAND_OF_SUM[FREQ32], _BAND_OF_SUM[FREQ64]
# Region sizes: blocks per side, first kind, forward and inverse matrices, bands.
REGIONS = {size: (nb, first, fwd, inv, {16: BANDS16, 32: BANDS32, 64: BANDS64}[size])
           for size, (nb, first, fwd, inv, _) in SIZES.items()}
# The encoder's forward transforms: exact inverses of the decoder's fixed-point ones.
_D_FWD_T = np.linalg.inv(_D_INT.astype(np.float64) / 4096).T  # coefficients = D^-T ... D^-1


@dataclass(frozen=True)
class _Axes:
    """A colour basis: rows (3, 3) the decoder's integer rows (RGB direction of each axis x 4096,
    as float64), fwd the encoder's exact inverse of them, gram their Gram matrix (RGB SSE of a
    coefficient error vector e is e^T gram e; None: orthonormal, the identity)."""
    rows: np.ndarray
    fwd: np.ndarray
    gram: np.ndarray | None


def _axes_of(t: np.ndarray, orthonormal: bool) -> _Axes:
    f = t.astype(np.float64)
    return _Axes(f, np.linalg.inv(f.T / 4096), None if orthonormal else f @ f.T / 4096**2)


AXES_601 = _axes_of(_T_INT, True)
AXES_YCC = _axes_of(_T_YCC_INT, False)
_D4_FWD_T = np.linalg.inv(_D4_INT_F / 4096).T
KAPPA = 0.136  # lambda (distortion per bit) = KAPPA * step^2, as in H.264 encoders
DEAD_ZONE = 0.3  # rounding offset: |c| / step + DEAD_ZONE, floored
_HEAD = struct.Struct("<HH")
# The (luma, chroma) steps in 1/16 pixel of levels 1..8, fixed integers (chroma axes at twice
# luma's step). Format 4: round(16 * step_for_level) and round(32 * step_for_level); format 5:
# those times 0.84 (finer: 12-frame runs of 4 clips, Q1/3/5/7, with deblocking and
# encoder detail weight 2, BD-rate Y -0.9 to -6.1 %).
STEPS16_V4 = ((1771, 3542), (1270, 2540), (918, 1836), (659, 1318), (475, 951), (342, 684),
              (246, 492), (177, 354))
STEPS16 = ((1488, 2975), (1067, 2134), (771, 1542), (554, 1107), (399, 799), (287, 575),
           (207, 413), (149, 297))
# Format 4 context modelling: a coefficient's table index is its axis and band's scale index
# plus CTX_OFFSETS[ctx], ctx = 4 * min(|left| + |above| in the same block and axis, 3) + c,
# c = 0 on the luma axis and 1 + min(|luma coefficient at the same position|, 2) on the chroma
# axes. Fitted on training images by `python -m codec.training.detail_contexts`.
CTX_OFFSETS = np.array([-2, -3, 0, 6, 2, 1, 3, 10, 5, 4, 6, 12, 9, 7, 9, 15], np.int32)
assert np.abs(CTX_OFFSETS).max() < 32  # _fit_scales packs (symbol, offset) pairs in base 64
# Diagonals u + v = d of the 8x8 block: the order in which format 4 codes coefficients.
_DIAGS = [np.nonzero(np.add.outer(np.arange(B), np.arange(B)) == d) for d in range(2 * B - 1)]


@lru_cache(maxsize=1)
def coef_tables() -> entropy.GaussianTables:
    """The coefficients' integer tables: zero-mean Laplace, one per scale of the shared scale
    table (quant.py), built by `build_tables` and shipped with the codec."""
    t = entropy.load_tables(format_tables_path())["coef"]
    assert isinstance(t, entropy.GaussianTables)
    return t


def build_tables() -> entropy.GaussianTables:
    """What resources/models/detail_tables.npz holds (`python -m codec.detail` writes it)."""
    i = np.arange(SCALE_LEVELS)
    return entropy.build_laplace_tables(np.exp((SCALE_LOG_BASE + SCALE_INDEX_STEP * i) / 64))


def level_steps(level: int, version: int = 5) -> tuple[int, int]:
    """(luma, chroma) steps in 1/16 pixel of level 1..8 in a format `version` stream."""
    return (STEPS16 if version >= 5 else STEPS16_V4)[level - 1]


def step_for_level(level: int) -> float:
    """The luma quantiser step (8-bit pixel units) of quality level 1..8."""
    return float(np.sqrt(3.0 / (LAMBDAS[level - 1] * KAPPA)))


def _bits_per_sse(level: int) -> float:
    return LAMBDAS[level - 1] / 3.0  # the learned coders' lambda, per 8-bit SSE (residual.py)


@dataclass
class DetailSection:
    steps16: tuple[int, int]  # luma, chroma step in 1/16 pixel
    scales: np.ndarray  # (3, NBANDS) uint8 scale-table indexes
    flags_bytes: bytes  # skip.py map over the 8x8 grid, True = block sends nothing
    coef_bytes: bytes
    level: int = 0  # formats 4, 5: the level whose steps apply (0: format 3 layout)
    coarse: bool = False  # format 5: the level's format 4 steps (STEPS16_V4), bit 4 of its byte
    scales4: np.ndarray | None = None  # format 11: (3, NBANDS) indexes of 4x4 blocks (bit 5)
    split_bytes: bytes = b""  # format 11 with scales4: which flagged blocks are 4x4 (encode_split)
    scales16: np.ndarray | None = None  # format 15: (3, NBANDS) indexes of 16x16 regions (bit 6)
    wide_bytes: bytes = b""  # format 15 with scales16: which regions are 16x16 (encode_split)
    scales32: np.ndarray | None = None  # format 15: the same for 32x32 regions (bit 7)
    wide32_bytes: bytes = b""
    grey: bool = False  # format 16, a grey frame's (codec.grey): the luma axis alone is coded
    # format 17: the level byte holds level - 1 in bits 0-2 and bit 3 says that 64x64 regions
    # follow (their scales after the 32x32 ones', their map before the 32x32 map)
    extended: bool = False
    scales64: np.ndarray | None = None
    wide64_bytes: bytes = b""
    ycc: bool = False  # format 18 with codec.container.YCC_AXES: the axes are AXES_YCC

    @property
    def contexts(self) -> bool:
        """Format 4 sections code coefficients with context modelling."""
        return self.level > 0

    @property
    def has_kinds(self) -> bool:
        """Whether blocks other than 8x8 ones may be in the section (4x4, regions)."""
        return any(x is not None for x in (self.scales4, self.scales16, self.scales32,
                                           self.scales64))

    @property
    def axes(self) -> int:
        """Colour axes the section codes: 3, or the luma axis alone in a grey frame."""
        return 1 if self.grey else 3

    def _head(self) -> bytes:
        """Everything before the flag map (format 4 or, with level 0, format 3)."""
        if self.level:
            sc = np.concatenate([x[: self.axes] for x in (self.scales, self.scales4,
                                                          self.scales16, self.scales32,
                                                          self.scales64)
                                 if x is not None])
            bits = np.unpackbits(sc.astype(np.uint8).reshape(-1, 1), axis=1)[:, 2:]
            lv = (self.level - 1 | (self.scales64 is not None) << 3 if self.extended
                  else self.level)
            first = (lv | self.coarse << 4 | (self.scales4 is not None) << 5
                     | (self.scales16 is not None) << 6 | (self.scales32 is not None) << 7)
            return (bytes([first]) + np.packbits(bits.ravel()).tobytes()
                    + pack_uvarint(len(self.flags_bytes)))
        return (_HEAD.pack(*self.steps16) + self.scales.astype(np.uint8).tobytes()
                + struct.pack("<I", len(self.flags_bytes)))

    def pack(self) -> bytes:
        maps = b""
        for scales, data in ((self.scales64, self.wide64_bytes),
                             (self.scales32, self.wide32_bytes), (self.scales16, self.wide_bytes),
                             (self.scales4, self.split_bytes)):
            if scales is not None:
                maps += pack_uvarint(len(data)) + data
        return self._head() + self.flags_bytes + maps + self.coef_bytes

    @classmethod
    def unpack(cls, data: bytes, version: int = 5, grey: bool = False, ycc: bool = False
               ) -> DetailSection:
        """Parse a section of a format `version` (3 to 18) stream; grey: of a grey frame
        (format 16, its frame header says so): scales and coefficients of the luma axis only;
        ycc: its file header has YCC_AXES (format 18), the coefficients are on AXES_YCC."""
        axes = 1 if grey else 3
        if version >= 4:
            if len(data) < 1 + (axes * NBANDS * 6 + 7) // 8:
                raise ZVC69FormatError(f"detail section of {len(data)} bytes is too short", 0)
            extended = version >= TRANSFORM64_FROM
            wide64 = extended and bool(data[0] & WIDE64)
            # format 17: level - 1 in bits 0-2 (the flags above them as before)
            byte = (data[0] & 7) + 1 | data[0] & 0xF0 if extended else data[0]
            level, coarse, split, wide, wide32 = byte, False, False, False, False
            if version >= 5:
                level, coarse = byte & ~0x10, bool(byte & 0x10)
            if version >= TRANSFORM4_FROM:
                level, split = level & ~SPLIT, bool(byte & SPLIT)
            if version >= TRANSFORM16_FROM:
                level, wide = level & ~WIDE, bool(byte & WIDE)
                level, wide32 = level & ~WIDE32, bool(byte & WIDE32)
            if not 1 <= level <= 8:
                raise ZVC69FormatError(f"detail section level byte {data[0]} is not 1..8 "
                                       "(+16 from format 5, +32 from format 11, +64 and +128 "
                                       "from format 15)", 0)
            sets = 1 + split + wide + wide32 + wide64
            n_sc = (sets * axes * NBANDS * 6 + 7) // 8
            if len(data) < 1 + n_sc:
                raise ZVC69FormatError(f"detail section of {len(data)} bytes is too short", 0)
            bits = np.unpackbits(np.frombuffer(data, np.uint8, n_sc, 1))
            sent = bits[: sets * axes * NBANDS * 6].reshape(-1, 6) @ (1 << np.arange(5, -1, -1))
            scales = np.zeros((sets, 3, NBANDS), np.uint8)  # a grey frame's chroma: unused
            scales[:, :axes] = sent.astype(np.uint8).reshape(sets, axes, NBANDS)
            n_flags, p = read_uvarint(data, 1 + n_sc, "detail block-flag map")
            if p + n_flags > len(data):
                raise ZVC69FormatError("detail block-flag map runs past the section", p)
            flags, p = data[p : p + n_flags], p + n_flags
            maps = []
            for present, what in ((wide64, "detail 64x64 region map"),
                                  (wide32, "detail 32x32 region map"),
                                  (wide, "detail 16x16 region map"),
                                  (split, "detail 4x4 block map")):
                if not present:
                    maps.append(b"")
                    continue
                n_map, p = read_uvarint(data, p, what)
                if p + n_map > len(data):
                    raise ZVC69FormatError(f"{what} runs past the section", p)
                maps.append(data[p : p + n_map])
                p += n_map
            sets_of = iter(scales[1:])
            s4, s16, s32, s64 = (next(sets_of) if present else None
                                 for present in (split, wide, wide32, wide64))
            return cls(level_steps(level, 4 if coarse else version), scales[0], flags,
                       data[p:], level, coarse, s4, maps[3], s16, maps[2], s32, maps[1], grey,
                       extended, s64, maps[0], ycc)
        head = _HEAD.size + 3 * NBANDS + 4
        if len(data) < head:
            raise ZVC69FormatError(f"detail section of {len(data)} bytes is too short", 0)
        steps = _HEAD.unpack_from(data)
        if min(steps) == 0:
            raise ZVC69FormatError("detail section has a zero quantiser step", 0)
        scales = np.frombuffer(data, np.uint8, 3 * NBANDS, _HEAD.size).reshape(3, NBANDS)
        if (scales >= SCALE_LEVELS).any():
            raise ZVC69FormatError("detail section scale index outside the table", _HEAD.size)
        (n_flags,) = struct.unpack_from("<I", data, head - 4)
        if head + n_flags > len(data):
            raise ZVC69FormatError("detail block-flag map runs past the section", head)
        return cls((steps[0], steps[1]), scales.copy(), data[head : head + n_flags],
                   data[head + n_flags :])

    def bits(self) -> int:
        return 8 * len(self.pack())


@dataclass
class CodedDetail:
    section: DetailSection
    recon: np.ndarray  # (H, W, 3) uint8
    bits_map: np.ndarray  # (ceil(H / 8), ceil(W / 8)) float32, bits of each block's coefficients
    keep: np.ndarray  # (ceil(H / 8), ceil(W / 8)) bool, blocks that carry coefficients
    kinds: np.ndarray | None = None  # same grid, uint8: each flagged block's KIND_* (None: 8x8)

    @property
    def split(self) -> np.ndarray | None:
        """The blocks coded as four 4x4 transforms (format 11 and later), or None."""
        return None if self.kinds is None else self.kinds == KIND_4X4

    def transforms(self) -> np.ndarray:
        """FrameStats.detail_blocks (`transform_map`)."""
        return transform_map(self.keep, self.kinds)


def grid(height: int, width: int) -> tuple[int, int]:
    return -(-height // B), -(-width // B)


def _blocks(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(H, W, 3) -> (rows * cols, 3, 8, 8), zero-padded to whole blocks."""
    h, w = x.shape[:2]
    p = np.zeros((rows * B, cols * B, 3), x.dtype)
    p[:h, :w] = x
    return p.reshape(rows, B, cols, B, 3).transpose(0, 2, 4, 1, 3).reshape(-1, 3, B, B)


def _unblocks(blocks: np.ndarray, rows: int, cols: int, h: int, w: int) -> np.ndarray:
    x = blocks.reshape(rows, cols, 3, B, B).transpose(0, 3, 1, 4, 2).reshape(rows * B,
                                                                             cols * B, 3)
    return x[:h, :w]


def _scale_indexes(scales: np.ndarray, n: int, scales4: np.ndarray | None = None,
                   split: np.ndarray | None = None, scales16: np.ndarray | None = None,
                   scales32: np.ndarray | None = None,
                   scales64: np.ndarray | None = None) -> np.ndarray:
    """(3, NBANDS) table indexes -> (n, 3, 8, 8) int32, per coefficient. `split` (n,): the
    blocks' kinds (KIND_*; a bool array: True = 4x4); 4x4 blocks take `scales4` by `BANDS4`,
    blocks of 16x16, 32x32 and 64x64 regions `scales16`, `scales32` and `scales64` by
    `BANDS16`, `BANDS32`, `BANDS64`."""
    per = np.broadcast_to(scales.astype(np.int32)[:, BANDS], (n, 3, B, B))  # (3, 8, 8) each
    if split is None or not split.any():
        return per
    kinds = split.astype(np.uint8)
    out = per.copy()
    if scales4 is not None:
        out[kinds == KIND_4X4] = scales4.astype(np.int32)[:, BANDS4]
    for size, sc in ((16, scales16), (32, scales32), (64, scales64)):
        if sc is not None:
            nb, first, _, _, bands = REGIONS[size]
            for s in range(nb * nb):
                out[kinds == first + s] = sc.astype(np.int32)[:, bands[s]]
    return out


def context_ids(q: np.ndarray) -> np.ndarray:
    """Format 4 context of every coefficient of q (n, 3, 8, 8): see CTX_OFFSETS."""
    a = np.minimum(np.abs(q.astype(np.int64)), 3)  # int64: |int32 min| fits
    nb = np.zeros_like(a)
    nb[..., :, 1:] += a[..., :, :-1]
    nb[..., 1:, :] += a[..., :-1, :]
    ctx = 4 * np.minimum(nb, 3)
    ctx[:, 1:] += 1 + np.minimum(a[:, :1], 2)
    return ctx


def _offsets(q: np.ndarray, contexts: bool) -> np.ndarray:
    """The table-index offset of every coefficient of q: by context (format 4) or 0."""
    return CTX_OFFSETS[context_ids(q)] if contexts else np.zeros(q.shape, np.int32)


def _with_offsets(scales: np.ndarray, off: np.ndarray, scales4: np.ndarray | None = None,
                  split: np.ndarray | None = None, scales16: np.ndarray | None = None,
                  scales32: np.ndarray | None = None,
                  scales64: np.ndarray | None = None) -> np.ndarray:
    """(3, NBANDS) scale indexes plus per-coefficient offsets (n, 3, 8, 8), clipped."""
    base = _scale_indexes(scales, len(off), scales4, split, scales16, scales32, scales64)
    return np.clip(base + off, 0, SCALE_LEVELS - 1).astype(np.int32)


def table_indexes(q: np.ndarray, scales: np.ndarray, contexts: bool = True,
                  scales4: np.ndarray | None = None, split: np.ndarray | None = None,
                  scales16: np.ndarray | None = None, scales32: np.ndarray | None = None,
                  scales64: np.ndarray | None = None) -> np.ndarray:
    """Table index of every coefficient of q (n, 3, 8, 8): its axis and band's scale (by the
    blocks' kinds `split`, `_scale_indexes`), plus its context's offset (format 4) or not
    (format 3)."""
    return _with_offsets(scales, _offsets(q, contexts), scales4, split, scales16, scales32,
                         scales64)


def encode_split(split: np.ndarray, keep: np.ndarray) -> bytes:
    """Code which flagged blocks of `keep` (rows, cols) are 4x4 (`split`, False elsewhere): three
    4-bit probability codes (bside.PROBS) by the number of 4x4 left and top neighbours, then
    the ANS words of one bit per flagged block in wavefront order."""
    order, _ = _order(*keep.shape)
    sel = keep.ravel()[order]
    bits = split.ravel()[order][sel]
    ctx = _contexts(split).ravel()[order][sel]
    codes = _codes(bits, ctx, 3)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(bits.astype(np.int32), _BERNOULLI, PROBS[codes][ctx])
    return _nibbles(codes) + coder.get_compressed().astype("<u4").tobytes()


def decode_split(data: bytes, keep: np.ndarray, what: str = "detail 4x4 block map"
                 ) -> np.ndarray:
    """Inverse of `encode_split`: (rows, cols) bool; ZVC69FormatError if it is damaged."""
    if len(data) < 2 or (len(data) - 2) % 4:
        raise ZVC69FormatError(f"{what} is truncated", len(data))
    p = PROBS[_unnibble(data[:2], 3)]
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data[2:], "<u4").astype(np.uint32))
        split = decode_mask(coder, p, *keep.shape, keep)
    except ValueError as exc:
        raise ZVC69FormatError(f"{what} is invalid: {exc}", 2) from None
    if not coder.is_empty():
        raise ZVC69FormatError(f"{what} has data left over", 2)
    return split


def _region_maps(section: DetailSection) -> list[tuple[int, np.ndarray | None, bytes]]:
    """(region size, its scales or None, its map) in coding order: 64x64, 32x32, 16x16."""
    return [(64, section.scales64, section.wide64_bytes),
            (32, section.scales32, section.wide32_bytes),
            (16, section.scales16, section.wide_bytes)]


def block_kinds(section: DetailSection, keep: np.ndarray) -> np.ndarray | None:
    """Each flagged block's transform, KIND_* on the (rows, cols) grid, from the section's
    64x64 (format 17), 32x32 and 16x16 region maps (format 15; each over the regions whose
    blocks are all flagged and in no larger region) and 4x4 block map (format 11; over the other
    flagged blocks); None: all 8x8."""
    if not section.has_kinds:
        return None
    kinds = np.zeros(keep.shape, np.uint8)
    for size, scales, data in _region_maps(section):
        if scales is None:
            continue
        n, first = REGIONS[size][:2]
        wide = decode_split(data, whole_regions(keep & (kinds < KIND_16), n),
                            f"detail {size}x{size} region map")
        blocks = region_blocks(*keep.shape, n)[wide.ravel()]
        kinds.ravel()[blocks] = first + np.arange(n * n, dtype=np.uint8)
    if section.scales4 is not None:
        kinds[decode_split(section.split_bytes, keep & (kinds < KIND_16))] = KIND_4X4
    return kinds


def _passes(grey: bool = False) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
    """Format 4 coding order: luma diagonal by diagonal, then both chroma axes together
    (not in a grey frame's section)."""
    return [(axes, u, v) for axes in ([0], [1, 2])[: 1 if grey else 2] for u, v in _DIAGS]


def encode_coefficients(q: np.ndarray, scales: np.ndarray,
                        idx: np.ndarray | None = None, grey: bool = False) -> bytes:
    """Format 4 coefficient stream of the flagged blocks' q (k, 3, 8, 8); idx: their
    `table_indexes`, when already known; grey: the luma axis alone (a grey frame's)."""
    if idx is None:
        idx = table_indexes(q, scales)
    chunks = [(q[:, axes][:, :, u, v], idx[:, axes][:, :, u, v])
              for axes, u, v in _passes(grey)]
    return entropy.encode_gaussian_chunks(chunks, coef_tables())


def decode_coefficients(data: bytes, k: int, scales: np.ndarray,
                        scales4: np.ndarray | None = None,
                        split: np.ndarray | None = None,
                        scales16: np.ndarray | None = None,
                        scales32: np.ndarray | None = None, grey: bool = False,
                        scales64: np.ndarray | None = None) -> np.ndarray:
    """Inverse of `encode_coefficients`: q (k, 3, 8, 8) int32 (chroma zero if grey);
    `split` (k,): the blocks' kinds (`_scale_indexes`)."""
    q = np.zeros((k, 3, B, B), np.int32)
    dec = entropy.GaussianChunkDecoder(data, k * (1 if grey else 3) * B * B, coef_tables())
    base = _scale_indexes(scales, k, scales4, split, scales16, scales32, scales64)
    for axes, u, v in _passes(grey):
        sub = q[:, axes[0] : axes[-1] + 1]  # a view
        left = np.where(v > 0, np.abs(sub[:, :, u, np.maximum(v - 1, 0)].astype(np.int64)), 0)
        up = np.where(u > 0, np.abs(sub[:, :, np.maximum(u - 1, 0), v].astype(np.int64)), 0)
        ctx = 4 * np.minimum(np.minimum(left, 3) + np.minimum(up, 3), 3)
        if axes[0]:
            ctx += 1 + np.minimum(np.abs(q[:, :1, u, v].astype(np.int64)), 2)
        idx = np.clip(base[:, axes][:, :, u, v] + CTX_OFFSETS[ctx], 0, SCALE_LEVELS - 1)
        sub[:, :, u, v] = dec.decode(idx)
    dec.finish()
    return q


def inverse(q: np.ndarray, steps16: tuple[int, int], split: np.ndarray | None = None,
            ycc: bool = False) -> np.ndarray:
    """Quantised coefficients (n, 3, 8, 8) -> pixel residual (n, 3, 8, 8) int64 (RGB), in
    integer arithmetic only: identical on every machine. `split` (n,): the blocks' kinds
    (KIND_*; a bool array: True = four 4x4); the blocks of 16x16, 32x32 and 64x64 regions come
    in the order `block_kinds` gives (the i-th block of each kind belongs to the i-th region);
    ycc: the coefficients are on AXES_YCC (format 18), else on AXES_601."""
    st = np.array([steps16[0], steps16[1], steps16[1]], np.int64)
    # Every value below is an integer under 2^53, so float64 products and sums are exact (in
    # any order, with or without FMA) and BLAS can do the matrix products. A valid stream's
    # |q * step16| is under 2^16 (8-bit residuals: |DC| <= 8 * 255 * sqrt(3) pixels), 2^17
    # in 16x16 regions, 2^18 in 32x32 ones and 2^19 in 64x64 ones; clamping keeps corrupt ones
    # in range too.
    c = q.astype(np.int64) * st[None, :, None, None]  # 1/16 px
    kinds = None if split is None or not split.any() else split.astype(np.uint8)
    if kinds is None:
        c = np.clip(c, -(1 << 16), 1 << 16).astype(np.float64)
        x = np.matmul(np.matmul(_D_INT_F.T, c), _D_INT_F)  # x 2^24, < 2^46
    else:  # the other matrices' entries are no larger (sums < 2^48; 64x64: 2^12 terms of
        # |c| <= 2^19 times two entries <= 724, < 2^51)
        bound = np.where(kinds >= KIND_64, 1 << 19, np.where(
            kinds >= KIND_32, 1 << 18, np.where(kinds >= KIND_16, 1 << 17, 1 << 16)))
        bound = bound[:, None, None, None]
        c = np.clip(c, -bound, bound).astype(np.float64)
        x = np.empty_like(c)
        for kind, d in ((KIND_8X8, _D_INT_F), (KIND_4X4, _D4_INT_F)):
            m = kinds == kind
            x[m] = np.matmul(np.matmul(d.T, c[m]), d)
        for nb, first, _, d, _ in REGIONS.values():
            parts = [kinds == first + s for s in range(nb * nb)]
            if not parts[0].any():
                continue
            big = np.concatenate([np.concatenate([c[parts[nb * a + b]] for b in range(nb)], 3)
                                  for a in range(nb)], 2)  # (t, 3, 8nb, 8nb)
            xs = np.matmul(np.matmul(d.T, big), d)
            for s in range(nb * nb):
                a, b = divmod(s, nb)
                x[parts[s]] = xs[:, :, B * a : B * a + B, B * b : B * b + B]
    xi = (x.astype(np.int64) + (1 << 13)) >> 14  # 1/16 pixel x 2^10
    axes = (AXES_YCC if ycc else AXES_601).rows  # entries under 2^12: exact as before
    rgb = np.tensordot(axes.T, xi.astype(np.float64), axes=(1, 1))  # (3, n, 8, 8) x 2^12
    return ((rgb.astype(np.int64) + (1 << 25)) >> 26).transpose(1, 0, 2, 3)  # / 2^26


def _apply(base: np.ndarray, res: np.ndarray, rows: int, cols: int) -> np.ndarray:
    h, w = base.shape[:2]
    r = _unblocks(res, rows, cols, h, w)  # (h, w, 3)
    return np.clip(base.astype(np.int64) + r, 0, 255).astype(np.uint8)


def _pair_counts(s: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (symbol, offset) pairs of s and o (|o| < 32) and how often each occurs."""
    lo, hi = int(s.min()), int(s.max())
    if (hi - lo + 1) * 64 <= 1 << 20:  # counting is faster than sorting
        counts = np.bincount((s.astype(np.int64) - lo) * 64 + (o + 32),
                             minlength=(hi - lo + 1) * 64)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
        values = (keys // 64 + lo).astype(np.int32)
        return values, keys % 64 - 32, counts
    keys, counts = np.unique(s.astype(np.int64) * 64 + (o + 32), return_counts=True)
    values = (keys // 64).astype(np.int32)
    return values, keys - 64 * values - 32, counts


def _fit_scales(q: np.ndarray, off: np.ndarray, tables: entropy.GaussianTables,
                bands: np.ndarray = BANDS) -> np.ndarray:
    """Per axis and band (`bands`: BANDS, or BANDS4 for 4x4 blocks, or (p, 8, 8) repeating
    over every p blocks, as the blocks of regions), the scale index that codes the symbols q
    (n, 3, 8, 8), with their table-index offsets `off` (`_offsets`), in the fewest bits,
    searched around the one matching their RMS."""
    out = np.zeros((3, NBANDS), np.uint8)
    pattern = bands if bands.ndim == 3 else bands[None]
    p = len(pattern)
    q = q.reshape(-1, p, 3, B, B)
    off = off.reshape(-1, p, 3, B, B)
    for a in range(3):
        for b in range(NBANDS):
            m = pattern == b
            s = np.concatenate([q[:, j, a][:, m[j]].ravel() for j in range(p)])
            if s.size == 0 or not s.any():
                continue
            o = np.concatenate([off[:, j, a][:, m[j]].ravel() for j in range(p)])
            rms = float(np.sqrt(np.mean(s.astype(np.float64) ** 2)))
            guess = round((64 * np.log(rms) - SCALE_LOG_BASE) / SCALE_INDEX_STEP
                          - float(np.mean(o)))
            values, offs, counts = _pair_counts(s, o)  # each (symbol, offset) pair once
            best: tuple[float, int] | None = None
            for i in range(guess - 3, guess + 4):
                i = min(max(i, 0), SCALE_LEVELS - 1)
                idx = np.clip(i + offs, 0, SCALE_LEVELS - 1).astype(np.int32)
                bits = float(counts @ entropy.information_bits_gaussian(values, idx, tables))
                if best is None or bits < best[0]:
                    best = (bits, i)
            assert best is not None
            out[a, b] = best[1]
    return out


@dataclass
class _Option:
    """One way to code a frame's detail layer, as `_build` made it."""
    section: DetailSection
    keep: np.ndarray  # (n,) bool, blocks that carry coefficients
    kinds: np.ndarray | None  # (n,) uint8 KIND_* of each block (None: all 8x8)
    qk: np.ndarray  # (k, 3, 8, 8) the kept blocks' coefficients
    bits: np.ndarray  # (n,) bits of each block's coefficients
    net: float  # lambda x SSE removed minus the section's bits


def _block_bits(q: np.ndarray, idx: np.ndarray, tables: entropy.GaussianTables,
                grey: bool) -> np.ndarray:
    """Bits of each block's coefficients q (n, 3, 8, 8) at table indexes idx (the luma axis
    alone in a grey frame)."""
    if grey:
        q, idx = np.ascontiguousarray(q[:, :1]), np.ascontiguousarray(idx[:, :1])
    return entropy.information_bits_gaussian(q, idx, tables).sum((1, 2, 3))


def _sse(c: np.ndarray, gram: np.ndarray | None) -> np.ndarray:
    """RGB SSE of each block's coefficient vectors c (n, 3, h, w) on axes with Gram matrix
    `gram` (None: orthonormal axes)."""
    if gram is None:
        return (c**2).sum((1, 2, 3))
    cc = c.reshape(len(c), 3, -1)
    return (np.einsum("nak,nbk->nab", cc, cc) * gram).sum((1, 2))


def high_chroma(n: int, cut: float, four: bool = False) -> np.ndarray:
    """(n, n) bool: the coefficients of an n x n transform (four: an 8x8 block's four 4x4
    ones) whose horizontal or vertical frequency lies at or above `cut` of the range."""
    k = np.arange(n)
    hi = (k % 4) / 4 >= cut if four else k / n >= cut
    return hi[:, None] | hi[None, :]


def _quantise(c: np.ndarray, st: np.ndarray, gram: np.ndarray | None = None,
              cut: float | None = None, four: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Dead-zone quantised coefficients of c (n, 3, k, k) and each block's RGB SSE saved
    (`gram`: the axes', `_Axes`); the chroma axes' coefficients at or above frequency `cut`
    (`high_chroma`; None: none) are left out."""
    m = np.abs(c)  # sign(c) * floor(|c| / st + DEAD_ZONE), without the temporaries
    m /= st
    m += DEAD_ZONE
    np.floor(m, out=m)
    q = np.copysign(m, c, out=m).astype(np.int32)
    if cut is not None:
        q[:, 1:, high_chroma(c.shape[-1], cut, four)] = 0
    return q, _sse(c, gram) - _sse(c - q * st, gram)


@dataclass
class _Selection:
    """What a selection chose (scales: (3, NBANDS) indexes, None where no block uses them)."""
    keep: np.ndarray  # (n,) bool
    kinds: np.ndarray | None  # (n,) uint8 KIND_*, or None: all 8x8
    scales: np.ndarray  # of 8x8 blocks
    scales4: np.ndarray | None  # of 4x4 blocks
    bits: np.ndarray  # (n,) bits of each block's coefficients
    idx: np.ndarray  # the kept blocks' table indexes (k, 3, 8, 8)
    scales16: np.ndarray | None = None  # of 16x16 regions
    scales32: np.ndarray | None = None  # of 32x32 regions
    scales64: np.ndarray | None = None  # of 64x64 regions


def _select_plain(q: np.ndarray, gain: np.ndarray, lam: float, contexts: bool,
                  tables: entropy.GaussianTables, grey: bool = False) -> _Selection | None:
    """8x8 blocks only: those whose distortion saved at `lam` pays for their bits, with the
    scales refitted to them; None when no block pays."""
    nz = np.flatnonzero(q.reshape(len(q), -1).any(1))  # only these can be worth coding
    qn, gain_n = q[nz], gain[nz]
    off_n = _offsets(qn, contexts)  # contexts depend on the block alone: once
    kept = np.ones(len(nz), bool)
    scales = np.zeros((3, NBANDS), np.uint8)
    bits_n = np.zeros(len(nz))
    idx_n = np.zeros(qn.shape, np.int32)
    for _ in range(2):  # scales fitted to the kept blocks, blocks kept that pay
        if not kept.any():
            return None
        scales = _fit_scales(qn[kept], off_n[kept], tables)
        idx_n = _with_offsets(scales, off_n)
        bits_n = _block_bits(qn, idx_n, tables, grey)
        kept = lam * gain_n > bits_n + 1.0
    if not kept.any():
        return None
    keep = np.zeros(len(q), bool)
    keep[nz[kept]] = True
    bits = np.zeros(len(q))
    bits[nz] = bits_n
    return _Selection(keep, None, scales, None, bits, idx_n[kept])


def _select_split(q8: np.ndarray, gain8: np.ndarray, q4: np.ndarray, gain4: np.ndarray,
                  lam: float, tables: entropy.GaussianTables, grey: bool = False
                  ) -> _Selection | None:
    """Per block nothing, one 8x8 or four 4x4 transforms, whichever saves the most distortion
    at `lam` net of its bits; then up to two rounds with each transform's scales refitted to
    the blocks that chose it (a block keeps its transform or drops out: no oscillation).
    None when no block takes 4x4."""
    n = len(q8)
    cand = np.flatnonzero(q8.reshape(n, -1).any(1) | q4.reshape(n, -1).any(1))
    if not cand.size:
        return None
    qs, gains = (q8[cand], q4[cand]), (gain8[cand], gain4[cand])
    offs = tuple(_offsets(x, True) for x in qs)
    sel = [x.reshape(len(cand), -1).any(1) for x in qs]
    choice = np.full(len(cand), -2)
    for _ in range(3):
        n4 = int(sel[1].sum())
        p4 = min(max((n4 + 1) / (int(sel[0].sum()) + n4 + 2), 0.02), 0.98)
        flag_bits = (1 - np.log2(1 - p4), 1 - np.log2(p4))  # kept-block flag + 4x4 flag
        out = []
        for t, bands in enumerate((BANDS, BANDS4)):
            sc = np.zeros((3, NBANDS), np.uint8)
            if sel[t].any():
                sc = _fit_scales(qs[t][sel[t]], offs[t][sel[t]], tables, bands)
            idx = np.clip(sc.astype(np.int32)[:, bands] + offs[t], 0, SCALE_LEVELS - 1)
            idx = idx.astype(np.int32)
            bits = _block_bits(qs[t], idx, tables, grey)
            net = np.where(sel[t], lam * gains[t] - bits - flag_bits[t], -np.inf)
            out.append((sc, idx, bits, net))
        nets = np.stack([np.zeros(len(cand)), out[0][3], out[1][3]])
        new = nets.argmax(0) - 1  # -1 nothing, 0 8x8, 1 4x4
        if (new == choice).all():
            break
        choice = new
        sel = [choice == 0, choice == 1]
    if not (choice == 1).any():
        return None
    four = choice == 1
    keep, split, bits = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n)
    keep[cand[choice >= 0]] = True
    split[cand[four]] = True
    bits[cand] = np.where(four, out[1][2], out[0][2])
    idx = np.where(four[:, None, None, None], out[1][1], out[0][1])[choice >= 0]
    return _Selection(keep, split.astype(np.uint8), out[0][0], out[1][0], bits, idx)


def _select_wide(x: np.ndarray, st: np.ndarray, q: np.ndarray, gain: np.ndarray,
                 base: _Selection, lam: float, grid_shape: tuple[int, int],
                 tables: entropy.GaussianTables, size: int, grey: bool = False,
                 gram: np.ndarray | None = None, cut: float | None = None
                 ) -> tuple[_Selection, np.ndarray, np.ndarray] | None:
    """Format 15: on top of the selection `base` (q, gain: each block's coefficients and SSE
    saved by the transform it chose), the size x size regions (16, 32 or 64) whose one transform
    nets more (distortion saved at `lam` minus bits) than their blocks as `base` coded them,
    with its scales refitted to them over up to three rounds; x: the blocks' rotated residual
    (n, 3, 8, 8), st: the steps, gram and cut: as `_quantise`. Returns (selection, q, gain)
    with the regions' blocks replaced (the other transforms keep their scales), or None when no
    region pays."""
    nb, first, fwd, _, bands_s = REGIONS[size]
    rows, cols = grid_shape
    gi = region_blocks(rows, cols, nb)
    m, per = len(gi), nb * nb
    if not m:
        return None
    kinds0 = np.zeros(len(q), np.uint8) if base.kinds is None else base.kinds
    net_base = np.where(base.keep, lam * gain - base.bits - 1.0, 0.0)[gi].sum(1)  # 1: flag
    xr = x[gi].reshape(m, nb, nb, 3, B, B).transpose(0, 3, 1, 4, 2, 5).reshape(
        m, 3, B * nb, B * nb)
    c = np.matmul(np.matmul(fwd, xr), fwd.T)
    qr, gain_r = _quantise(c, st, gram, cut)
    # only regions whose one transform can save more than their blocks as they are
    cand = qr.reshape(m, -1).any(1) & (lam * gain_r > net_base + 2.0)
    if not cand.any():
        return None
    gi, qr, gain_r, net_base = gi[cand], qr[cand], gain_r[cand], net_base[cand]
    m = len(gi)
    sub = qr.reshape(m, 3, nb, B, nb, B).transpose(0, 2, 4, 1, 3, 5).reshape(m * per, 3, B, B)
    off = _offsets(sub, True)
    take = np.ones(m, bool)
    sc = np.zeros((3, NBANDS), np.uint8)
    for _ in range(3):
        if not take.any():
            return None
        rep = np.repeat(take, per)
        sc = _fit_scales(sub[rep], off[rep], tables, bands_s)
        idx = np.clip(sc.astype(np.int32)[:, bands_s].transpose(1, 0, 2, 3)[None]
                      + off.reshape(m, per, 3, B, B), 0, SCALE_LEVELS - 1).astype(np.int32)
        bits_s = _block_bits(sub, idx.reshape(-1, 3, B, B), tables, grey).reshape(m, per)
        new = lam * gain_r - bits_s.sum(1) - 2.0 > net_base  # 2: flags
        if (new == take).all():
            break
        take = new
    if not take.any():
        return None
    blocks = gi[take]  # (t, per)
    kinds = kinds0.copy()
    kinds[blocks] = first + np.arange(per, dtype=np.uint8)
    keep = base.keep.copy()
    keep[blocks] = True
    q = q.copy()
    q[blocks] = sub.reshape(m, per, 3, B, B)[take]
    gain = gain.copy()
    gain[blocks] = gain_r[take, None] / per
    bits = base.bits.copy()
    bits[blocks] = bits_s[take]
    idx_all = np.zeros((len(q), 3, B, B), np.int32)
    idx_all[base.keep] = base.idx
    idx_all[blocks] = idx[take]
    # the other transforms keep their scales (refitting them to the blocks left saved 0.17 %
    # of room_handheld's section bits); a set no block uses any more is dropped
    sets = {KIND_4X4: base.scales4, KIND_16: base.scales16, KIND_32: base.scales32,
            KIND_64: base.scales64}
    sets[first] = sc
    for kind, count in ((KIND_4X4, 1), (KIND_16, 4), (KIND_32, 16), (KIND_64, 64)):
        if not ((kinds >= kind) & (kinds < kind + count) & keep).any():
            sets[kind] = None
    return (_Selection(keep, kinds, base.scales, sets[KIND_4X4], bits, idx_all[keep],
                       sets[KIND_16], sets[KIND_32], sets[KIND_64]), q, gain)


def _build(q: np.ndarray, gain: np.ndarray, choice: _Selection, grid_shape: tuple[int, int],
           head: tuple, lam: float, tables: entropy.GaussianTables) -> _Option:
    """Code the kept blocks of q (n, 3, 8, 8) as `choice` says: the section and what it nets.
    q, gain: each block's coefficients and SSE saved by the transform chosen for it; head:
    (steps16, level byte's level or 0, coarse, grey, extended: format 17's level byte,
    ycc: format 18's axes)."""
    steps16, level, coarse, grey, extended, ycc = head
    keep, kinds = choice.keep, choice.kinds
    qk = np.ascontiguousarray(q[keep])
    keep_grid = keep.reshape(grid_shape)
    flags = encode_skip(~keep_grid)
    idx_k = np.ascontiguousarray(choice.idx)  # qk's rows, in the same order
    if level:
        coef = encode_coefficients(qk, choice.scales, idx_k, grey)
    else:
        coef = entropy.encode_gaussian(qk, idx_k, tables)
    maps = {4: b"", 16: b"", 32: b"", 64: b""}
    if kinds is not None:
        kind_grid = kinds.reshape(grid_shape)
        for size, scales, above in ((64, choice.scales64, 255), (32, choice.scales32, KIND_64),
                                    (16, choice.scales16, KIND_32)):  # as block_kinds
            if scales is not None:
                nb, first = REGIONS[size][:2]
                larger = kind_grid >= above  # blocks of larger regions
                r, c = grid_shape[0] // nb, grid_shape[1] // nb
                maps[size] = encode_split(kind_grid[: nb * r : nb, : nb * c : nb] == first,
                                          whole_regions(keep_grid & ~larger, nb))
        if choice.scales4 is not None:
            maps[4] = encode_split(kind_grid == KIND_4X4, keep_grid & (kind_grid < KIND_16))
    section = DetailSection(steps16, choice.scales, flags, coef, level, coarse, choice.scales4,
                            maps[4], choice.scales16, maps[16], choice.scales32, maps[32], grey,
                            extended, choice.scales64, maps[64], ycc)
    return _Option(section, keep, kinds, qk, choice.bits,
                   lam * float(gain[keep].sum()) - section.bits())


def encode_detail(frame: np.ndarray, base: np.ndarray, level: int, prof: Profiler,
                  version: int = 5, weight: float = 1.0,
                  coarse: bool = False, grey: bool = False,
                  chroma_cut: float | None = None) -> CodedDetail | None:
    """Code frame - base ((H, W, 3) uint8 each) at `level`; None when it does not pay.
    version: the stream format (3: no context modelling, explicit steps; 4: format 4 steps;
    11: blocks may be four 4x4 transforms; 15: regions may be one 16x16 or 32x32 transform;
    17: also 64x64; 18: the colour axes AXES_YCC, the writer sets YCC_AXES); weight:
    multiplies the level's price of distortion in the encoder's choices (blocks kept);
    coarse: format 5 with the level's format 4 steps; grey: a grey frame (format 16,
    codec.grey), whose section codes the luma axis alone, priced by what it is worth once the
    decoder has made the frame grey; chroma_cut: leave out the chroma axes' coefficients at or
    above that fraction of each transform's frequency range (`high_chroma`; format 18's axes
    only, whose chroma moves no luma; None: code them all)."""
    tables = coef_tables()
    h, w = frame.shape[:2]
    rows, cols = grid(h, w)
    contexts = version >= 4
    coarse = coarse and version >= 5
    steps16 = level_steps(level, 4 if coarse else version)
    lam = weight * _bits_per_sse(level)
    ycc = version >= YCC_FROM
    axes = AXES_YCC if ycc else AXES_601
    cut = chroma_cut if ycc else None
    q4 = gain4 = None
    with prof.stage("detail_transform"):
        r = frame.astype(np.float64) - base.astype(np.float64)
        blocks = _blocks(r, rows, cols)  # (n, 3, 8, 8) RGB
        x = np.tensordot(axes.fwd, blocks, axes=(1, 1)).transpose(1, 0, 2, 3)
        if grey:  # the chroma axes drop out of a grey reconstruction: nothing to code there
            x[:, 1:] = 0
            if not ycc:  # AXES_YCC's luma axis is grey already: its SSE is the RGB SSE
                lam *= SSE_PER_LUMA_SSE
        st = np.array([steps16[0], steps16[1], steps16[1]], np.float64)[None, :, None, None] / 16
        q, gain = _quantise(np.matmul(np.matmul(_D_FWD_T, x), _D_FWD_T.T), st, axes.gram,
                            cut)
        if version >= TRANSFORM4_FROM:
            q4, gain4 = _quantise(np.matmul(np.matmul(_D4_FWD_T, x), _D4_FWD_T.T), st,
                                  axes.gram, cut, four=True)
    head = (steps16, level if contexts else 0, coarse, grey, version >= TRANSFORM64_FROM, ycc)
    options: list[tuple[_Option, _Selection, np.ndarray, np.ndarray]] = []
    with prof.stage("entropy_encode"):
        plain = _select_plain(q, gain, lam, contexts, tables, grey)
        if plain is not None:
            options.append((_build(q, gain, plain, (rows, cols), head, lam, tables), plain, q,
                            gain))
        if q4 is not None and gain4 is not None:
            split = _select_split(q, gain, q4, gain4, lam, tables, grey)
            if split is not None:
                assert split.kinds is not None
                four = split.kinds == KIND_4X4
                qs = np.where(four[:, None, None, None], q4, q)
                gs = np.where(four, gain4, gain)
                options.append((_build(qs, gs, split, (rows, cols), head, lam, tables), split,
                                qs, gs))
        sizes = [size for size in REGIONS if size < 64 or version >= TRANSFORM64_FROM]
        for size in sizes if version >= TRANSFORM16_FROM and options else ():
            _, sel, qs, gs = max(options, key=lambda o: o[0].net)  # regions on top of it
            wide = _select_wide(x, st, qs, gs, sel, lam, (rows, cols), tables, size, grey,
                                axes.gram, cut)
            if wide is not None:
                sel, qs, gs = wide
                options.append((_build(qs, gs, sel, (rows, cols), head, lam, tables), sel,
                                qs, gs))
    best = max((o[0] for o in options), key=lambda o: o.net, default=None)
    if best is None or best.net <= 0:
        return None  # the whole layer does not pay for itself
    keep = best.keep
    with prof.stage("detail_transform"):
        res = np.zeros((len(q), 3, B, B), np.int64)
        res[keep] = inverse(best.qk, steps16, None if best.kinds is None else best.kinds[keep],
                            ycc)
        recon = _apply(base, res, rows, cols)
    bits_map = np.where(keep, best.bits, 0.0).reshape(rows, cols).astype(np.float32)
    kinds = None if best.kinds is None else best.kinds.reshape(rows, cols)
    return CodedDetail(best.section, recon, bits_map, keep.reshape(rows, cols), kinds)


def decode_symbols(section: DetailSection, height: int, width: int, prof: Profiler,
                   keep: np.ndarray | None = None, split: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Entropy decoding only: (flagged-block mask (rows, cols), coefficients (k, 3, 8, 8),
    the k blocks' kinds, KIND_* (None: all 8x8)); keep, split: the section's `flagged_blocks`
    and `block_kinds` maps, when already decoded."""
    tables = coef_tables()
    with prof.stage("entropy_decode"):
        if keep is None:
            keep = flagged_blocks(section, height, width)
        k = int(keep.sum())
        if not section.has_kinds:
            split = None
        else:
            kinds = block_kinds(section, keep) if split is None else split
            assert kinds is not None
            split = kinds[keep].astype(np.uint8)
        if section.contexts:
            return keep, decode_coefficients(section.coef_bytes, k, section.scales,
                                             section.scales4, split, section.scales16,
                                             section.scales32, section.grey,
                                             section.scales64), split
        idx = np.ascontiguousarray(_scale_indexes(section.scales, k))
        q = entropy.decode_gaussian(section.coef_bytes, idx, tables).reshape(k, 3, B, B)
    return keep, q, None


def reconstruct(section: DetailSection, keep: np.ndarray, q: np.ndarray, base: np.ndarray,
                prof: Profiler, split: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """base (H, W, 3) uint8 + decoded detail (`decode_symbols`) -> (frame, bits per 8x8
    block)."""
    tables = coef_tables()
    rows, cols = keep.shape
    with prof.stage("detail_transform"):
        res = np.zeros((rows * cols, 3, B, B), np.int64)
        res[keep.ravel()] = inverse(q, section.steps16, split, section.ycc)
        frame = _apply(base, res, rows, cols)
    bits = np.zeros(rows * cols, np.float32)
    if len(q):
        bits[keep.ravel()] = _block_bits(
            q, table_indexes(q, section.scales, section.contexts, section.scales4, split,
                             section.scales16, section.scales32, section.scales64), tables,
            section.grey)
    return frame, bits.reshape(rows, cols)


def split_grid(keep: np.ndarray, split: np.ndarray | None) -> np.ndarray | None:
    """`decode_symbols`' kinds (k,) of the flagged blocks -> (rows, cols), or None."""
    if split is None:
        return None
    out = np.zeros(keep.shape, split.dtype)
    out[keep] = split
    return out


def flagged_blocks(section: DetailSection, height: int, width: int) -> np.ndarray:
    """The 8x8 blocks that carry coefficients (rows, cols), from the flag map alone."""
    return ~decode_skip(section.flags_bytes, *grid(height, width))


def any_on_latent_grid(keep8: np.ndarray, rows16: int, cols16: int) -> np.ndarray:
    """(rows16, cols16) bool: 16x16 blocks holding any flagged 8x8 block."""
    return to_latent_grid(keep8.astype(np.float32), rows16, cols16) > 0


def to_latent_grid(bits8: np.ndarray, rows16: int, cols16: int) -> np.ndarray:
    """Bits per 8x8 block -> bits per 16x16 block over a (rows16, cols16) grid."""
    r8, c8 = bits8.shape
    p = np.zeros((2 * rows16, 2 * cols16), np.float32)
    p[: min(r8, 2 * rows16), : min(c8, 2 * cols16)] = bits8[: 2 * rows16, : 2 * cols16]
    return p.reshape(rows16, 2, cols16, 2).sum((1, 3))


if __name__ == "__main__":
    entropy.save_tables(format_tables_path(), coef=build_tables())
    print(f"wrote {format_tables_path()}")
