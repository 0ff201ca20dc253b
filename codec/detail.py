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

Layouts (docs/BITSTREAM.md): format 3, u16 luma step, u16 chroma step (1/16 pixel units),
NBANDS x 3 u8 scale indexes (axis-major), u32 length of the block-flag map, the map (skip.py
format, True = no coefficients), then the ANS words of the coefficients of the flagged blocks
(block-major, then axis, row, column). Formats 4-11: a level byte (bit 4: the level's format 4
steps; bit 5, format 11: the section has 4x4 blocks), the 6-bit scale indexes (a second set for
4x4 blocks with bit 5), a varint map length and the map, with bit 5 a varint length and the map
of 4x4 blocks among the flagged ones (`encode_split`), then the coefficients diagonal by diagonal.
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
from .models import format_tables_path
from .profiler import Profiler
from .quant import LAMBDAS, SCALE_INDEX_STEP, SCALE_LEVELS, SCALE_LOG_BASE
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
_D_INT_F, _T_INT_F = _D_INT.astype(np.float64), _T_INT.astype(np.float64)
# Format 11: the 4-point DCT-II, orthonormal, times 4096, applied to each quadrant of an 8x8
# block at once (block-diagonal), and the bands of its coefficients by u + v inside the 4x4.
TRANSFORM4_FROM = 11
SPLIT = 0x20  # level byte bit: the section has blocks coded as four 4x4 transforms
_C4_INT = np.array([[2048, 2048, 2048, 2048], [2676, 1108, -1108, -2676],
                    [2048, -2048, -2048, 2048], [1108, -2676, 2676, -1108]], np.int64)
_D4_INT_F = np.kron(np.eye(2), _C4_INT.astype(np.float64))
BANDS4 = _BAND_OF_SUM[np.add.outer(np.arange(B) % 4, np.arange(B) % 4)]
# The encoder's forward transforms: exact inverses of the decoder's fixed-point ones.
_D_FWD_T = np.linalg.inv(_D_INT.astype(np.float64) / 4096).T  # coefficients = D^-T ... D^-1
_T_FWD = np.linalg.inv(_T_INT.astype(np.float64).T / 4096)
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
_SCALES_BYTES = (3 * NBANDS * 6 + 7) // 8  # 18 six-bit scale indexes
_SCALES4_BYTES = (2 * 3 * NBANDS * 6 + 7) // 8  # both sets (format 11 with 4x4 blocks)
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

    @property
    def contexts(self) -> bool:
        """Format 4 sections code coefficients with context modelling."""
        return self.level > 0

    def _head(self) -> bytes:
        """Everything before the flag map (format 4 or, with level 0, format 3)."""
        if self.level:
            sc = self.scales if self.scales4 is None else np.concatenate([self.scales,
                                                                           self.scales4])
            bits = np.unpackbits(sc.astype(np.uint8).reshape(-1, 1), axis=1)[:, 2:]
            first = self.level | self.coarse << 4 | (self.scales4 is not None) << 5
            return (bytes([first]) + np.packbits(bits.ravel()).tobytes()
                    + pack_uvarint(len(self.flags_bytes)))
        return (_HEAD.pack(*self.steps16) + self.scales.astype(np.uint8).tobytes()
                + struct.pack("<I", len(self.flags_bytes)))

    def pack(self) -> bytes:
        split = b"" if self.scales4 is None else pack_uvarint(len(self.split_bytes))
        return self._head() + self.flags_bytes + split + self.split_bytes + self.coef_bytes

    @classmethod
    def unpack(cls, data: bytes, version: int = 5) -> DetailSection:
        """Parse a section of a format `version` (3 to 11) stream."""
        if version >= 4:
            if len(data) < 1 + _SCALES_BYTES:
                raise ZVC69FormatError(f"detail section of {len(data)} bytes is too short", 0)
            level, coarse, split = data[0], False, False
            if version >= 5:
                level, coarse = data[0] & ~0x10, bool(data[0] & 0x10)
            if version >= TRANSFORM4_FROM:
                level, split = level & ~SPLIT, bool(data[0] & SPLIT)
            if not 1 <= level <= 8:
                raise ZVC69FormatError(f"detail section level byte {data[0]} is not 1..8 "
                                       "(+16 from format 5, +32 from format 11)", 0)
            n_sc = _SCALES4_BYTES if split else _SCALES_BYTES
            if len(data) < 1 + n_sc:
                raise ZVC69FormatError(f"detail section of {len(data)} bytes is too short", 0)
            bits = np.unpackbits(np.frombuffer(data, np.uint8, n_sc, 1))
            sets = 2 if split else 1
            scales = bits[: sets * 3 * NBANDS * 6].reshape(-1, 6) @ (1 << np.arange(5, -1, -1))
            scales = scales.astype(np.uint8).reshape(sets, 3, NBANDS)
            n_flags, p = read_uvarint(data, 1 + n_sc, "detail block-flag map")
            if p + n_flags > len(data):
                raise ZVC69FormatError("detail block-flag map runs past the section", p)
            flags, p = data[p : p + n_flags], p + n_flags
            split_bytes = b""
            if split:
                n_split, p = read_uvarint(data, p, "detail 4x4 block map")
                if p + n_split > len(data):
                    raise ZVC69FormatError("detail 4x4 block map runs past the section", p)
                split_bytes, p = data[p : p + n_split], p + n_split
            return cls(level_steps(level, 4 if coarse else version), scales[0], flags,
                       data[p:], level, coarse, scales[1] if split else None, split_bytes)
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
    split: np.ndarray | None = None  # (ceil(H / 8), ceil(W / 8)) bool, blocks coded as 4x4

    def transforms(self) -> np.ndarray:
        """FrameStats.detail_blocks: 0 no coefficients, 1 one 8x8 transform, 2 four 4x4."""
        out = self.keep.astype(np.uint8)
        return out if self.split is None else out + self.split


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
                   split: np.ndarray | None = None) -> np.ndarray:
    """(3, NBANDS) table indexes -> (n, 3, 8, 8) int32, per coefficient; blocks where `split`
    (n,) is set (4x4 transforms) take `scales4` by `BANDS4`."""
    per = np.broadcast_to(scales.astype(np.int32)[:, BANDS], (n, 3, B, B))  # (3, 8, 8) each
    if scales4 is None or split is None or not split.any():
        return per
    return np.where(split[:, None, None, None], scales4.astype(np.int32)[:, BANDS4], per)


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
                  split: np.ndarray | None = None) -> np.ndarray:
    """(3, NBANDS) scale indexes plus per-coefficient offsets (n, 3, 8, 8), clipped."""
    base = _scale_indexes(scales, len(off), scales4, split)
    return np.clip(base + off, 0, SCALE_LEVELS - 1).astype(np.int32)


def table_indexes(q: np.ndarray, scales: np.ndarray, contexts: bool = True,
                  scales4: np.ndarray | None = None, split: np.ndarray | None = None
                  ) -> np.ndarray:
    """Table index of every coefficient of q (n, 3, 8, 8): its axis and band's scale (4x4
    blocks, `split`: from `scales4`), plus its context's offset (format 4) or not (format 3)."""
    return _with_offsets(scales, _offsets(q, contexts), scales4, split)


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


def decode_split(data: bytes, keep: np.ndarray) -> np.ndarray:
    """Inverse of `encode_split`: (rows, cols) bool; ZVC69FormatError if it is damaged."""
    if len(data) < 2 or (len(data) - 2) % 4:
        raise ZVC69FormatError("detail 4x4 block map is truncated", len(data))
    p = PROBS[_unnibble(data[:2], 3)]
    try:
        coder = constriction.stream.stack.AnsCoder(np.frombuffer(data[2:], "<u4").astype(np.uint32))
        split = decode_mask(coder, p, *keep.shape, keep)
    except ValueError as exc:
        raise ZVC69FormatError(f"detail 4x4 block map is invalid: {exc}", 2) from None
    if not coder.is_empty():
        raise ZVC69FormatError("detail 4x4 block map has data left over", 2)
    return split


def _passes() -> list[tuple[list[int], np.ndarray, np.ndarray]]:
    """Format 4 coding order: luma diagonal by diagonal, then both chroma axes together."""
    return [(axes, u, v) for axes in ([0], [1, 2]) for u, v in _DIAGS]


def encode_coefficients(q: np.ndarray, scales: np.ndarray,
                        idx: np.ndarray | None = None) -> bytes:
    """Format 4 coefficient stream of the flagged blocks' q (k, 3, 8, 8); idx: their
    `table_indexes`, when already known."""
    if idx is None:
        idx = table_indexes(q, scales)
    chunks = [(q[:, axes][:, :, u, v], idx[:, axes][:, :, u, v]) for axes, u, v in _passes()]
    return entropy.encode_gaussian_chunks(chunks, coef_tables())


def decode_coefficients(data: bytes, k: int, scales: np.ndarray,
                        scales4: np.ndarray | None = None,
                        split: np.ndarray | None = None) -> np.ndarray:
    """Inverse of `encode_coefficients`: q (k, 3, 8, 8) int32; `split` (k,): the 4x4 blocks."""
    q = np.zeros((k, 3, B, B), np.int32)
    dec = entropy.GaussianChunkDecoder(data, k * 3 * B * B, coef_tables())
    base = _scale_indexes(scales, k, scales4, split)
    for axes, u, v in _passes():
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


def inverse(q: np.ndarray, steps16: tuple[int, int], split: np.ndarray | None = None
            ) -> np.ndarray:
    """Quantised coefficients (n, 3, 8, 8) -> pixel residual (n, 3, 8, 8) int64 (RGB), in
    integer arithmetic only: identical on every machine. `split` (n,): blocks of four 4x4."""
    st = np.array([steps16[0], steps16[1], steps16[1]], np.int64)
    # Every value below is an integer under 2^53, so float64 products and sums are exact (in
    # any order, with or without FMA) and BLAS can do the matrix products. A valid stream's
    # |q * step16| is under 2^16 (8-bit residuals: |DC| <= 8 * 255 * sqrt(3) pixels);
    # clamping keeps corrupt ones in range too.
    c = np.clip(q.astype(np.int64) * st[None, :, None, None], -(1 << 16), 1 << 16)  # 1/16 px
    c = c.astype(np.float64)
    if split is None or not split.any():
        x = np.matmul(np.matmul(_D_INT_F.T, c), _D_INT_F)  # x 2^24, < 2^46
    else:  # the 4x4 matrix's entries are no larger
        x = np.empty_like(c)
        x[~split] = np.matmul(np.matmul(_D_INT_F.T, c[~split]), _D_INT_F)
        x[split] = np.matmul(np.matmul(_D4_INT_F.T, c[split]), _D4_INT_F)
    xi = (x.astype(np.int64) + (1 << 13)) >> 14  # 1/16 pixel x 2^10
    rgb = np.tensordot(_T_INT_F.T, xi.astype(np.float64), axes=(1, 1))  # (3, n, 8, 8) x 2^12
    return ((rgb.astype(np.int64) + (1 << 25)) >> 26).transpose(1, 0, 2, 3)  # / 2^26


def _apply(base: np.ndarray, res: np.ndarray, rows: int, cols: int) -> np.ndarray:
    h, w = base.shape[:2]
    r = _unblocks(res, rows, cols, h, w)  # (h, w, 3)
    return np.clip(base.astype(np.int64) + r, 0, 255).astype(np.uint8)


def _fit_scales(q: np.ndarray, off: np.ndarray, tables: entropy.GaussianTables,
                bands: np.ndarray = BANDS) -> np.ndarray:
    """Per axis and band (`bands`: BANDS, or BANDS4 for 4x4 blocks), the scale index that codes
    the symbols q (n, 3, 8, 8), with their table-index offsets `off` (`_offsets`), in the
    fewest bits, searched around the one matching their RMS."""
    out = np.zeros((3, NBANDS), np.uint8)
    for a in range(3):
        for b in range(NBANDS):
            m = bands == b
            s = q[:, a][:, m].ravel()
            if s.size == 0 or not s.any():
                continue
            o = off[:, a][:, m].ravel()
            rms = float(np.sqrt(np.mean(s.astype(np.float64) ** 2)))
            guess = round((64 * np.log(rms) - SCALE_LOG_BASE) / SCALE_INDEX_STEP
                          - float(np.mean(o)))
            keys, counts = np.unique(s.astype(np.int64) * 64 + (o + 32), return_counts=True)
            values = (keys // 64).astype(np.int32)  # each (symbol, offset) pair once
            offs = keys - 64 * values - 32  # |offset| < 32
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
    split: np.ndarray | None  # (n,) bool, blocks coded as four 4x4 transforms
    qk: np.ndarray  # (k, 3, 8, 8) the kept blocks' coefficients
    bits: np.ndarray  # (n,) bits of each block's coefficients
    net: float  # lambda x SSE removed minus the section's bits


def _quantise(c: np.ndarray, st: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dead-zone quantised coefficients of c (n, 3, 8, 8) and each block's SSE saved."""
    q = (np.sign(c) * np.floor(np.abs(c) / st + DEAD_ZONE)).astype(np.int32)
    return q, (c**2).sum((1, 2, 3)) - ((c - q * st) ** 2).sum((1, 2, 3))


# What a selection chose: blocks kept (n,), blocks split into 4x4 (n,) or None, the scales of
# 8x8 and of 4x4 blocks (None), bits of each block's coefficients (n,), kept blocks' indexes.
_Selection = tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None, np.ndarray,
                   np.ndarray]


def _select_plain(q: np.ndarray, gain: np.ndarray, lam: float, contexts: bool,
                  tables: entropy.GaussianTables) -> _Selection | None:
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
        bits_n = entropy.information_bits_gaussian(qn, idx_n, tables).sum((1, 2, 3))
        kept = lam * gain_n > bits_n + 1.0
    if not kept.any():
        return None
    keep = np.zeros(len(q), bool)
    keep[nz[kept]] = True
    bits = np.zeros(len(q))
    bits[nz] = bits_n
    return keep, None, scales, None, bits, idx_n[kept]


def _select_split(q8: np.ndarray, gain8: np.ndarray, q4: np.ndarray, gain4: np.ndarray,
                  lam: float, tables: entropy.GaussianTables) -> _Selection | None:
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
            bits = entropy.information_bits_gaussian(qs[t], idx, tables).sum((1, 2, 3))
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
    return keep, split, out[0][0], out[1][0], bits, idx


def _build(q: np.ndarray, gain: np.ndarray, choice: _Selection, grid_shape: tuple[int, int],
           head: tuple, lam: float, tables: entropy.GaussianTables) -> _Option:
    """Code the kept blocks of q (n, 3, 8, 8) as `choice` says: the section and what it nets.
    q, gain: each block's coefficients and SSE saved by the transform chosen for it; head:
    (steps16, level byte's level or 0, coarse)."""
    steps16, level, coarse = head
    keep, split, scales, scales4, bits, idx_k = choice
    qk = np.ascontiguousarray(q[keep])
    flags = encode_skip(~keep.reshape(grid_shape))
    idx_k = np.ascontiguousarray(idx_k)  # qk's rows, in the same order
    if level:
        coef = encode_coefficients(qk, scales, idx_k)
    else:
        coef = entropy.encode_gaussian(qk, idx_k, tables)
    split_bytes = b"" if split is None else encode_split(split.reshape(grid_shape),
                                                          keep.reshape(grid_shape))
    section = DetailSection(steps16, scales, flags, coef, level, coarse, scales4, split_bytes)
    return _Option(section, keep, split, qk, bits, lam * float(gain[keep].sum()) - section.bits())


def encode_detail(frame: np.ndarray, base: np.ndarray, level: int, prof: Profiler,
                  version: int = 5, weight: float = 1.0,
                  coarse: bool = False) -> CodedDetail | None:
    """Code frame - base ((H, W, 3) uint8 each) at `level`; None when it does not pay.
    version: the stream format (3: no context modelling, explicit steps; 4: format 4 steps;
    11: blocks may be four 4x4 transforms); weight: multiplies the level's price of
    distortion in the encoder's choices (blocks kept); coarse: format 5 with the level's
    format 4 steps."""
    tables = coef_tables()
    h, w = frame.shape[:2]
    rows, cols = grid(h, w)
    contexts = version >= 4
    coarse = coarse and version >= 5
    steps16 = level_steps(level, 4 if coarse else version)
    lam = weight * _bits_per_sse(level)
    q4 = gain4 = None
    with prof.stage("detail_transform"):
        r = frame.astype(np.float64) - base.astype(np.float64)
        blocks = _blocks(r, rows, cols)  # (n, 3, 8, 8) RGB
        x = np.tensordot(_T_FWD, blocks, axes=(1, 1)).transpose(1, 0, 2, 3)
        st = np.array([steps16[0], steps16[1], steps16[1]], np.float64)[None, :, None, None] / 16
        q, gain = _quantise(np.matmul(np.matmul(_D_FWD_T, x), _D_FWD_T.T), st)
        if version >= TRANSFORM4_FROM:
            q4, gain4 = _quantise(np.matmul(np.matmul(_D4_FWD_T, x), _D4_FWD_T.T), st)
    head = (steps16, level if contexts else 0, coarse)
    options = []
    with prof.stage("entropy_encode"):
        plain = _select_plain(q, gain, lam, contexts, tables)
        if plain is not None:
            options.append(_build(q, gain, plain, (rows, cols), head, lam, tables))
        if q4 is not None and gain4 is not None:
            split = _select_split(q, gain, q4, gain4, lam, tables)
            if split is not None:
                four = split[1]
                assert four is not None
                options.append(_build(np.where(four[:, None, None, None], q4, q),
                                      np.where(four, gain4, gain), split, (rows, cols), head,
                                      lam, tables))
    best = max(options, key=lambda o: o.net, default=None)
    if best is None or best.net <= 0:
        return None  # the whole layer does not pay for itself
    keep = best.keep
    with prof.stage("detail_transform"):
        res = np.zeros((len(q), 3, B, B), np.int64)
        res[keep] = inverse(best.qk, steps16, None if best.split is None else best.split[keep])
        recon = _apply(base, res, rows, cols)
    bits_map = np.where(keep, best.bits, 0.0).reshape(rows, cols).astype(np.float32)
    split_map = None if best.split is None else best.split.reshape(rows, cols)
    return CodedDetail(best.section, recon, bits_map, keep.reshape(rows, cols), split_map)


def decode_symbols(section: DetailSection, height: int, width: int, prof: Profiler,
                   keep: np.ndarray | None = None, split: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Entropy decoding only: (flagged-block mask (rows, cols), coefficients (k, 3, 8, 8),
    which of the k are four 4x4 transforms (None: none)); keep, split: the section's
    `flagged_blocks` and `decode_split` maps, when already decoded."""
    tables = coef_tables()
    with prof.stage("entropy_decode"):
        if keep is None:
            keep = flagged_blocks(section, height, width)
        k = int(keep.sum())
        if section.scales4 is None:
            split = None
        else:
            split = (decode_split(section.split_bytes, keep) if split is None else split)[keep]
        if section.contexts:
            return keep, decode_coefficients(section.coef_bytes, k, section.scales,
                                             section.scales4, split), split
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
        res[keep.ravel()] = inverse(q, section.steps16, split)
        frame = _apply(base, res, rows, cols)
    bits = np.zeros(rows * cols, np.float32)
    if len(q):
        bits[keep.ravel()] = entropy.information_bits_gaussian(
            q, table_indexes(q, section.scales, section.contexts, section.scales4, split),
            tables).sum((1, 2, 3))
    return frame, bits.reshape(rows, cols)


def split_grid(keep: np.ndarray, split: np.ndarray | None) -> np.ndarray | None:
    """`decode_symbols`' split (k,) of the flagged blocks -> (rows, cols) bool, or None."""
    if split is None:
        return None
    out = np.zeros(keep.shape, bool)
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
