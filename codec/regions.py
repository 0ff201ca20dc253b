"""Larger transforms in the detail layer: 16x16 and 32x32 regions (format 15), 64x64 (17).

A region is a square of 2x2, 4x4 or 8x8 of the detail layer's 8x8 blocks (codec/detail.py),
all flagged, coded as one 16x16, 32x32 or 64x64 DCT. This module holds what is fixed about them: the
integer transform matrices (x 4096, like the 8x8 one; exact in float64 sums), the frequency
that each coefficient of each block of a region stands for (the detail layer turns it into a
band), the block kinds (`KIND_*`) and the region geometry that encoder, decoder, deblocking and
analyzer share. The coefficients of a region are laid out over its blocks by quadrant: block
(a, b) holds C(8a + u, 8b + v) at (u, v), so coefficient coding stays per 8x8 block.
"""

from __future__ import annotations

import numpy as np

B = 8  # the detail layer's block size
TRANSFORM16_FROM = 15  # the format with 16x16 and 32x32 regions
WIDE = 0x40  # detail section level byte: the section has 16x16 regions
WIDE32 = 0x80  # ... 32x32 regions
TRANSFORM64_FROM = 17  # the format with 64x64 regions (and the level byte's new layout)
WIDE64 = 0x08  # format 17 level byte (level - 1 in bits 0-2): the section has 64x64 regions

# The 16-point DCT-II, orthonormal, times 4096 (rounded): the decoder's transform, in integers.
D16_INT = np.array([
    [1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024,
     1024],
    [1441, 1386, 1277, 1119, 919, 683, 420, 142, -142, -420, -683, -919, -1119, -1277, -1386,
     -1441],
    [1420, 1204, 805, 283, -283, -805, -1204, -1420, -1420, -1204, -805, -283, 283, 805, 1204,
     1420],
    [1386, 919, 142, -683, -1277, -1441, -1119, -420, 420, 1119, 1441, 1277, 683, -142, -919,
     -1386],
    [1338, 554, -554, -1338, -1338, -554, 554, 1338, 1338, 554, -554, -1338, -1338, -554, 554,
     1338],
    [1277, 142, -1119, -1386, -420, 919, 1441, 683, -683, -1441, -919, 420, 1386, 1119, -142,
     -1277],
    [1204, -283, -1420, -805, 805, 1420, 283, -1204, -1204, 283, 1420, 805, -805, -1420, -283,
     1204],
    [1119, -683, -1386, 142, 1441, 420, -1277, -919, 919, 1277, -420, -1441, -142, 1386, 683,
     -1119],
    [1024, -1024, -1024, 1024, 1024, -1024, -1024, 1024, 1024, -1024, -1024, 1024, 1024, -1024,
     -1024, 1024],
    [919, -1277, -420, 1441, -142, -1386, 683, 1119, -1119, -683, 1386, 142, -1441, 420, 1277,
     -919],
    [805, -1420, 283, 1204, -1204, -283, 1420, -805, -805, 1420, -283, -1204, 1204, 283, -1420,
     805],
    [683, -1441, 919, 420, -1386, 1119, 142, -1277, 1277, -142, -1119, 1386, -420, -919, 1441,
     -683],
    [554, -1338, 1338, -554, -554, 1338, -1338, 554, 554, -1338, 1338, -554, -554, 1338, -1338,
     554],
    [420, -1119, 1441, -1277, 683, 142, -919, 1386, -1386, 919, -142, -683, 1277, -1441, 1119,
     -420],
    [283, -805, 1204, -1420, 1420, -1204, 805, -283, -283, 805, -1204, 1420, -1420, 1204, -805,
     283],
    [142, -420, 683, -919, 1119, -1277, 1386, -1441, 1441, -1386, 1277, -1119, 919, -683, 420,
     -142],
], np.int64)
D16_INT_F = D16_INT.astype(np.float64)
# The 32-point DCT-II x 4096, built with integers only from round(1024 cos(pi m / 64)),
# m = 0..32 (its DC row 724).
COS32 = np.array([1024, 1023, 1019, 1013, 1004, 993, 980, 964, 946, 926, 903, 878, 851, 822,
                  792, 759, 724, 688, 650, 610, 569, 526, 483, 438, 392, 345, 297, 249, 200,
                  150, 100, 50, 0], np.int64)


def _dct_int(n: int, cos: np.ndarray, dc: int) -> np.ndarray:
    """The n-point DCT-II x 4096 from its quarter-wave table cos[m] ~ cos(pi m / 2n), m = 0..n:
    row k, column j is cos[m] with m = (2j + 1) k mod 4n reflected into 0..n (minus between n
    and 3n), and the DC row is `dc`. Integers only."""
    m = (2 * np.arange(n)[None, :] + 1) * np.arange(n)[:, None] % (4 * n)
    sign = np.where((m > n) & (m < 3 * n), -1, 1)
    fold = np.where(m <= n, m, np.where(m <= 2 * n, 2 * n - m,
                                        np.where(m <= 3 * n, m - 2 * n, 4 * n - m)))
    out = sign * cos[fold]
    out[0] = dc
    return out


D32_INT = _dct_int(32, COS32, 724)
D32_INT_F = D32_INT.astype(np.float64)
# The 64-point DCT-II x 4096 likewise from round(4096 sqrt(2 / 64) cos(pi m / 128)), m = 0..64
# (its DC row 512).
COS64 = np.array([724, 724, 723, 722, 721, 719, 716, 713, 710, 706, 702, 698, 693, 688, 682,
                  676, 669, 662, 655, 647, 639, 630, 621, 612, 602, 592, 582, 571, 560, 548,
                  537, 524, 512, 499, 486, 473, 459, 445, 431, 417, 402, 387, 372, 357, 341,
                  326, 310, 293, 277, 261, 244, 227, 210, 193, 176, 159, 141, 124, 106, 89,
                  71, 53, 36, 18, 0], np.int64)
D64_INT = _dct_int(64, COS64, 512)
D64_INT_F = D64_INT.astype(np.float64)
# The encoder's forward transforms: exact inverses of the decoder's fixed-point ones.
D16_FWD_T = np.linalg.inv(D16_INT_F / 4096).T
D32_FWD_T = np.linalg.inv(D32_INT_F / 4096).T
D64_FWD_T = np.linalg.inv(D64_INT_F / 4096).T


def _frequencies(n: int, div: int, bias: int) -> np.ndarray:
    """(n * n, 8, 8): for each coefficient of each block of an (8n)^2 region, the 8x8
    frequency u + v (0..14) its (U, V) stands for, (U + V + bias) // div."""
    f = np.add.outer(np.arange(B * n), np.arange(B * n))
    return np.stack([np.minimum((f[B * a:B * a + B, B * b:B * b + B] + bias) // div, 14)
                     for a in range(n) for b in range(n)])


FREQ16 = _frequencies(2, 2, 1)  # (4, 8, 8): by block of the region
FREQ32 = _frequencies(4, 4, 3)  # (16, 8, 8)
FREQ64 = _frequencies(8, 8, 7)  # (64, 8, 8)

# A flagged block's transform (`detail.block_kinds`): one 8x8, four 4x4, or the block at (a, b)
# of a 16x16 region (KIND_16 + 2a + b), of a 32x32 region (KIND_32 + 4a + b) or of a 64x64
# region (KIND_64 + 8a + b).
KIND_8X8, KIND_4X4, KIND_16, KIND_32, KIND_64 = 0, 1, 2, 6, 22
# Region sizes: blocks per side, first kind, forward and inverse matrices, frequencies.
SIZES = {16: (2, KIND_16, D16_FWD_T, D16_INT_F, FREQ16),
         32: (4, KIND_32, D32_FWD_T, D32_INT_F, FREQ32),
         64: (8, KIND_64, D64_FWD_T, D64_INT_F, FREQ64)}


def transform_map(keep: np.ndarray, kinds: np.ndarray | None) -> np.ndarray:
    """FrameStats.detail_blocks: 0 no coefficients, 1 one 8x8 transform, 2 four 4x4, 3 part
    of a 16x16 transform, 4 part of a 32x32 one, 5 part of a 64x64 one."""
    out = keep.astype(np.uint8)
    if kinds is None:
        return out
    return (out + (kinds == KIND_4X4) + 2 * (kinds >= KIND_16) + (kinds >= KIND_32)
            + (kinds >= KIND_64))


def region_of(kinds: np.ndarray) -> np.ndarray:
    """(rows, cols) int64: for a block of a 16x16, 32x32 or 64x64 region, the raster index of the
    region's top-left block; -1 for other blocks. Blocks of one transform share a number."""
    rows, cols = kinds.shape
    r, c = np.mgrid[:rows, :cols]
    out = np.full(kinds.shape, -1, np.int64)
    for n, first, *_ in SIZES.values():
        s = kinds.astype(np.int64) - first
        m = (s >= 0) & (s < n * n)
        out[m] = (r[m] - s[m] // n) * cols + c[m] - s[m] % n
    return out


def region_blocks(rows: int, cols: int, n: int = 2) -> np.ndarray:
    """(rows // n * cols // n, n * n) indexes into the (rows, cols) 8x8 grid of the blocks of
    each whole region of n x n blocks (raster order of regions, and of blocks inside one)."""
    r, c = rows // n, cols // n
    idx = np.arange(rows * cols).reshape(rows, cols)[: n * r, : n * c]
    return idx.reshape(r, n, c, n).transpose(0, 2, 1, 3).reshape(r * c, n * n)


def whole_regions(keep: np.ndarray, n: int = 2) -> np.ndarray:
    """(rows // n, cols // n) bool: regions of n x n blocks all set in `keep`, the ones that
    may be one (8n)x(8n) transform."""
    r, c = keep.shape[0] // n, keep.shape[1] // n
    return keep.ravel()[region_blocks(*keep.shape, n)].all(1).reshape(r, c)
