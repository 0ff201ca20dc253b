"""I-frame refinement: the residual coder run once over the intra reconstruction's error.

The intra transforms saturate at their top levels (held-out photos: level 6 -> 8 costs +42 %
rate for +0.4 dB), while the residual model, trained on prediction errors, codes much of what
they miss for less. So an I-frame of intra quality q is the intra coder at level
INTRA_PLAN[q - 1][0] plus, where INTRA_PLAN[q - 1][1] > 0, one pass of the residual coder at
that level with the intra reconstruction as its prediction: per-block RD skips and the
whole-pass check as in P-frames (residual.py), so a pass that does not pay for itself is left
out of the stream. Measured on the 12 held-out photos (384 px, intra model of 2026-12-04 run 4;
mean bpp/dB RGB): intra level 8 alone 1.465/30.14, level 5 + refinement 8 1.466/30.43; this
plan's Q5-Q8 0.889/29.56, 1.053/29.91, 1.297/30.32, 1.578/30.60 against intra-only 0.844/29.39,
1.031/29.76, 1.238/30.00, 1.465/30.14: BD-rate -1.9 % over the common range (per image -4.3 to
+0.7 %) and a top 0.46 dB higher. Used for still images and all-intra streams; a GOP's
keyframes stay intra-only (see I_LEVEL in encoder.py). The decoder reads the section with the
P-frame machinery itself (skip map, `ResidualCodec.decode_latents` and `reconstruct`).
"""

from __future__ import annotations

import numpy as np

from .intra import RefineSection
from .profiler import Profiler
from .residual import CodedResidual, ResidualCodec
from .skip import encode_skip

# Still images (GOP 1): (intra level, refinement level or 0) per quality 1..8; the detail layer
# (at the quality itself) codes what they leave. With format 4's detail layer the refinement
# pass no longer pays (benchmarks/intra_rd.py, 12 held-out images, BD-rate vs JPEG / WebP):
# REFINING_PLAN -1.2 % / +46.7 %, refinement at Q8 only -2.4 / +44.9, this plan -3.5 / +43.6.
# So the encoder makes none; decoders still read it (streams of 2026-12-04 and -05).
INTRA_PLAN: tuple[tuple[int, int], ...] = (
    (1, 0), (2, 0), (3, 0), (3, 0), (4, 0), (4, 0), (5, 0), (5, 0),
)
REFINING_PLAN: tuple[tuple[int, int], ...] = (  # the plan before, kept for its tests
    (1, 0), (2, 0), (3, 0), (4, 0), (4, 5), (4, 6), (5, 7), (6, 8),
)


def encode_refinement(codec: ResidualCodec, frame: np.ndarray, recon: np.ndarray, level: int,
                      rd_skip: bool, prof: Profiler) -> tuple[RefineSection, CodedResidual] | None:
    """Refine `recon` (H, W, 3) uint8 towards `frame`; None when the pass is not worth its bits."""
    coded = codec.encode(frame, recon.astype(np.float32), level, rd_skip, prof)
    if coded.latents is None:
        return None
    with prof.stage("motion_coding"):
        skip_bytes = encode_skip(coded.skip)
    lat = coded.latents
    return RefineSection(level, skip_bytes, lat.z_bytes, lat.y_bytes), coded

