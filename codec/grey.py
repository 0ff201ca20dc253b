"""Grey frames (format 16): a source frame whose pixels all have R = G = B is coded as grey.

Old films, scanned documents, surveillance and many fades are grey; a colour coder spends
bits on colour errors there and its decoded frames have colour the source never had (chroma
planes of 38-50 dB where the source's are constant). A grey frame's header says so (bit 6 of
byte 0, codec.container.GREY); its detail layer codes only the luma axis (codec.detail), and
after the deblocking filter its reconstruction is made grey with integer BT.601 weights:

    g = (1225 R + 2404 G + 467 B + 2048) >> 12,   R = G = B = g,

before the adaptive loop filter (which filters the three channels alike, so they stay equal).
The weights sum to 4096 and point along format 17's luma axis, and format 18's chroma axes
(codec.detail.AXES_YCC) move no luma, so either way the grey value depends only on the luma
component of the coding error: the two chroma axes, which the detail layer no longer codes,
drop out. Integer arithmetic, so every decoder agrees.
"""

from __future__ import annotations

import numpy as np

FROM = 16  # the stream format with grey frames
WEIGHTS = (1225, 2404, 467)  # BT.601 luma x 4096 (0.299, 0.587, 0.114), summing to 4096
# An RGB SSE of a grey reconstruction per unit of SSE on format 17's (unit-length) luma axis:
# 3 |w|^2 with w the weights / 4096. The detail layer prices its luma distortion by it (format
# 18's luma axis is grey itself: 1).
SSE_PER_LUMA_SSE = 3.0 * float(np.sum((np.array(WEIGHTS) / 4096.0) ** 2))


def is_grey(frame: np.ndarray) -> bool:
    """Whether every pixel of an (H, W, 3) frame has R = G = B."""
    return bool((frame[..., 0] == frame[..., 1]).all() and (frame[..., 1] == frame[..., 2]).all())


def greyify(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> the same with each pixel's three channels set to its integer luma."""
    f = frame.astype(np.int32)
    r, g, b = WEIGHTS
    y = ((r * f[..., 0] + g * f[..., 1] + b * f[..., 2] + 2048) >> 12).astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=2)
