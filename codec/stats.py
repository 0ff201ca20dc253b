"""FrameStats: the per-frame and per-block data that the encoder and decoder report.

This is the single contract between the codec and the analyzer: every chart and overlay in the
studio is a function of FrameStats. Block maps are NumPy arrays over a block grid
(rows, cols) = (ceil(H / b), ceil(W / b)): b = block_size for skip, residual energy and bits,
b = mv_block for motion vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

FRAME_TYPES = ("I", "P", "B", "b")

# Keys of FrameStats.bits, in drawing order.
BIT_PARTS = ("header", "hyperprior", "latent", "motion", "skip", "residual", "detail",
             "filter")

# Keys of FrameStats.timings (milliseconds), in drawing order. Not every frame has every stage.
STAGES = (
    "io",
    "parse",
    "to_tensor",
    "analysis",
    "hyper_analysis",
    "hyper_synthesis",
    "synthesis",
    "entropy_encode",
    "entropy_decode",
    "latent_prediction",
    "motion_search",
    "motion_coding",
    "group_trial",
    "warp",
    "residual_analysis",
    "residual_synthesis",
    "detail_transform",
    "deblock",
    "loop_filter_fit",
    "loop_filter",
    "from_tensor",
)


# Weighted prediction of a P-frame: gains (w / 64) and offsets per RGB channel, and the
# (top, bottom, left, right) margins left unweighted (format 7) or None: the whole frame
LoopFilterInfo = tuple[int, tuple[tuple[int, ...], ...], tuple[int, ...]]
WeightsInfo = tuple[tuple[float, ...], tuple[int, ...], tuple[int, int, int, int] | None]


@dataclass
class FrameStats:
    """What is known about one coded frame."""

    index: int  # display order, 0-based
    frame_type: str  # "I", "P" or "B" ("b" reserved)
    width: int
    height: int
    pts: int = 0  # 90 kHz ticks
    quality: int = 0  # 1..8 (I-frames: the intra level)
    refine_quality: int = 0  # I-frames: level of the refinement pass (refine.py), 0 = none
    keyframe: bool = False
    size_bytes: int = 0  # payload + frame header
    bits: dict[str, int] = field(default_factory=dict)  # split by part, see BIT_PARTS
    block_size: int = 16  # grid of skip, residual_energy and bits_per_block (the latent grid)
    mv_block: int = 16  # grid of mv; may be finer (8) than block_size at slow presets
    # (H / mv_block, W / mv_block, 2) float32 pixels (dx, dy): the reference is at cur + mv
    mv: np.ndarray | None = None
    skip: np.ndarray | None = None  # (rows, cols) bool, True where no residual is sent
    residual_energy: np.ndarray | None = None  # (rows, cols) float32, mean squared residual
    bits_per_block: np.ndarray | None = None  # (rows, cols) float32
    psnr: float | None = None  # RGB PSNR against the source, dB, when known
    psnr_y: float | None = None  # luma PSNR, dB, when known
    timings: dict[str, float] = field(default_factory=dict)  # stage -> milliseconds
    scene_cut: bool = False
    # I-frames of format 6: flat bars (top, bottom, left, right) in pixels, not coded (bars.py)
    bars: tuple[int, int, int, int] | None = None
    # P-frames with weighted prediction (weights.py): per RGB channel gain (w / 64) and offset,
    # and the (top, bottom, left, right) margins left unweighted (format 7) or None
    weights: WeightsInfo | None = None
    # format 8: the (I-frame or P-frame residual) latents are coded as differences from their
    # spatial prediction (latent_prediction.py)
    latent_prediction: bool = False
    # B-frames (format 9): display indices of the references before and after the frame, the
    # motion field towards the one after (mv is towards the one before), and per motion block
    # the prediction used: 0 forward, 1 backward, 2 both (codec.bipred)
    refs: tuple[int, int] | None = None
    mv_back: np.ndarray | None = None
    modes: np.ndarray | None = None
    reference: bool = True  # later frames may predict from this one
    # the detail layer's 8x8 blocks (ceil(H / 8), ceil(W / 8)) uint8: 0 no coefficients, 1 one
    # 8x8 transform, 2 four 4x4 transforms (format 11), 3 a quarter of one 16x16 transform,
    # 4 a sixteenth of one 32x32 transform (format 15), 5 a 64th of one 64x64 transform (format
    # 17); None: the frame has no detail layer
    detail_blocks: np.ndarray | None = None
    # the detail layer's level (its section's level byte; I-frames code their intra latents at
    # `quality`, which may be lower); 0: no detail layer, or a format 3 section (no level)
    detail_quality: int = 0
    decode_index: int | None = None  # position in the stream (decode order), when known
    # format 12: the adaptive loop filter (alf.py): clip value, per activity class 12
    # coefficients in 1/128, and the classes' activity thresholds (one fewer than classes)
    loop_filter: LoopFilterInfo | None = None
    # P- and B-frames of format 13: predictions sampled with the 8-tap filter (warp.SHARP8)
    # instead of the 4-tap cubic one
    sharp_mc: bool = False
    # format 16: a grey frame (codec.grey): luma-only detail layer, R = G = B reconstruction
    grey: bool = False

    @property
    def bits_total(self) -> int:
        return 8 * self.size_bytes

    @property
    def skip_ratio(self) -> float | None:
        return None if self.skip is None else float(np.mean(self.skip))

    @property
    def mean_residual_energy(self) -> float | None:
        e = self.residual_energy
        return None if e is None else float(np.mean(e))

    @property
    def time_ms(self) -> float:
        return float(sum(self.timings.values()))

    def summary(self) -> dict[str, Any]:
        """Scalar fields only, for CSV/JSON export and tables."""
        out: dict[str, Any] = {
            "index": self.index,
            "type": self.frame_type,
            "keyframe": self.keyframe,
            "pts": self.pts,
            "quality": self.quality,
            "refine_quality": self.refine_quality,
            "detail_quality": self.detail_quality,
            "size_bytes": self.size_bytes,
            "bits": self.bits_total,
            "psnr": self.psnr,
            "psnr_y": self.psnr_y,
            "skip_ratio": self.skip_ratio,
            "residual_energy": self.mean_residual_energy,
            "scene_cut": self.scene_cut,
            "bars": None if self.bars is None else "{} {} {} {}".format(*self.bars),
            "weights": None if self.weights is None else weights_text(self.weights),
            "latent_prediction": self.latent_prediction,
            "refs": None if self.refs is None else "{} {}".format(*self.refs),
            "reference": self.reference,
            "decode_index": self.decode_index,
            "detail_blocks": None if self.detail_blocks is None
            else int(np.count_nonzero(self.detail_blocks)),
            "detail_4x4": None if self.detail_blocks is None
            else int(np.count_nonzero(self.detail_blocks == 2)),
            "detail_16x16": None if self.detail_blocks is None
            else int(np.count_nonzero(self.detail_blocks == 3)) // 4,
            "detail_32x32": None if self.detail_blocks is None
            else int(np.count_nonzero(self.detail_blocks == 4)) // 16,
            "detail_64x64": None if self.detail_blocks is None
            else int(np.count_nonzero(self.detail_blocks == 5)) // 64,
            "loop_filter": None if self.loop_filter is None else self.loop_filter[0],
            "loop_filter_classes": None if self.loop_filter is None
            else len(self.loop_filter[1]),
            "sharp_mc": self.sharp_mc,
            "grey": self.grey,
        }
        for part in BIT_PARTS:
            out[f"bits_{part}"] = self.bits.get(part, 0)
        for stage, ms in self.timings.items():
            out[f"ms_{stage}"] = round(ms, 3)
        return out


def weights_text(weights: WeightsInfo) -> str:
    """'gain 0.672 0.656 0.672 · offset +58 +60 +57[ · inside top 58 bottom 58 left 0 right 0]'."""
    gain, offset, region = weights
    text = ("gain " + " ".join(f"{g:.3f}" for g in gain) + " · offset "
            + " ".join(f"{o:+d}" for o in offset))
    if region is not None:
        text += " · inside top {} bottom {} left {} right {}".format(*region)
    return text
