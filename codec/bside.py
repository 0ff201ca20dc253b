"""A B-frame's side information as one entropy-coded section (format 10.0): its mode map and
both motion fields, where format 9 wrote three sections with a header and an ANS stream each
(about 35 bytes of headers and stream ends per B-frame, more than the content of a small
frame's fields at low rates).

Vectors a block's mode does not use are not coded: they equal their median prediction (their
difference is zero), as format 9's encoder made them (`bipred.fill_unused`). Differences are
taken after the optional temporal prediction, as in format 9. The frame's CRC guards the
section (no per-field check value).

Layout::

    flags  u8   bit 0: mode map coded (else every block uses both references)
                bit 1: forward differences coded (else all zero), bit 2: backward ones
    modes  2 u8 with bit 0: probability codes (`PROBS`, 4 bits, low nibble first) of "one
                reference only" by context 0..2 (one-only left and top neighbours), then
                of "the backward one" among those by context 0..2 (backward left and top)
    nz     2 u8 per coded field (bit 1, then bit 2): codes of P(difference not zero) by
                context 0..3 (mvcoding's: non-zero top-left, top, top-right neighbours)
    fits   6 u8 with bit 1 or 2: (zero level, decay) of x, of y where x != 0, of y where
                x == 0 (mvcoding._pmf), shared by both fields
    ans    the rest: uint32 ANS words

Decoding order: "one only" bits in wavefront order (mask coding as skip.py), "backward" bits
of one-only blocks in wavefront order, then per coded field the non-zero flags row by row of
the blocks that use the field, then x symbols (forward field's non-zero blocks, then the
backward field's, raster order each), y symbols where x != 0, where x == 0, then escapes
(mvcoding's code, in the order of their ESC symbols).
"""

from __future__ import annotations

import constriction
import numpy as np

from .bipred import BACKWARD, BOTH, FORWARD
from .errors import ZVC69FormatError
from .mvcoding import (
    _BERNOULLI,
    _row_contexts,
    nonzero_contexts,
    pop_differences,
    push_differences,
)
from .skip import _contexts, _order, decode_mask

CODED_MODES, CODED_F, CODED_B = 1, 2, 4
# Probabilities a 4-bit code names (n / 256), denser near 0 and 1 where maps sit
PROBS = np.array([2, 5, 10, 18, 32, 52, 80, 110, 146, 176, 204, 224, 238, 246, 251, 254],
                 dtype=np.float64) / 256.0


def _prob_code(ones: int, total: int) -> int:
    """The PROBS code that codes `ones` set bits of `total` in the fewest bits."""
    cost = -(ones * np.log2(PROBS) + (total - ones) * np.log2(1 - PROBS))
    return int(np.argmin(cost))


def _codes(bits: np.ndarray, ctx: np.ndarray, n_ctx: int) -> list[int]:
    ones = np.bincount(ctx, weights=bits, minlength=n_ctx)
    total = np.bincount(ctx, minlength=n_ctx)
    return [_prob_code(int(o), int(t)) for o, t in zip(ones, total, strict=True)]


def _nibbles(codes: list[int]) -> bytes:
    codes = codes + [0] * (len(codes) % 2)
    return bytes(codes[i] | codes[i + 1] << 4 for i in range(0, len(codes), 2))


def _unnibble(data: bytes, n: int) -> np.ndarray:
    raw = np.frombuffer(data, dtype=np.uint8)
    return np.stack([raw & 15, raw >> 4], axis=1).ravel()[:n]


def encode_bside(d_f: np.ndarray, d_b: np.ndarray, modes: np.ndarray) -> bytes:
    """Code a B-frame's (rows, cols) mode map and its two (rows, cols, 2) integer difference
    fields (vectors in 1/precision pel minus their median prediction); differences of vectors
    a block does not use must be zero."""
    rows, cols = modes.shape
    if d_f.shape != (rows, cols, 2) or d_b.shape != d_f.shape or int(modes.max()) > BOTH:
        raise ValueError(f"expected (rows, cols, 2) fields and a mode map, got {d_f.shape}, "
                         f"{d_b.shape}, {modes.shape}")
    uses = (modes != BACKWARD, modes != FORWARD)
    if d_f[~uses[0]].any() or d_b[~uses[1]].any():
        raise ValueError("a vector the block's mode does not use has a non-zero difference")
    head = bytearray([0])
    pushes: list[tuple[np.ndarray, np.ndarray]] = []  # (bits, probabilities), decoding order
    order, _ = _order(rows, cols)
    single = modes != BOTH
    if single.any():
        head[0] |= CODED_MODES
        ctx1 = _contexts(single).ravel()[order]
        back = (modes == BACKWARD).ravel()[order]
        ctx2 = _contexts(modes == BACKWARD).ravel()[order]
        sel = single.ravel()[order]
        c1, c2 = _codes(single.ravel()[order], ctx1, 3), _codes(back[sel], ctx2[sel], 3)
        head += _nibbles(c1 + c2)
        pushes.append((single.ravel()[order], PROBS[c1][ctx1]))
        pushes.append((back[sel], PROBS[c2][ctx2[sel]]))
    diffs = []
    for flag, d, use in zip((CODED_F, CODED_B), (d_f, d_b), uses, strict=True):
        nz = (d != 0).any(-1)
        if not nz.any():
            continue
        head[0] |= flag
        ctx = nonzero_contexts(nz)[use]
        c = _codes(nz[use], ctx, 4)
        head += _nibbles(c)
        pushes.append((nz[use], PROBS[c][ctx]))
        diffs.append(d[nz])
    coder = constriction.stream.stack.AnsCoder()
    if diffs:
        head += push_differences(coder, np.concatenate(diffs))
    for sym, probs in pushes[::-1]:
        coder.encode_reverse(sym.astype(np.int32), _BERNOULLI, probs)
    return bytes(head) + coder.get_compressed().astype("<u4").tobytes()


def decode_bside(data: bytes, rows: int, cols: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `encode_bside`: (forward differences, backward differences, mode map);
    ZVC69FormatError naming the problem if the section is damaged."""
    if len(data) < 1 or data[0] & ~(CODED_MODES | CODED_F | CODED_B):
        raise ZVC69FormatError("B-frame side section is empty or has unknown flags", 0)
    flags = data[0]
    n_fields = bool(flags & CODED_F) + bool(flags & CODED_B)
    p = 1 + 3 * bool(flags & CODED_MODES) + 2 * n_fields + 6 * (n_fields > 0)
    if len(data) < p or (len(data) - p) % 4:
        raise ZVC69FormatError("B-frame side section is truncated", len(data))
    try:
        return _decode(data, rows, cols, flags, p)
    except (ValueError, OverflowError) as exc:
        raise ZVC69FormatError(f"B-frame side section is invalid: {exc}", p) from None


def _decode(data: bytes, rows: int, cols: int, flags: int, p: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coder = constriction.stream.stack.AnsCoder(np.frombuffer(data[p:], dtype="<u4")
                                               .astype(np.uint32))
    q = 1
    modes = np.full((rows, cols), BOTH, np.uint8)
    if flags & CODED_MODES:
        codes = _unnibble(data[q : q + 3], 6)
        q += 3
        single = decode_mask(coder, PROBS[codes[:3]], rows, cols)
        back = decode_mask(coder, PROBS[codes[3:]], rows, cols, single)
        modes[single] = FORWARD
        modes[back] = BACKWARD
    uses = (modes != BACKWARD, modes != FORWARD)
    nzs = []
    for flag, use in zip((CODED_F, CODED_B), uses, strict=True):
        nz = np.zeros((rows, cols), dtype=bool)
        if flags & flag:
            probs = PROBS[_unnibble(data[q : q + 2], 4)]
            q += 2
            above = np.zeros(cols, dtype=bool)
            for r in range(rows):
                at = use[r]
                if at.any():
                    nz[r, at] = coder.decode(_BERNOULLI, probs[_row_contexts(above)[at]]) != 0
                above = nz[r]
        nzs.append(nz)
    out = [np.zeros((rows, cols, 2), dtype=np.int64) for _ in range(2)]
    m = int(nzs[0].sum() + nzs[1].sum())
    if m:
        dn = pop_differences(coder, m, data[q : q + 6], q)
        k = int(nzs[0].sum())
        out[0][nzs[0]], out[1][nzs[1]] = dn[:k], dn[k:]
    elif flags & (CODED_F | CODED_B):
        raise ZVC69FormatError("B-frame side section codes fields with no non-zero vector", 0)
    if not coder.is_empty():
        raise ZVC69FormatError("B-frame side section has data left over", p)
    return out[0], out[1], modes
