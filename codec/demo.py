"""Synthetic, deterministic demo video with real motion (the ``demo`` / ``demo:WxH`` source).

The scene is a seeded, tileable multi-scale texture (1/f noise plus sharp-edged blobs) seen
through a slowly panning camera (sub-pixel, bilinear), with three textured objects on top: a
wheel that rotates while drifting, a card that translates across the frame (and re-enters), and
a blob that pulsates in scale. Frame ``i`` depends only on the size, the seed and ``i``, never on
the frame count, so a shorter demo is a prefix of a longer one. Everything is vectorised numpy:
textures are built once, each frame is one sliced bilinear pan plus three small inverse warps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from types import TracebackType

import numpy as np

from codec.errors import SourceError

__all__ = ["DEMO_NAME", "MAX_SIZE", "DemoSource", "demo_source"]

DEMO_NAME = "demo"
#: Largest width or height accepted for any source or sink.
MAX_SIZE = 16384


def _fractal(rng: np.random.Generator, h: int, w: int, beta: float) -> np.ndarray:
    """Periodic noise with an amplitude spectrum ~ 1/f**beta, zero mean and unit std."""
    spec = np.fft.rfft2(rng.standard_normal((h, w)))
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    spec /= np.maximum(f, 1.0 / max(h, w, 2)) ** beta
    spec[0, 0] = 0.0
    out = np.fft.irfft2(spec, s=(h, w))
    std = float(out.std())
    return (out / std if std > 0 else out).astype(np.float32)


def _colourise(lum: np.ndarray, mix: np.ndarray, a: tuple, b: tuple, contrast: float) -> np.ndarray:
    """Blend two base colours by ``mix`` in [0, 1] and add luminance detail: (h, w, 3) float32."""
    ca = np.asarray(a, np.float32)
    cb = np.asarray(b, np.float32)
    rgb = ca + (cb - ca) * mix[..., None] + (contrast * lum)[..., None]
    return np.clip(rgb, 0.0, 255.0).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def _object_texture(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """Premultiplied RGBA texture (size, size, 4) float32 with a transparent one-texel border."""
    n = max(size, 4)
    c = (n - 1) / 2.0
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    dx, dy = xx - c, yy - c
    r = np.hypot(dx, dy)
    rad = c - 1.0
    detail = _fractal(rng, n, n, 1.2)
    if kind == "wheel":
        theta = np.arctan2(dy, dx)
        sectors = np.sign(np.sin(6.0 * theta)) * 0.5 + 0.5
        rgb = _colourise(detail, sectors, (200, 60, 40), (240, 210, 80), 18.0)
        hub = r < 0.25 * rad
        rgb[hub] = (30.0, 30.0, 60.0)
        ring = np.abs(r - 0.8 * rad) < max(1.0, 0.05 * rad)
        rgb[ring] = (250.0, 250.0, 240.0)
        dist = rad - r
    elif kind == "card":
        hw, hh = rad, 0.62 * rad
        rr = 0.2 * hh  # rounded-rectangle signed distance, positive inside
        qx, qy = np.abs(dx) - (hw - rr), np.abs(dy) - (hh - rr)
        outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
        dist = rr - outside - np.minimum(np.maximum(qx, qy), 0)
        stripes = (np.floor((xx + 0.5 * yy) / max(2.0, n / 12.0)) % 2).astype(np.float32)
        rgb = _colourise(detail, 0.3 + 0.4 * stripes, (40, 90, 200), (230, 240, 250), 22.0)
        border = dist < max(1.5, 0.08 * hh)
        rgb[border & (dist > 0)] = (20.0, 20.0, 20.0)
    else:  # "blob": an ellipse with a noisy checkerboard
        dist = rad * (1.0 - np.hypot(dx / rad, dy / (0.7 * rad)))
        cell = max(2.0, n / 8.0)
        checker = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(np.float32)
        rgb = _colourise(detail, checker, (60, 170, 90), (250, 250, 250), 25.0)
    alpha = np.clip(dist + 0.5, 0.0, 1.0).astype(np.float32)
    alpha[0, :] = alpha[-1, :] = 0.0
    alpha[:, 0] = alpha[:, -1] = 0.0
    return np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=2)


class DemoSource:
    """A deterministic synthetic video with the same interface as `codec.media.VideoSource`.

    ``frames=None`` makes it endless (``frame_count`` is then None); `frame` gives random access.
    """

    def __init__(
        self,
        width: int = 320,
        height: int = 240,
        frames: int | None = 60,
        fps: Fraction | int | float = Fraction(30),
        seed: int = 69,
        start: int = 0,
    ) -> None:
        for label, value in (("width", width), ("height", height)):
            if not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_SIZE:
                raise SourceError(
                    f"demo: {label} must be an integer in 1..{MAX_SIZE}, got {value!r}"
                )
        if frames is not None and (not isinstance(frames, (int, np.integer)) or frames < 1):
            raise SourceError(f"demo: frames must be a positive integer or None, got {frames!r}")
        if not isinstance(start, (int, np.integer)) or start < 0:
            raise SourceError(f"demo: start must be a non-negative integer, got {start!r}")
        try:
            rate = Fraction(fps).limit_denominator(1001)
        except (TypeError, ValueError) as exc:
            raise SourceError(f"demo: fps {fps!r} is not a number") from exc
        if not 0 < rate <= 1000:
            raise SourceError(f"demo: fps must be in (0, 1000], got {fps!r}")
        self.width = int(width)
        self.height = int(height)
        self.fps = rate
        self.frame_count: int | None = None if frames is None else int(frames)
        self.subsampled_chroma = False  # drawn in RGB: chroma as fine as luma
        self.start = int(start)
        self.seed = int(seed)
        self.name = f"{DEMO_NAME}:{self.width}x{self.height}"
        self._closed = False
        self._build()

    # -- scene ---------------------------------------------------------------------------
    def _build(self) -> None:
        w, h = self.width, self.height
        rng = np.random.default_rng([self.seed, w, h])
        self._k = min(w, h) / 240.0  # motion and object sizes scale with the picture
        detail = _fractal(rng, h, w, 1.0)
        blobs = np.tanh(3.0 * _fractal(rng, h, w, 1.9))
        mix = _sigmoid(2.5 * _fractal(rng, h, w, 2.2))
        lum = 0.7 * detail + 0.6 * blobs
        bg = _colourise(lum, mix, (80, 112, 60), (168, 150, 128), 30.0)
        # Tiled 2x2 so any wrapped (h + 1) x (w + 1) window is a plain slice.
        self._bg = np.tile(bg, (2, 2, 1))
        s = min(w, h)
        self._wheel = _object_texture(rng, int(round(0.34 * s)) + 2, "wheel")
        self._card = _object_texture(rng, int(round(0.40 * s)) + 2, "card")
        self._blob = _object_texture(rng, int(round(0.26 * s)) + 2, "blob")

    def camera_offset(self, index: int) -> tuple[float, float]:
        """Background offset (x, y) in pixels at frame ``index``: pixel (x, y) of the frame shows
        the background at (x + ox, y + oy), so consecutive frames shift by the offset delta."""
        t = float(index)
        k = self._k
        return 0.43 * k * t, 0.17 * k * t + 2.0 * k * math.sin(2 * math.pi * t / 97.0)

    def _background(self, index: int) -> np.ndarray:
        h, w = self.height, self.width
        ox, oy = self.camera_offset(index)
        ix, iy = math.floor(ox), math.floor(oy)
        fx, fy = np.float32(ox - ix), np.float32(oy - iy)
        ix %= w
        iy %= h
        win = self._bg[iy : iy + h + 1, ix : ix + w + 1]
        rows = win[:, :-1] * (1 - fx) + win[:, 1:] * fx
        return rows[:-1] * (1 - fy) + rows[1:] * fy

    @staticmethod
    def _paste(
        canvas: np.ndarray, tex: np.ndarray, cx: float, cy: float, angle: float, scale: float
    ) -> None:
        """Composite ``tex`` rotated by ``angle`` and scaled, centred at (cx, cy), in place."""
        h, w = canvas.shape[:2]
        n = tex.shape[0]
        half = (n - 1) / 2.0
        extent = half * scale * (abs(math.cos(angle)) + abs(math.sin(angle))) + 1.0
        x0, x1 = max(0, math.floor(cx - extent)), min(w, math.ceil(cx + extent) + 1)
        y0, y1 = max(0, math.floor(cy - extent)), min(h, math.ceil(cy + extent) + 1)
        if x0 >= x1 or y0 >= y1:
            return
        xs = (np.arange(x0, x1, dtype=np.float32) - np.float32(cx))[None, :]
        ys = (np.arange(y0, y1, dtype=np.float32) - np.float32(cy))[:, None]
        c = np.float32(math.cos(angle) / scale)
        s = np.float32(math.sin(angle) / scale)
        u = np.clip(c * xs + s * ys + np.float32(half), 0.0, n - 1.001)
        v = np.clip(c * ys - s * xs + np.float32(half), 0.0, n - 1.001)
        u0 = u.astype(np.int32)
        v0 = v.astype(np.int32)
        fu = (u - u0)[..., None]
        fv = (v - v0)[..., None]
        flat = tex.reshape(n * n, 4)
        idx = v0 * n + u0
        top = flat[idx] * (1 - fu) + flat[idx + 1] * fu
        bot = flat[idx + n] * (1 - fu) + flat[idx + n + 1] * fu
        px = top * (1 - fv) + bot * fv
        region = canvas[y0:y1, x0:x1]
        region *= 1.0 - px[..., 3:4]
        region += px[..., :3]

    def frame(self, index: int) -> np.ndarray:
        """Render frame ``index`` (counted from frame 0, ignoring ``start``) as (H, W, 3) uint8."""
        if index < 0:
            raise IndexError(f"demo frame index must be >= 0, got {index}")
        w, h, k = self.width, self.height, self._k
        t = float(index)
        canvas = self._background(index)
        # Pulsating blob, upper right, drifting slightly.
        self._paste(
            canvas,
            self._blob,
            0.72 * w + 0.03 * w * math.sin(2 * math.pi * t / 150.0),
            0.30 * h,
            0.0,
            1.0 + 0.25 * math.sin(2 * math.pi * t / 75.0),
        )
        # Rotating wheel on a slow elliptical path.
        phase = 2 * math.pi * t / 160.0
        self._paste(
            canvas,
            self._wheel,
            0.30 * w + 0.10 * w * math.sin(phase),
            0.38 * h + 0.08 * h * math.cos(phase),
            0.05 * t,
            1.0,
        )
        # Card translating left to right at a sub-pixel speed, re-entering on the left.
        span = w + self._card.shape[0] * 1.5
        x = (2.37 * k * t) % span - 0.75 * self._card.shape[0]
        y = 0.68 * h + 0.05 * h * math.sin(2 * math.pi * t / 53.0)
        self._paste(canvas, self._card, x, y, 0.0, 1.0)
        return (canvas + 0.5).clip(0, 255).astype(np.uint8)

    # -- VideoSource interface -------------------------------------------------------------
    def __iter__(self) -> Iterator[np.ndarray]:
        if self._closed:
            raise ValueError(f"{self.name}: source is closed")
        i = self.start
        end = None if self.frame_count is None else self.start + self.frame_count
        while end is None or i < end:
            if self._closed:
                return
            yield self.frame(i)
            i += 1

    def __len__(self) -> int:
        if self.frame_count is None:
            raise TypeError("an endless demo source has no length")
        return self.frame_count

    def close(self) -> None:
        """Release nothing in particular; iteration afterwards is an error."""
        self._closed = True

    def __enter__(self) -> DemoSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DemoSource({self.width}x{self.height}, frames={self.frame_count}, fps={self.fps})"


def demo_source(
    width: int = 320,
    height: int = 240,
    frames: int | None = 60,
    fps: Fraction | int | float = Fraction(30),
    *,
    seed: int = 69,
    start: int = 0,
) -> DemoSource:
    """A deterministic synthetic video source (see `DemoSource`)."""
    return DemoSource(width, height, frames, fps, seed=seed, start=start)
