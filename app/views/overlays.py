"""Analysis overlays over the frame: motion vectors, skip mask, heatmaps, transform sizes, grid.

Every overlay is a function of the frame's FrameStats; each has a visibility and an opacity.
Geometry is in image pixels (the frame view's ViewBox coordinates, y down).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPen

from app.views import colormaps as cm
from codec.bipred import BACKWARD, FORWARD
from codec.detail import B as DETAIL_BLOCK
from codec.stats import FrameStats

OVERLAY_NAMES = ("mv", "skip", "residual", "bits", "transform", "grid")
OVERLAY_TITLES = {
    "mv": "Motion vectors",
    "skip": "Skip mask",
    "residual": "Residual energy",
    "bits": "Bits per block",
    "transform": "Transform sizes",
    "grid": "Block grid",
}
DEFAULT_OPACITY = {"mv": 1.0, "skip": 0.55, "residual": 0.7, "bits": 0.7, "transform": 0.5,
                   "grid": 0.5}


class Overlay:
    """Base class: a set of graphics items in a ViewBox drawn from one frame's stats."""

    name = ""
    z = 10

    def __init__(self, view_box: pg.ViewBox) -> None:
        self.view_box = view_box
        self.stats: FrameStats | None = None
        self.visible = False
        self.opacity = DEFAULT_OPACITY.get(self.name, 1.0)
        self.px_per_unit = 1.0  # screen pixels per image pixel
        self.vmax: float | None = None  # stream-wide colour scale; per frame when None
        self.items: list[pg.GraphicsObject] = []

    def _add(self, item: pg.GraphicsObject) -> pg.GraphicsObject:
        item.setZValue(self.z)
        item.setVisible(self.visible)
        item.setOpacity(self.opacity)
        self.view_box.addItem(item)
        self.items.append(item)
        return item

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        for item in self.items:
            item.setVisible(visible)
        if visible:
            self.redraw()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(min(1.0, max(0.0, opacity)))
        for item in self.items:
            item.setOpacity(self.opacity)

    def set_stats(self, stats: FrameStats | None) -> None:
        self.stats = stats
        if self.visible:
            self.redraw()

    def set_zoom(self, px_per_unit: float) -> None:
        """Called when the view is zoomed; overlays that thin out redraw here."""
        self.px_per_unit = px_per_unit

    def redraw(self) -> None:
        raise NotImplementedError

    def legend(self) -> str:
        """A one-line explanation of the colours, for the overlay controls."""
        return ""


class BlockMapOverlay(Overlay):
    """A per-block map drawn as a translucent image scaled to the block grid."""

    z = 11
    cmap = "inferno"
    log = False

    def __init__(self, view_box: pg.ViewBox) -> None:
        super().__init__(view_box)
        self.image = self._add(pg.ImageItem(axisOrder="row-major"))

    def values(self, stats: FrameStats) -> np.ndarray | None:
        raise NotImplementedError

    def rgba(self, values: np.ndarray) -> np.ndarray:
        vmax = self.vmax if self.vmax else float(np.nanmax(values)) if values.size else 1.0
        return cm.heat_rgba(values, vmax or 1.0, self.cmap, self.log)

    def cell(self, stats: FrameStats) -> int:
        """Pixels per map entry."""
        return stats.block_size

    def redraw(self) -> None:
        values = None if self.stats is None else self.values(self.stats)
        if values is None or values.size == 0:
            self.image.clear()
            return
        assert self.stats is not None
        bs = self.cell(self.stats)
        rows, cols = values.shape[:2]
        self.image.setImage(self.rgba(values), levels=None, autoLevels=False)
        self.image.setRect(QRectF(0, 0, cols * bs, rows * bs))


class ResidualOverlay(BlockMapOverlay):
    name = "residual"
    log = True

    def values(self, stats: FrameStats) -> np.ndarray | None:
        return stats.residual_energy

    def legend(self) -> str:
        top = f"{self.vmax:.3g}" if self.vmax else "frame max"
        return f"mean squared residual per block, log scale 0 … {top}"


class BitsOverlay(BlockMapOverlay):
    name = "bits"
    cmap = "viridis"

    def values(self, stats: FrameStats) -> np.ndarray | None:
        return stats.bits_per_block

    def legend(self) -> str:
        top = f"{self.vmax:.0f}" if self.vmax else "frame max"
        return f"bits per block, 0 … {top}"


class SkipOverlay(BlockMapOverlay):
    name = "skip"
    colour = (40, 220, 120, 255)

    def values(self, stats: FrameStats) -> np.ndarray | None:
        return stats.skip

    def rgba(self, values: np.ndarray) -> np.ndarray:
        return cm.mask_rgba(values, self.colour)

    def legend(self) -> str:
        return "green: skipped blocks (no residual sent)"


class TransformOverlay(BlockMapOverlay):
    """The detail layer's 8x8 blocks that carry coefficients, by transform size."""

    name = "transform"
    # none, 8x8, 4x4, part of a 16x16, of a 32x32, of a 64x64
    colours = ((0, 0, 0, 0), (70, 150, 255, 255), (255, 150, 40, 255), (80, 220, 120, 255),
               (190, 110, 255, 255), (240, 80, 160, 255))

    def cell(self, stats: FrameStats) -> int:
        return DETAIL_BLOCK

    def values(self, stats: FrameStats) -> np.ndarray | None:
        return stats.detail_blocks

    def rgba(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(self.colours, np.uint8)[np.clip(values, 0, 5)]

    def legend(self) -> str:
        return ("detail layer: blue one 8×8 transform, orange four 4×4, green one 16×16, "
                "violet one 32×32, pink one 64×64 (uncoloured: none)")


class GridOverlay(Overlay):
    """Block boundaries; hidden while blocks are smaller than a few screen pixels."""

    name = "grid"
    z = 12
    min_px = 5.0

    def __init__(self, view_box: pg.ViewBox) -> None:
        super().__init__(view_box)
        pen = QPen(QColor(255, 255, 255, 170))
        pen.setCosmetic(True)
        pen.setWidthF(1.0)
        self.curve = self._add(pg.PlotCurveItem(pen=pen, connect="pairs", antialias=False))
        self._drawn_step: int | None = None

    def set_zoom(self, px_per_unit: float) -> None:
        super().set_zoom(px_per_unit)
        if self.visible and self._step() != self._drawn_step:
            self.redraw()

    def _step(self) -> int:
        bs = self.stats.block_size if self.stats else 16
        return max(1, math.ceil(self.min_px / max(1e-6, bs * self.px_per_unit)))

    def redraw(self) -> None:
        s = self.stats
        if s is None:
            self.curve.setData([], [])
            return
        bs, w, h = s.block_size, s.width, s.height
        step = self._step() * bs
        xs = np.arange(0, w + 1, step, dtype=np.float64)
        ys = np.arange(0, h + 1, step, dtype=np.float64)
        vx = np.repeat(xs, 2)
        vy = np.tile([0.0, float(h)], len(xs))
        hx = np.tile([0.0, float(w)], len(ys))
        hy = np.repeat(ys, 2)
        self.curve.setData(np.concatenate([vx, hx]), np.concatenate([vy, hy]))
        self._drawn_step = self._step()

    def legend(self) -> str:
        bs = self.stats.block_size if self.stats else 16
        return f"{bs}×{bs} motion blocks"


class MotionVectorOverlay(Overlay):
    """One arrow per motion block (grid `mv_block`) from its centre towards its reference.

    When blocks are small on screen, neighbouring blocks are averaged so arrows stay at least
    `min_px` screen pixels apart. Colours encode direction (hue wheel) or magnitude.
    """

    name = "mv"
    z = 13
    min_px = 18.0

    def __init__(self, view_box: pg.ViewBox) -> None:
        super().__init__(view_box)
        self.colour_by = "direction"  # or "magnitude"
        shadow = QPen(QColor(0, 0, 0, 200))
        shadow.setCosmetic(True)
        shadow.setWidthF(3.0)
        self.shadow = self._add(pg.PlotCurveItem(pen=shadow, connect="pairs"))
        self.curves: list[pg.PlotCurveItem] = []
        for _ in range(max(cm.DIRECTION_BINS, cm.MAGNITUDE_BINS)):
            self.curves.append(self._add(pg.PlotCurveItem(connect="pairs")))
        self._drawn_step: int | None = None
        self.arrow_count = 0

    def set_colour_by(self, mode: str) -> None:
        self.colour_by = "magnitude" if mode == "magnitude" else "direction"
        if self.visible:
            self.redraw()

    def set_zoom(self, px_per_unit: float) -> None:
        super().set_zoom(px_per_unit)
        if self.visible and self._step() != self._drawn_step:
            self.redraw()

    def _step(self) -> int:
        bs = self.stats.mv_block if self.stats else 16
        return max(1, math.ceil(self.min_px / max(1e-6, bs * self.px_per_unit)))

    def vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(x, y, dx, dy) of the arrows to draw at the current zoom, or None."""
        s = self.stats
        if s is None or s.mv is None or s.mv.size == 0:
            return None
        step = self._step()
        mv = np.asarray(s.mv, np.float32)
        if s.mv_back is not None and s.modes is not None:
            return self._bidir(mv, np.asarray(s.mv_back, np.float32), s.modes, step)
        return self._grouped(mv, step)

    def _bidir(self, mv: np.ndarray, back: np.ndarray, modes: np.ndarray, step: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A B-frame's arrows: to the reference before from the blocks that use it, to the
        one after from the blocks that use that (both where a block averages the two)."""
        fwd = np.where((modes == BACKWARD)[..., None], np.nan, mv)
        bwd = np.where((modes == FORWARD)[..., None], np.nan, back)
        a, b = self._grouped(fwd, step), self._grouped(bwd, step)
        return tuple(np.concatenate([u, v]) for u, v in zip(a, b, strict=True))  # type: ignore[return-value]

    def _grouped(self, mv: np.ndarray, step: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean vectors of step x step super-blocks at their centres (NaN vectors ignored)."""
        s = self.stats
        assert s is not None
        rows, cols = mv.shape[:2]
        pr, pc = (-rows) % step, (-cols) % step
        padded = np.pad(mv, ((0, pr), (0, pc), (0, 0)), constant_values=np.nan)
        grouped = padded.reshape((rows + pr) // step, step, (cols + pc) // step, step, 2)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN super-blocks stay NaN
            mean = np.nanmean(grouped, axis=(1, 3))
        gr, gc = mean.shape[:2]
        span = step * s.mv_block
        cy, cx = np.mgrid[0:gr, 0:gc].astype(np.float32)
        # centre of the covered part of the super-block (clipped at the frame edge)
        x = (cx * span + np.minimum((cx + 1) * span, s.width)) / 2.0
        y = (cy * span + np.minimum((cy + 1) * span, s.height)) / 2.0
        return x.ravel(), y.ravel(), mean[..., 0].ravel(), mean[..., 1].ravel()

    def redraw(self) -> None:
        self.arrow_count = 0
        vec = self.vectors()
        if vec is None:
            self.shadow.setData([], [])
            for c in self.curves:
                c.setData([], [])
            self._drawn_step = self._step()
            return
        x, y, dx, dy = vec
        mag = np.hypot(dx, dy)
        keep = np.isfinite(mag) & (mag >= 0.25)
        x, y, dx, dy, mag = x[keep], y[keep], dx[keep], dy[keep], mag[keep]
        self.arrow_count = int(x.size)
        seg_x, seg_y = _arrow_segments(x, y, dx, dy, mag)
        self.shadow.setData(seg_x, seg_y)
        if self.colour_by == "magnitude":
            vmax = self.vmax or (float(mag.max()) if mag.size else 1.0)
            bins, colours = cm.magnitude_bin(mag, vmax), cm.magnitude_colours()
        else:
            bins, colours = cm.direction_bin(dx, dy), cm.direction_colours()
        seg_bins = np.repeat(bins, 6)
        for i, curve in enumerate(self.curves):
            if i >= len(colours):
                curve.setData([], [])
                continue
            sel = seg_bins == i
            pen = QPen(QColor(*colours[i]))
            pen.setCosmetic(True)
            pen.setWidthF(1.6)
            curve.setPen(pen)
            curve.setData(seg_x[sel], seg_y[sel])
        self._drawn_step = self._step()

    def legend(self) -> str:
        if self.colour_by == "magnitude":
            top = f"{self.vmax:.1f}" if self.vmax else "frame max"
            return (f"arrow → reference block{self._b_note()}; colour: length 0 … {top} px "
                    "(blue → red)")
        return f"arrow → reference block{self._b_note()}; colour: direction (hue wheel)"

    def _b_note(self) -> str:
        s = self.stats
        if s is None or s.refs is None:
            return ""
        return f" (B-frame: to frame {s.refs[0]} and/or frame {s.refs[1]})"


def _arrow_segments(x: np.ndarray, y: np.ndarray, dx: np.ndarray, dy: np.ndarray,
                    mag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line pairs for arrows: shaft and two barbs each (6 points per arrow)."""
    n = x.size
    if n == 0:
        return np.empty(0), np.empty(0)
    tip_x, tip_y = x + dx, y + dy
    head = np.minimum(0.35 * mag, 6.0)
    ux, uy = dx / np.maximum(mag, 1e-6), dy / np.maximum(mag, 1e-6)
    cos, sin = math.cos(math.radians(28)), math.sin(math.radians(28))
    # barbs: the reversed direction rotated by +/- 28 degrees
    b1x = tip_x - head * (ux * cos - uy * sin)
    b1y = tip_y - head * (uy * cos + ux * sin)
    b2x = tip_x - head * (ux * cos + uy * sin)
    b2y = tip_y - head * (uy * cos - ux * sin)
    sx = np.stack([x, tip_x, tip_x, b1x, tip_x, b2x], axis=1).ravel()
    sy = np.stack([y, tip_y, tip_y, b1y, tip_y, b2y], axis=1).ravel()
    return sx.astype(np.float64), sy.astype(np.float64)


OVERLAY_CLASSES: dict[str, type[Overlay]] = {
    "mv": MotionVectorOverlay,
    "skip": SkipOverlay,
    "residual": ResidualOverlay,
    "bits": BitsOverlay,
    "transform": TransformOverlay,
    "grid": GridOverlay,
}


def stream_scales(stats: list[FrameStats], q: float = 99.0) -> dict[str, float | None]:
    """Stream-wide colour scales (a high percentile) so heatmaps compare across frames."""

    def pct(arrays: list[np.ndarray]) -> float | None:
        values = [np.ravel(a).astype(np.float32) for a in arrays if a is not None and a.size]
        if not values:
            return None
        top = float(np.nanpercentile(np.concatenate(values), q))
        return top if top > 0 else None

    mags = [np.hypot(s.mv[..., 0], s.mv[..., 1]) for s in stats if s.mv is not None]
    return {
        "residual": pct([s.residual_energy for s in stats if s.residual_energy is not None]),
        "bits": pct([s.bits_per_block for s in stats if s.bits_per_block is not None]),
        "mv": pct(mags),
    }
