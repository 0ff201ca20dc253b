"""Integer conventions shared by the model exporter and the run-time codec.

The integer hyper-synthesis outputs means and log-scales in units of 2**-OUT_FRAC_BITS. The
Gaussian scale table is log-spaced: scale[i] = exp((SCALE_LOG_BASE + SCALE_INDEX_STEP * i) / 64),
so a log-scale v (in 1/64 units, gain included) maps to index round((v - BASE) / STEP), all in
integers: encoder and decoder always pick the same table.
"""

from __future__ import annotations

import numpy as np

OUT_FRAC_BITS = 6
# Rate-distortion trade-off per quality level Q1..Q8 (loss = bpp + lambda * 255^2 * MSE).
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)
SCALE_LOG_BASE = -141  # round(ln(0.11) * 64)
SCALE_INDEX_STEP = 8  # 0.125 in natural-log units
SCALE_LEVELS = 64
Z_RADIUS = 48  # z symbols outside +-Z_RADIUS use the escape code


def scale_indexes(log_scale_q: np.ndarray, gain_log_q: np.ndarray) -> np.ndarray:
    """Integer log-scales (C, H, W) plus per-channel integer log-gains (C,) -> table indexes."""
    v = log_scale_q.astype(np.int64) + gain_log_q.astype(np.int64)[:, None, None]
    idx = (v - SCALE_LOG_BASE + SCALE_INDEX_STEP // 2) // SCALE_INDEX_STEP
    return np.clip(idx, 0, SCALE_LEVELS - 1).astype(np.int32)
