"""Encoder speed presets (x264 names): motion-search effort traded against prediction quality.

Only the inter-prediction stages read a preset; the bitstream does not depend on it beyond the
motion-block size and vector precision, which the encoder writes into each P-frame.

| preset | block | range | wide | levels | subpel | iters | cands | mv trials | groups tried |
|---|---|---|---|---|---|---|---|---|---|
| ultrafast | 16 | 16 | - | 3 | 1 | 1 | 1 | 1 | none |
| superfast | 16 | 16 | - | 3 | 2 | 1 | 1 | 1 | none |
| veryfast | 16 | 24 | - | 3 | 2 | 1 | 2 | 1 | none |
| faster | 16 | 24 | - | 3 | 2 | 2 | 2 | 1 | none |
| fast | 16 | 32 | 128 | 4 | 2 | 2 | 3 | 1 | none |
| medium | 16 | 32 | 256 | 4 | 4 | 2 | 3 | 1, 4 | every 4th |
| slow | 16 | 48 | 256 | 4 | 4 | 3 | 4 | 1, 4 | every 4th |
| slower | 8 | 48 | 256 | 4 | 4 | 3 | 4 | 0.5, 1, 2, 4 | every one |
| veryslow | 8 | 64 | 256 | 4 | 4 | 4 | 6 | 0.5, 1, 2, 4 | every one |

Wide search: handheld or fast footage moves further than the range between a P-frame and its
reference four frames back (room_handheld at 10.5 fps: block-match prediction 18.8 dB at range
32, 27.7 dB at 256, luma PSNR over six frame pairs). Where every field of the rate-weight
trials has vectors at the range's edge on at least `WIDE_TRIGGER` of its blocks, the encoder
also searches within `wide_range` and takes the wide fields' best where it costs less in
motion bits + lambda x SSE about each 8x8 block's mean (`codec.encoder.StreamEncoder._motion`):
a search that wide finds far matches of mere brightness in fades (sintel's opening: +53 % bits
at Q1 when always taken), which that measure does not reward.

The block size is 8 or 16; from format 14 the encoder at medium and slower also tries 32x32
blocks on P-frames (as on B-frames) and keeps the field that costs less
(`codec.encoder.P_BLOCKS_TRIED`). A 16x16 cell of the residual coder's 1/16-resolution latent
grid holds one 16-pixel or four 8-pixel motion blocks, or lies in one 32-pixel block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Preset:
    """Motion-search parameters.

    block: motion block size in pixels (8 or 16; B-frames and format 14 P-frames may try 32).
    search_range: largest vector component in pixels.
    levels: pyramid levels (1 = full resolution only); the exhaustive search runs at the top.
    subpel: vector precision as a denominator: 1 integer, 2 half, 4 quarter pel.
    refine_iters: candidate + 3x3-step refinement passes per pyramid level.
    candidates: most frequent vectors of the field tried for every block at each level.
    mv_lambda: rate weight, in block SAD (luma on a 0..1 scale) per estimated bit of the
        vector's difference from the neighbour-median predictor; favours smooth, cheap fields.
    mv_trials: multiples of mv_lambda the encoder searches a field with; of several, it keeps
        the field with the lowest coded motion bits + weighted prediction error
        (`codec.encoder.StreamEncoder._motion`), so noisy content gets a smooth field and
        detailed motion keeps its vectors.
    wide_range: 0, or a second, larger range searched where the first one is too short
        (`needs_wide`).
    group_trials: with B-frames, the encoder codes the first two groups of a GOP and every
        `group_trials`-th after them with each structure (0, 1 or the most B-frames) and keeps
        the cheapest (`codec.encoder.StreamEncoder._try_structures`); the groups between
        reuse the last choice. 0: every group has the most B-frames.
    """

    name: str
    block: int
    search_range: int
    levels: int
    subpel: int
    refine_iters: int
    candidates: int
    mv_lambda: float = 0.08
    mv_trials: tuple[float, ...] = (1.0,)
    group_trials: int = 0
    wide_range: int = 0

    def __post_init__(self) -> None:
        if self.block not in (8, 16, 32):  # (32: B-frames only)
            raise ValueError(f"block must be 8, 16 or 32, got {self.block}")
        if self.subpel not in (1, 2, 4):
            raise ValueError(f"subpel must be 1, 2 or 4, got {self.subpel}")
        if min(self.search_range, self.levels, self.refine_iters) < 1 or self.candidates < 0:
            raise ValueError("search_range, levels, refine_iters >= 1 and candidates >= 0")
        if not self.mv_trials or min(self.mv_trials) <= 0:
            raise ValueError("mv_trials must be positive rate-weight multiples")
        if self.wide_range and self.wide_range <= self.search_range:
            raise ValueError("wide_range must be 0 or larger than search_range")
        if self.group_trials < 0:
            raise ValueError("group_trials must be >= 0")


_ONE, _TWO, _FOUR = (1.0,), (1.0, 4.0), (0.5, 1.0, 2.0, 4.0)
_TABLE = (
    # name, block, range, levels, subpel, iters, candidates, rate-weight trials, group trials,
    # wide range
    ("ultrafast", 16, 16, 3, 1, 1, 1, _ONE, 0, 0),
    ("superfast", 16, 16, 3, 2, 1, 1, _ONE, 0, 0),
    ("veryfast", 16, 24, 3, 2, 1, 2, _ONE, 0, 0),
    ("faster", 16, 24, 3, 2, 2, 2, _ONE, 0, 0),
    ("fast", 16, 32, 4, 2, 2, 3, _ONE, 0, 128),
    ("medium", 16, 32, 4, 4, 2, 3, _TWO, 4, 256),
    ("slow", 16, 48, 4, 4, 3, 4, _TWO, 4, 256),
    ("slower", 8, 48, 4, 4, 3, 4, _FOUR, 1, 256),
    ("veryslow", 8, 64, 4, 4, 4, 6, _FOUR, 1, 256),
)

PRESETS: dict[str, Preset] = {
    r[0]: Preset(*r[:7], mv_trials=r[7], group_trials=r[8], wide_range=r[9]) for r in _TABLE
}
# Share of a field's blocks with a vector component at the search range's edge (within a
# pixel) from which the encoder also searches within the wide range.
WIDE_TRIGGER = 0.01


def needs_wide(preset: Preset, fields: list[np.ndarray]) -> bool:
    """Whether every field searched with `preset` (one per rate-weight trial) reaches the edge
    of its range on `WIDE_TRIGGER` of its blocks: then a search within `preset.wide_range` may
    find better matches."""
    if not preset.wide_range or not fields:
        return False
    edge = preset.search_range - 1
    return all(float(np.mean(np.abs(f).max(axis=-1) >= edge)) >= WIDE_TRIGGER for f in fields)


DEFAULT_PRESET = "medium"


def get_preset(name: str) -> Preset:
    """The preset called `name`; ValueError naming the valid names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}") from None


def for_quality(preset: Preset, quality: int) -> Preset:
    """`preset` with its motion rate weight scaled for quality level `quality` (1..8).

    `mv_lambda` is the weight at Q5; like an H.264 encoder's lambda_motion = sqrt(lambda_mode),
    it scales with the square root of the distortion price the level was trained at, so low
    levels (where bits are dear) prefer cheaper, smoother fields. Encoder-only: the decoder
    reads the chosen vectors.
    """
    from .quant import LAMBDAS

    scale = math.sqrt(LAMBDAS[4] / LAMBDAS[min(max(quality, 1), len(LAMBDAS)) - 1])
    return replace(preset, mv_lambda=preset.mv_lambda * scale)
