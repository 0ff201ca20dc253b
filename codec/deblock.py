"""In-loop deblocking of the detail layer's 8x8 block edges (format 5).

The detail layer (detail.py) quantises 8x8 DCT blocks; at coarse steps neighbouring blocks'
errors differ and their shared edge shows a step. After the detail layer, each frame's
reconstruction is filtered across every 8x8 edge where a block on either side carries
coefficients, as H.264's normal-strength filter does: where the step across the edge is small
enough to be an artefact (|p0 - q0| < alpha) and both sides are smooth (|p1 - p0|, |q1 - q0| <
beta), p0 and q0 move toward each other by ((q0 - p0) * 4 + (p1 - q1) + 4) >> 3 clipped to
+-tc. Vertical edges first, then horizontal ones, on each RGB channel, clipping to 0..255 after
each; integer arithmetic only, so the decoder filters exactly as the encoder did. alpha, beta
and tc follow the level's quantiser step (`THRESHOLDS`). Format 11: the 4x4 edges inside a
block coded as four 4x4 transforms are filtered too, in the same passes.
"""

from __future__ import annotations

import numpy as np

from .detail import B, DetailSection
from .profiler import Profiler
from .regions import KIND_4X4, KIND_16, region_of

# (alpha, beta, tc) in 8-bit pixel units per quality level 1..8 (part of the format): alpha
# = 2 s, beta = tc = s / 2 (floor at 1), s = the per-pixel DC step of format 4's luma steps
# (STEPS16_V4 / 128), rounded. 12-frame runs, Q1/3/5/7, BD-rate Y against no filter:
# carphone +0.7, bigbuckbunny (640x360) -0.2, megamind (360x264) -1.4, sintel -4.2 %;
# (3 s, 3/4 s, 3/4 s): +0.1, -0.5, -1.0, -3.5 %; (1.5 s, 3/8 s, 1/4 s): +0.1, -0.1, -0.1, -2.7 %.
THRESHOLDS = ((28, 7, 7), (20, 5, 5), (14, 4, 4), (10, 3, 3), (7, 2, 2), (5, 1, 1), (4, 1, 1),
              (3, 1, 1))


def thresholds(level: int) -> tuple[int, int, int]:
    """(alpha, beta, tc) in 8-bit pixel units for quality level 1..8."""
    return THRESHOLDS[level - 1]


def _filter_edges(x: np.ndarray, active: np.ndarray, alpha: int, beta: int, tc: int,
                  step: int = B) -> None:
    """Filter the vertical edges at columns step, 2 step, ... of x (H, W, C) uint8 in place,
    clipping to 0..255; active (H, edges) bool says on which rows each edge may change."""
    n = min(active.shape[1], (x.shape[1] - 2) // step)  # edges with two pixels either side
    if n <= 0:
        return
    at = step * np.arange(1, n + 1)
    seg = x[:, (at[:, None] + np.arange(-2, 2)).ravel()].astype(np.int16)
    seg = seg.reshape(x.shape[0], n, 4, x.shape[2])
    p1, p0, q0, q1 = seg[:, :, 0], seg[:, :, 1], seg[:, :, 2], seg[:, :, 3]
    on = (active[:, :n, None] & (np.abs(p0 - q0) < alpha) & (np.abs(p1 - p0) < beta)
          & (np.abs(q1 - q0) < beta))
    delta = np.clip(((q0 - p0) * 4 + (p1 - q1) + 4) >> 3, -tc, tc) * on
    x[:, at - 1] = np.clip(p0 + delta, 0, 255)
    x[:, at] = np.clip(q0 - delta, 0, 255)


def _with_inner(edges: np.ndarray, split: np.ndarray) -> np.ndarray:
    """(rows, cols - 1) 8x8 edges and (rows, cols) split blocks -> (rows, 2 cols - 1) edges
    every 4 pixels: a split block's inner edge, then the edge after it, and so on."""
    out = np.zeros((split.shape[0], 2 * split.shape[1] - 1), bool)
    out[:, 0::2] = split
    out[:, 1::2] = edges
    return out


def deblock(frame: np.ndarray, keep: np.ndarray, level: int,
            split: np.ndarray | None = None) -> np.ndarray:
    """frame (H, W, 3) uint8 filtered across the 8x8 edges next to flagged blocks keep
    (ceil(H / 8), ceil(W / 8)) bool and, in format 11, the 4x4 edges inside split blocks:
    `split` is the blocks' kinds (detail.KIND_*; a bool array: True = four 4x4) on the same
    grid, and the 8x8 edges inside a 16x16 or 32x32 transform (format 15) are not filtered. All
    vertical edges left to right in one pass, then all horizontal ones."""
    h, w = frame.shape[:2]
    if not keep.any():
        return frame
    alpha, beta, tc = thresholds(level)
    x = frame.copy()
    kinds = None if split is None else split.astype(np.uint8)
    four = None if kinds is None else kinds == KIND_4X4
    inner = four is not None and bool(four.any())
    step = B // 2 if inner else B
    # vertical edges: between block columns j-1 and j, for j = 1..cols-1
    ev = keep[:, :-1] | keep[:, 1:]  # (rows, cols-1)
    eh = keep[:-1, :] | keep[1:, :]  # (rows-1, cols)
    if kinds is not None and (kinds >= KIND_16).any():  # not inside one 16x16 or 32x32
        region = region_of(kinds)
        ev &= ~((region[:, :-1] >= 0) & (region[:, :-1] == region[:, 1:]))
        eh &= ~((region[:-1] >= 0) & (region[:-1] == region[1:]))
    eh = eh.T  # (cols, rows-1)
    if inner:
        assert four is not None
        ev, eh = _with_inner(ev, four), _with_inner(eh, four.T)
    _filter_edges(x, np.repeat(ev, B, axis=0)[:h], alpha, beta, tc, step)
    _filter_edges(x.transpose(1, 0, 2), np.repeat(eh, B, axis=0)[:w], alpha, beta, tc, step)
    return x


def loop_filter(frame: np.ndarray, section: DetailSection, keep: np.ndarray, version: int,
                prof: Profiler, split: np.ndarray | None = None) -> np.ndarray:
    """The frame after a detail section, as encoder and decoder both keep it: deblocked in
    format 5 streams (sections of the format 4 layout, level > 0), else as it is; split: the
    (rows, cols) blocks' transforms (detail.KIND_*), or None (all 8x8)."""
    if version < 5 or not section.level:
        return frame
    with prof.stage("deblock"):
        return deblock(frame, keep, section.level, split)
