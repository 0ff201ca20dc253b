"""Bi-directional prediction of B-frames: per motion block, the forward prediction (from the
reference before the frame in display order), the backward one (from the reference after it)
or their average, and the coding of that choice.

The choice is by squared error against the source over the block (all three channels), plus
the mode's bits in the map where the encoder prices them (`choose_modes`' bit_sse), made
once by the encoder and sent: the decoder blends the two warped references with the decoded
mode map, by the same float32 operations, so both get the same prediction.

Per frame, the vectors may be coded as differences from a temporal prediction
(`temporal_prediction`): the field of the reference after the frame, which points back over a
known number of frames, scaled to the B-frame's distances; where motion is steady the
differences are zero. The encoder uses it where that makes the motion sections shorter.

Mode map layout: LEB128 length of the first map, then two context-coded bit maps (skip.py's
coder): "one reference only" per block, then "the backward one" (False wherever the first is
False).
"""

from __future__ import annotations

import numpy as np

from .errors import ZVC69FormatError
from .skip import decode_skip, encode_skip
from .varint import pack_uvarint, read_uvarint

FORWARD, BACKWARD, BOTH = 0, 1, 2
PRICE_ROUNDS = 3  # refits of the mode frequencies that price the map (`choose_modes`)
MODE_NAMES = ("forward", "backward", "both")


def _per_pixel(modes: np.ndarray, block: int, h: int, w: int) -> np.ndarray:
    """The (h, w, 1) mode of every pixel."""
    return np.repeat(np.repeat(modes, block, 0), block, 1)[:h, :w, None]


def _block_sse(err: np.ndarray, block: int, rows: int, cols: int) -> np.ndarray:
    """Sum of a (h, w, c) squared error over each block of a (rows, cols) grid."""
    h, w = err.shape[:2]
    pad = np.zeros((rows * block, cols * block), np.float64)
    pad[:h, :w] = err.sum(2)
    return pad.reshape(rows, block, cols, block).sum((1, 3))


def average(pred_f: np.ndarray, pred_b: np.ndarray) -> np.ndarray:
    """The bi-directional prediction: the mean of the two, float32."""
    return (pred_f.astype(np.float32) + pred_b.astype(np.float32)) * np.float32(0.5)


def choose_modes(frame: np.ndarray, pred_f: np.ndarray, pred_b: np.ndarray,
                 block: int, bit_sse: float = 0.0) -> np.ndarray:
    """Per block of the (rows, cols) motion grid, the mode whose prediction is closest to
    `frame` in squared error; ties go to BOTH (averaging also halves the references' noise).
    With bit_sse > 0 (the SSE a bit is worth), each mode's cost adds its bits in the map as
    the frame's own mode frequencies price them, refitted `PRICE_ROUNDS` times."""
    h, w = frame.shape[:2]
    rows, cols = -(-h // block), -(-w // block)
    src = frame.astype(np.float32)
    costs = np.stack([_block_sse((p - src) ** 2, block, rows, cols)
                      for p in (pred_f, pred_b, average(pred_f, pred_b))])
    modes = (BOTH - np.argmin(costs[::-1], axis=0)).astype(np.uint8)  # reversed: BOTH on ties
    for _ in range(PRICE_ROUNDS if bit_sse > 0 else 0):
        one = modes != BOTH
        p1 = (np.count_nonzero(one) + 0.5) / (modes.size + 1.0)
        p2 = (np.count_nonzero(modes == BACKWARD) + 0.5) / (np.count_nonzero(one) + 1.0)
        bits = -np.log2([p1 * (1 - p2), p1 * p2, 1 - p1])
        total = costs + (bits * bit_sse)[:, None, None]
        modes = (BOTH - np.argmin(total[::-1], axis=0)).astype(np.uint8)
    return modes


def blend(pred_f: np.ndarray, pred_b: np.ndarray, modes: np.ndarray, block: int) -> np.ndarray:
    """The B-frame prediction: per block forward, backward or their average (float32)."""
    h, w = pred_f.shape[:2]
    m = _per_pixel(modes, block, h, w)
    avg = average(pred_f, pred_b)
    return np.where(m == FORWARD, pred_f, np.where(m == BACKWARD, pred_b, avg)).astype(
        np.float32, copy=False)


def temporal_prediction(field: np.ndarray, span: int, before: int, after: int,
                        precision: int) -> tuple[np.ndarray, np.ndarray]:
    """A B-frame's predicted (forward, backward) vector fields, assuming constant motion: the
    reference after the B-frame has a field pointing back over `span` frames; the B-frame lies
    `before` frames after its reference before and `after` frames before its reference after.
    Each block takes its co-located vector scaled, rounded to 1/precision pel (float32)."""
    u = field.astype(np.float64) / span
    fwd = np.rint(u * (before * precision)) / precision
    bwd = np.rint(u * (-after * precision)) / precision
    return fwd.astype(np.float32), bwd.astype(np.float32)


def fill_unused(mv: np.ndarray, unused: np.ndarray) -> np.ndarray:
    """A copy of a (rows, cols, 2) field whose vectors at `unused` blocks (a direction the
    block's mode does not use) equal their median prediction (the rule of
    mvcoding.median_predictor, applied one block at a time because a filled block is the
    neighbour of the next), so their coded differences are zero; in raster order, which
    every predictor's neighbours precede."""
    out = mv.astype(np.float32, copy=True)
    rows, cols = out.shape[:2]
    for r, c in zip(*np.nonzero(unused), strict=True):
        if r == 0:
            out[r, c] = out[r, c - 1] if c else 0.0
            continue
        top = out[r - 1, c]
        left = out[r, c - 1] if c else top
        tr = out[r - 1, c + 1] if c + 1 < cols else (out[r - 1, c - 1] if cols > 1 else top)
        out[r, c] = np.maximum(np.minimum(left, top), np.minimum(np.maximum(left, top), tr))
    return out


def encode_modes(modes: np.ndarray) -> bytes:
    """Code a (rows, cols) mode map."""
    if modes.ndim != 2 or modes.size == 0 or int(modes.max()) > BOTH:
        raise ValueError(f"expected a (rows, cols) map of modes 0..2, got {modes.shape}")
    single = encode_skip(modes != BOTH)
    return pack_uvarint(len(single)) + single + encode_skip(modes == BACKWARD)


def decode_modes(data: bytes, rows: int, cols: int) -> np.ndarray:
    """Inverse of `encode_modes`; ZVC69FormatError if the data is corrupt."""
    n, p = read_uvarint(data, 0, "B-frame mode map length")
    if p + n >= len(data):
        raise ZVC69FormatError(f"B-frame mode map ({p + n} bytes and more) runs past its "
                               f"section ({len(data)} bytes)", p)
    single = decode_skip(data[p : p + n], rows, cols)
    back = decode_skip(data[p + n :], rows, cols)
    if (back & ~single).any():
        raise ZVC69FormatError("B-frame mode map names the backward reference alone on a "
                               "block that uses both", p + n)
    modes = np.full((rows, cols), BOTH, np.uint8)
    modes[single] = FORWARD
    modes[back] = BACKWARD
    return modes
