"""Quality metrics: PSNR on RGB and on YUV 4:2:0 planes, and Bjontegaard deltas.

Colour conversion goes through PyAV (swscale) so that the YUV planes are those an encoder such
as libx264 is fed from an RGB source: BT.601 matrix, limited ("TV") range, 4:2:0 chroma with
bicubic filtering (`SWS_FLAGS`; chroma differs from FFmpeg's default conversion by at most 1 on
under 1% of samples). Odd sizes are allowed; chroma planes are then ``ceil(h/2) x ceil(w/2)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

__all__ = [
    "SWS_FLAGS",
    "bd_psnr",
    "bd_rate",
    "frame_planes",
    "psnr",
    "psnr_planes",
    "psnr_rgb",
    "psnr_yuv420",
    "rgb_to_yuv420",
    "rgb_to_yuv420_frame",
    "yuv420_to_rgb",
]

#: swscale flags for every conversion and rescale in the codec's I/O: bicubic, bit-exact on any
#: CPU, and full-resolution chroma handling. Without FULL_CHR_H_INT swscale's yuv420p -> RGB path
#: for even widths is ~9 dB worse and the Y plane does not survive an RGB round trip.
SWS_FLAGS = (
    Interpolation.BICUBIC
    | Interpolation.ACCURATE_RND
    | Interpolation.BITEXACT
    | Interpolation.FULL_CHR_H_INT
    | Interpolation.FULL_CHR_H_INP
)

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)


def rgb_to_yuv420_frame(rgb: np.ndarray) -> av.VideoFrame:
    """Convert (H, W, 3) uint8 RGB to a yuv420p `av.VideoFrame` (BT.601, limited range)."""
    frame = av.VideoFrame.from_ndarray(_check_rgb(rgb), format="rgb24")
    return frame.reformat(
        format="yuv420p",
        dst_colorspace=Colorspace.ITU601,
        dst_color_range=ColorRange.MPEG,
        interpolation=SWS_FLAGS,
    )


def frame_planes(frame: av.VideoFrame) -> Planes:
    """Copy the three planes of a planar 8-bit YUV frame into arrays, dropping line padding."""
    out = []
    for plane in frame.planes[:3]:
        buf = np.frombuffer(plane, np.uint8, count=plane.line_size * plane.height)
        out.append(buf.reshape(plane.height, plane.line_size)[:, : plane.width].copy())
    return out[0], out[1], out[2]


def rgb_to_yuv420(rgb: np.ndarray) -> Planes:
    """(H, W, 3) uint8 RGB -> (y, u, v) uint8 planes, BT.601 limited range, 4:2:0."""
    return frame_planes(rgb_to_yuv420_frame(rgb))


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """BT.601 limited-range yuv420p planes -> (H, W, 3) uint8 RGB (inverse of `rgb_to_yuv420`)."""
    h, w = y.shape
    cshape = ((h + 1) // 2, (w + 1) // 2)
    if u.shape != cshape or v.shape != cshape:
        raise ValueError(f"chroma planes must be {cshape} for a {h}x{w} luma plane")
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, (y, u, v), strict=True):
        padded = np.zeros((plane.height, plane.line_size), np.uint8)
        padded[:, : plane.width] = data
        plane.update(padded.tobytes())
    rgb = frame.reformat(
        format="rgb24",
        src_colorspace=Colorspace.ITU601,
        src_color_range=ColorRange.MPEG,
        interpolation=SWS_FLAGS,
    )
    return rgb.to_ndarray()


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two arrays of the same shape; ``inf`` when they are identical."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.size == 0:
        raise ValueError("cannot compute PSNR of empty arrays")
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def psnr_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR over all three channels of two (H, W, 3) uint8 RGB frames."""
    return psnr(_check_rgb(a), _check_rgb(b))


def _weighted(y: float, u: float, v: float) -> dict[str, float]:
    return {"y": y, "u": u, "v": v, "yuv": (6.0 * y + u + v) / 8.0}


def psnr_planes(ref: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> dict[str, float]:
    """PSNR of (y, u, v) planes: keys ``y``, ``u``, ``v`` and ``yuv`` = (6y + u + v) / 8.

    ``yuv`` averages the per-plane PSNRs (6:1:1, as in JVET/MPEG reports); it is ``inf`` when
    any plane is identical.
    """
    if len(ref) != 3 or len(test) != 3:
        raise ValueError("expected three planes (y, u, v) on each side")
    y, u, v = (psnr(r, t) for r, t in zip(ref, test, strict=True))
    return _weighted(y, u, v)


def psnr_yuv420(a_rgb: np.ndarray, b_rgb: np.ndarray) -> dict[str, float]:
    """PSNR of two RGB frames after conversion to yuv420p (see `psnr_planes`)."""
    return psnr_planes(rgb_to_yuv420(a_rgb), rgb_to_yuv420(b_rgb))


def _curve(rate: Sequence[float], quality: Sequence[float], name: str) -> tuple[np.ndarray, ...]:
    r = np.asarray(rate, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if r.size != q.size:
        raise ValueError(f"{name}: {r.size} rates but {q.size} quality values")
    if r.size < 2:
        raise ValueError(f"{name}: need at least 2 rate-quality points, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise ValueError(f"{name}: rates and quality values must be finite")
    if np.any(r <= 0):
        raise ValueError(f"{name}: rates must be positive")
    return np.log(r), q


def _avg_gap(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> float:
    """Mean of fit(y2 over x2) - fit(y1 over x1) across the overlap of the x ranges, or nan."""
    lo = max(x1.min(), x2.min())
    hi = min(x1.max(), x2.max())
    if not hi > lo:
        return math.nan
    i1 = np.polyint(np.polyfit(x1, y1, min(3, x1.size - 1)))
    i2 = np.polyint(np.polyfit(x2, y2, min(3, x2.size - 1)))
    area1 = np.polyval(i1, hi) - np.polyval(i1, lo)
    area2 = np.polyval(i2, hi) - np.polyval(i2, lo)
    return float((area2 - area1) / (hi - lo))


def bd_rate(
    r1: Sequence[float], p1: Sequence[float], r2: Sequence[float], p2: Sequence[float]
) -> float:
    """Bjontegaard delta rate of curve 2 against curve 1, in percent (VCEG-M33).

    Fits log-rate as a cubic in PSNR (lower degree with fewer than 4 points) for each curve,
    integrates both over the overlapping PSNR range and returns ``(exp(mean gap) - 1) * 100``:
    negative means curve 2 needs less rate for the same quality. ``nan`` without overlap.
    """
    lr1, q1 = _curve(r1, p1, "curve 1")
    lr2, q2 = _curve(r2, p2, "curve 2")
    gap = _avg_gap(q1, lr1, q2, lr2)
    return math.nan if math.isnan(gap) else (math.exp(gap) - 1.0) * 100.0


def bd_psnr(
    r1: Sequence[float], p1: Sequence[float], r2: Sequence[float], p2: Sequence[float]
) -> float:
    """Bjontegaard delta PSNR of curve 2 against curve 1 in dB (positive: curve 2 is better).

    Fits PSNR as a cubic in log-rate and averages the gap over the overlapping rate range;
    ``nan`` without overlap.
    """
    lr1, q1 = _curve(r1, p1, "curve 1")
    lr2, q2 = _curve(r2, p2, "curve 2")
    return _avg_gap(lr1, q1, lr2, q2)
