"""Skip-mask coding: one context-modelled bit per block, ANS-coded with constriction.

The context of a block is the number of skipped causal neighbours (left, top; outside the
frame counts as not skipped), so 0, 1 or 2. Bits are coded in wavefront order (anti-diagonals
t = row + col, top to bottom within one), so the decoder handles a whole diagonal at once.

Stream layout::

    mode   u8   0: no block skipped, 1: every block skipped (nothing follows), 2: coded
    p0..p2 u8   P(skip | context) = p / 256 (p in 1..255)
    ans    the rest: uint32 little-endian ANS words
"""

from __future__ import annotations

from functools import lru_cache

import constriction
import numpy as np

from codec.errors import ZVC69FormatError

_BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)


def _contexts(mask: np.ndarray) -> np.ndarray:
    """Number of skipped left/top neighbours of every block of a (rows, cols) bool mask."""
    m = mask.astype(np.int32)
    ctx = np.zeros_like(m)
    ctx[:, 1:] += m[:, :-1]
    ctx[1:, :] += m[:-1, :]
    return ctx


@lru_cache(maxsize=16)
def _order(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat block indices in wavefront order and the start of each anti-diagonal in it."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    t = r + c
    order = np.argsort(t, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(t))))
    return order, bounds


def encode_skip(mask: np.ndarray) -> bytes:
    """Code a (rows, cols) bool skip mask."""
    if mask.ndim != 2 or mask.shape[0] < 1 or mask.shape[1] < 1:
        raise ValueError(f"expected a (rows, cols) mask, got shape {mask.shape}")
    m = mask.astype(bool)
    if not m.any():
        return b"\x00"
    if m.all():
        return b"\x01"
    ctx = _contexts(m).ravel()
    bits = m.ravel()
    ones = np.bincount(ctx, weights=bits, minlength=3)
    total = np.bincount(ctx, minlength=3)
    prob = np.where(total > 0, np.rint(256 * ones / np.maximum(total, 1)), 128)
    prob = np.clip(prob, 1, 255).astype(np.uint8)
    order, _ = _order(*m.shape)
    p = prob[ctx[order]].astype(np.float64) / 256
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(bits[order].astype(np.int32), _BERNOULLI, p)
    return b"\x02" + prob.tobytes() + coder.get_compressed().astype("<u4").tobytes()


def decode_mask(coder: constriction.stream.stack.AnsCoder, p_ctx: np.ndarray, rows: int,
                cols: int, where: np.ndarray | None = None) -> np.ndarray:
    """Pop a (rows, cols) bool mask coded in wavefront order with P(set | context) = p_ctx
    (context: set left and top neighbours); with `where`, only those blocks were coded (the
    others are False)."""
    order, bounds = _order(rows, cols)
    # Decoded bits in a frame with a zero border: block (r, c) lives at (r + 1, c + 1).
    out = np.zeros((rows + 1, cols + 1), dtype=np.int32)
    flat = out.ravel()
    r, c = np.divmod(order, cols)
    at = (r + 1) * (cols + 1) + c + 1
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        pos = at[s:e]
        if where is not None:
            pos = pos[where.ravel()[order[s:e]]]
            if not pos.size:
                continue
        ctx = flat[pos - 1] + flat[pos - cols - 1]
        flat[pos] = coder.decode(_BERNOULLI, p_ctx[ctx])
    return out[1:, 1:].astype(bool)


def decode_skip(data: bytes, rows: int, cols: int) -> np.ndarray:
    """Inverse of `encode_skip`: (rows, cols) bool; ZVC69FormatError if the data is corrupt."""
    if rows < 1 or cols < 1:
        raise ValueError(f"bad mask geometry rows={rows} cols={cols}")
    if len(data) == 0:
        raise ZVC69FormatError("skip-mask payload is empty", 0)
    mode = data[0]
    if mode in (0, 1):
        if len(data) != 1:
            raise ZVC69FormatError("constant skip mask has trailing bytes", 1)
        return np.full((rows, cols), bool(mode))
    if mode != 2:
        raise ZVC69FormatError(f"unknown skip-mask mode {mode}", 0)
    if len(data) < 4:
        raise ZVC69FormatError("skip-mask header is truncated", len(data))
    prob = np.frombuffer(data[1:4], dtype=np.uint8)
    if (prob == 0).any():
        raise ZVC69FormatError("skip-mask probability of zero", 1)
    if (len(data) - 4) % 4 or len(data) == 4:
        raise ZVC69FormatError("skip-mask ANS payload is empty or not whole 32-bit words", 4)
    p_ctx = prob.astype(np.float64) / 256
    words = np.frombuffer(data[4:], dtype="<u4").astype(np.uint32)
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        mask = decode_mask(coder, p_ctx, rows, cols)
    except ValueError as exc:
        raise ZVC69FormatError(f"skip-mask ANS payload is invalid: {exc}", 4) from None
    if not coder.is_empty():
        raise ZVC69FormatError("skip-mask ANS payload has data left over", 4)
    return mask
