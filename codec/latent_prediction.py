"""Spatial prediction of latents (format 8.0): I-frames, and P-frame residuals where it pays.

The hyperprior's means live at 1/16 resolution but come from z at 1/64: they miss slow
gradients and flat areas, where neighbouring latents keep the same non-zero offset from their
mean. Each latent's residual (gained latent minus its mean) is therefore predicted from the
decoded residuals of its left, top, top-left and top-right neighbours in the same channel, by
one linear coefficient set per channel and model (fitted on training images:
`python -m codec.training.latent_prediction_fit`), and only the rounded difference is coded,
with the same scale-table index as before (the scales do not depend on the neighbours, so the
decoder entropy-decodes every symbol at once and rebuilds the latents afterwards).

Exact everywhere: coefficients are integers in 1/64 and decoded residuals are kept as integers
in 1/64 units (`FRAC_BITS`), so prediction is integer arithmetic. The latents are rebuilt one
wavefront at a time: all positions with the same 2*row + col only depend on earlier ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FRAC_BITS = 6
ONE = 1 << FRAC_BITS
# left, top, top-left, top-right: (row, col) offsets of the neighbours, in coefficient order
NEIGHBOURS = ((0, -1), (-1, 0), (-1, -1), (-1, 1))
_LIMIT = 1 << 40  # decoded residuals are clipped here: damaged data cannot overflow int64


def check_coefficients(coef: np.ndarray, channels: int) -> np.ndarray:
    """The model set's table as int64 (channels, 4); ValueError when its shape is wrong."""
    coef = np.asarray(coef)
    if coef.shape != (channels, len(NEIGHBOURS)) or coef.dtype.kind not in "iu":
        raise ValueError(f"latent prediction table has shape {coef.shape} ({coef.dtype}), "
                         f"expected ({channels}, {len(NEIGHBOURS)}) integers")
    return coef.astype(np.int64)


def _fronts(rows: int, cols: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(row, col) index arrays of each wavefront t = 2*row + col, in decoding order."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    t = 2 * r + c
    order = np.argsort(t, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(t))))
    return [(r[order[s:e]], c[order[s:e]]) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]


_Step = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _run(coef: np.ndarray, shape: tuple[int, ...], step: _Step) -> np.ndarray:
    """Walk the wavefronts: `step(r, c, pred)` gets each front's prediction (M, n) in 1/64
    units and returns the decoded residuals there (same units). Returns (M, rows, cols)."""
    m, rows, cols = shape
    # one zero row above and a zero column on either side: neighbours outside are 0
    rec = np.zeros((m, rows + 1, cols + 2), np.int64)
    for r, c in _fronts(rows, cols):
        nb = np.stack([rec[:, r + 1 + dr, c + 1 + dc] for dr, dc in NEIGHBOURS], -1)
        pred = (np.einsum("mnk,mk->mn", nb, coef) + ONE // 2) >> FRAC_BITS
        rec[:, r + 1, c + 1] = np.clip(step(r, c, pred), -_LIMIT, _LIMIT)
    return rec[:, 1:, 1:-1]


def quantise(resid: np.ndarray, coef: np.ndarray, zero: np.ndarray | None = None,
             skip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encoder: residuals (M, rows, cols) float32 -> (symbols int32, decoded residuals int64 in
    1/64 units). Positions where `zero` (rows, cols) is True get symbol 0 (their latent is
    left at its prediction: the cheapest); skipped positions (P-frames: not coded at all) get
    symbol 0 and residual 0 (their latent is the mean, as without prediction)."""
    sym = np.zeros(resid.shape, np.int32)
    scaled = resid.astype(np.float64) * ONE

    def step(r: np.ndarray, c: np.ndarray, pred: np.ndarray) -> np.ndarray:
        s = np.round((scaled[:, r, c] - pred) / ONE)
        if zero is not None:
            s[:, zero[r, c]] = 0
        out = pred + s.astype(np.int64) * ONE
        if skip is not None:
            s[:, skip[r, c]] = 0
            out[:, skip[r, c]] = 0
        sym[:, r, c] = s
        return out

    return sym, _run(coef, resid.shape, step)


def reconstruct(sym: np.ndarray, coef: np.ndarray, skip: np.ndarray | None = None) -> np.ndarray:
    """Decoder: symbols (M, rows, cols) -> decoded residuals, int64 in 1/64 units (0 where
    `skip` is True)."""
    s64 = sym.astype(np.int64) * ONE

    def step(r: np.ndarray, c: np.ndarray, pred: np.ndarray) -> np.ndarray:
        out = pred + s64[:, r, c]
        if skip is not None:
            out[:, skip[r, c]] = 0
        return out

    return _run(coef, sym.shape, step)


def to_float(rec: np.ndarray) -> np.ndarray:
    """Decoded residuals in 1/64 units -> float32 latent units (exact below 2**24)."""
    return rec.astype(np.float32) * np.float32(1.0 / ONE)
