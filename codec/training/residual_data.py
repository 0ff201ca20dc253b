"""Training data for the residual coder: motion-compensated residuals of synthetic motion.

Pairs are made from the training photographs (never from the evaluation videos): the current
frame is the image under a random sub-pixel pan, small rotation and zoom, with a textured
object from another image pasted at a moved position (occlusions); the reference is the
original, degraded by JPEG at a random quality as a decoded reference would be. ZVC69's own
motion search (codec.motion, preset 'medium') and warp (codec.warp) predict the current frame
from the reference, and the residual current - prediction, in [-1, 1], is what the model codes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from codec.motion import estimate_motion, luma
from codec.presets import get_preset
from codec.warp import warp

from .data import image_files, load_rgb


def _affine(img: Image.Image, rng: np.random.Generator, size: int) -> tuple[Image.Image, tuple]:
    """A size x size crop of img moved by a small random similarity transform."""
    w, h = img.size
    x0 = rng.uniform(16, w - size - 16)
    y0 = rng.uniform(16, h - size - 16)
    dx, dy = rng.normal(0, 6, 2)
    ang = rng.normal(0, 1.0) * np.pi / 180
    zoom = 1 + rng.normal(0, 0.01)
    c, s = np.cos(ang) / zoom, np.sin(ang) / zoom
    cx, cy = x0 + size / 2, y0 + size / 2
    # output (u, v) -> input (a u + b v + c, d u + e v + f), centred on the crop
    a, b, d, e = c, -s, s, c
    coeffs = (a, b, cx + dx - a * size / 2 - b * size / 2,
              d, e, cy + dy - d * size / 2 - e * size / 2)
    cur = img.transform((size, size), Image.AFFINE, coeffs, resample=Image.BICUBIC)
    ref = img.crop((round(x0), round(y0), round(x0) + size, round(y0) + size))
    return cur, (ref,)


def make_pair(images: list[np.ndarray], rng: np.random.Generator,
              size: int) -> tuple[np.ndarray, np.ndarray]:
    """(current, reference) uint8 RGB of size x size with synthetic motion."""
    while True:
        src = images[rng.integers(len(images))]
        if min(src.shape[:2]) >= size + 40:
            break
    img = Image.fromarray(src)
    cur_im, (ref_im,) = _affine(img, rng, size)
    cur, ref = np.array(cur_im), np.array(ref_im)
    if rng.random() < 0.6:  # a moving occluder
        other = images[rng.integers(len(images))]
        s = int(rng.integers(size // 6, size // 3))
        if min(other.shape[:2]) > s + 2:
            oy, ox = rng.integers(0, other.shape[0] - s), rng.integers(0, other.shape[1] - s)
            patch = other[oy : oy + s, ox : ox + s]
            py, px = rng.integers(0, size - s, 2)
            my, mx = np.clip(np.array([py, px]) + rng.integers(-12, 13, 2), 0, size - s)
            ref[py : py + s, px : px + s] = patch
            cur[my : my + s, mx : mx + s] = patch
    if rng.random() < 0.5:  # lighting change and sensor noise, as real cameras give
        gain = 1 + rng.normal(0, 0.02)
        noise = rng.normal(0, rng.uniform(0, 2.5), cur.shape)
        cur = np.clip(cur * gain + noise, 0, 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, "JPEG", quality=int(rng.integers(35, 95)))
    ref = np.array(Image.open(buf))
    return cur, ref


def residual(cur: np.ndarray, ref: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Current minus ZVC69's motion-compensated prediction, (3, H, W) float32 in [-1, 1]."""
    p = get_preset(preset)
    mv = estimate_motion(luma(cur), luma(ref), p)
    pred = warp(ref, mv, p.block) / 255.0
    return (cur.astype(np.float32) / 255.0 - pred).transpose(2, 0, 1).astype(np.float32)


class ResidualCrops:
    """A pool of residual crops made once (about 2 s per 100), sampled with flips.

    Images at 1536 px and at 1536 / s px for each of `scales`. With `detail_pick` > 1, every
    other crop of the pool is the most energetic residual of that many pairs (smooth wallpaper
    pairs leave almost nothing to code; real video residuals carry texture).
    """

    def __init__(self, crop: int = 256, seed: int = 0, pool: int = 1000,
                 scales: tuple[int, ...] = (2,), detail_pick: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.crop = crop
        sides = (1536, *(1536 // s for s in scales))
        images = [load_rgb(f, side) for f in image_files() for side in sides]
        crops = []
        for i in range(pool):
            picks = detail_pick if i % 2 else 1
            cands = [residual(*make_pair(images, self.rng, crop)) for _ in range(picks)]
            crops.append(max(cands, key=lambda r: float(np.mean(r**2))))
        self.pool = np.stack(crops)

    def batch(self, size: int) -> np.ndarray:
        idx = self.rng.integers(len(self.pool), size=size)
        out = self.pool[idx].copy()
        flip = self.rng.random(size) < 0.5
        out[flip] = out[flip][..., ::-1]
        return np.ascontiguousarray(out)
