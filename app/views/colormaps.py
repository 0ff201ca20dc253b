"""Lookup tables and value-to-colour mapping for heatmaps and motion vectors."""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np
import pyqtgraph as pg


@lru_cache(maxsize=8)
def lut(name: str) -> np.ndarray:
    """A (256, 3) uint8 lookup table of a pyqtgraph colour map ("inferno", "viridis", ...)."""
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=False).astype(np.uint8)


def normalise(values: np.ndarray, vmax: float, log: bool = False) -> np.ndarray:
    """Map values in [0, vmax] to [0, 1] (log1p scale when `log`); NaN becomes 0."""
    v = np.nan_to_num(np.asarray(values, np.float32), nan=0.0).clip(min=0.0)
    top = max(float(vmax), 1e-9)
    if log:
        v, top = np.log1p(v), float(np.log1p(top))
    return (v / top).clip(0.0, 1.0)


def heat_rgba(values: np.ndarray, vmax: float, cmap: str = "inferno",
              log: bool = False, min_alpha: int = 50) -> np.ndarray:
    """Block values as an RGBA uint8 heatmap; low values are more transparent."""
    t = normalise(values, vmax, log)
    idx = (t * 255.0).astype(np.uint8)
    rgba = np.empty(t.shape + (4,), np.uint8)
    rgba[..., :3] = lut(cmap)[idx]
    rgba[..., 3] = (min_alpha + (255 - min_alpha) * np.sqrt(t)).astype(np.uint8)
    return rgba


def mask_rgba(mask: np.ndarray, colour: tuple[int, int, int, int]) -> np.ndarray:
    """Where `mask` is True: `colour`; elsewhere transparent."""
    rgba = np.zeros(mask.shape + (4,), np.uint8)
    rgba[np.asarray(mask, bool)] = colour
    return rgba


DIRECTION_BINS = 12
MAGNITUDE_BINS = 8


@lru_cache(maxsize=1)
def direction_colours() -> list[tuple[int, int, int]]:
    """One colour per direction bin (hue wheel, bin 0 = pointing right)."""
    out = []
    for i in range(DIRECTION_BINS):
        r, g, b = colorsys.hsv_to_rgb(i / DIRECTION_BINS, 0.75, 1.0)
        out.append((int(r * 255), int(g * 255), int(b * 255)))
    return out


@lru_cache(maxsize=1)
def magnitude_colours() -> list[tuple[int, int, int]]:
    """One colour per magnitude bin, small (cool) to large (hot)."""
    table = lut("turbo")
    return [tuple(int(c) for c in table[int(40 + i * 215 / (MAGNITUDE_BINS - 1))])
            for i in range(MAGNITUDE_BINS)]  # type: ignore[misc]


def direction_bin(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Direction bin of each vector (angle measured on screen, y pointing down)."""
    angle = np.arctan2(-dy, dx) % (2 * np.pi)
    return (np.round(angle / (2 * np.pi) * DIRECTION_BINS).astype(int)) % DIRECTION_BINS


def magnitude_bin(mag: np.ndarray, vmax: float) -> np.ndarray:
    t = (np.asarray(mag) / max(vmax, 1e-6)).clip(0.0, 1.0)
    return np.minimum((t * MAGNITUDE_BINS).astype(int), MAGNITUDE_BINS - 1)
