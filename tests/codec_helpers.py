"""Small synthetic clips for codec tests (made here, never read from disk)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from codec.api import StreamEncoder, shared_codecs


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth natural-looking colour texture, (h, w, 3) uint8."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3), np.float64)
    for scale, amp in ((4, 12.0), (8, 25.0), (16, 35.0), (32, 40.0)):
        small = rng.normal(0, 1, (h // scale + 2, w // scale + 2, 3)).astype(np.float32)
        layers = [
            np.asarray(
                Image.fromarray(small[..., c], mode="F").resize(
                    ((w // scale + 2) * scale, (h // scale + 2) * scale), Image.BICUBIC
                )
            )
            for c in range(3)
        ]
        out += amp * np.stack(layers, -1)[:h, :w]
    return np.clip(out + 128, 0, 255).astype(np.uint8)


def pan_clip(n: int, h: int = 64, w: int = 96, step: int = 2, seed: int = 0) -> list[np.ndarray]:
    """A camera pan of `step` pixels per frame over a texture."""
    big = texture(h + 8, w + step * n + 8, seed)
    return [big[4 : 4 + h, 4 + step * i : 4 + step * i + w].copy() for i in range(n)]


def static_clip(n: int, h: int = 64, w: int = 96, seed: int = 1) -> list[np.ndarray]:
    f = texture(h, w, seed)
    return [f.copy() for _ in range(n)]


def encode(
    path: Path,
    frames: list[np.ndarray],
    quality: int = 4,
    preset: str = "medium",
    gop: int = 32,
    **kw,
) -> tuple[list[np.ndarray], list]:
    h, w = frames[0].shape[:2]
    recons, stats = [], []
    with StreamEncoder(
        path, w, h, Fraction(25), quality, preset, gop, codecs=shared_codecs("cpu"), **kw
    ) as enc:
        for f in frames:
            r, st = enc.encode(f)
            recons.append(r)
            stats.append(st)
    return recons, stats
