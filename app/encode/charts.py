"""Live encode charts: frame sizes by frame type with the running bitrate, and PSNR per frame.

Both take one FrameStats per coded frame (`add`, cheap) and draw on `redraw` (the view calls it
a few times a second), over a frame axis that spans the whole encode when its length is known.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from app.panels.base import TYPE_COLOURS, FramePanel, cosmetic_pen
from codec.stats import FrameStats

BITRATE = QColor(240, 240, 240)
PSNR_RGB = QColor(255, 215, 80)
PSNR_Y = QColor(170, 170, 255)
AXIS_WIDTH = 56


def running_kbps(bits: np.ndarray, fps: float) -> np.ndarray:
    """kbit/s over the second up to and including each frame (fewer frames at the start)."""
    if bits.size == 0:
        return np.zeros(0)
    window = max(1, int(round(fps)))
    csum = np.concatenate([[0.0], np.cumsum(bits, dtype=np.float64)])
    hi = np.arange(1, bits.size + 1)
    lo = np.maximum(0, hi - window)
    return (csum[hi] - csum[lo]) / (hi - lo) * fps / 1000.0


class LiveChart(FramePanel):
    """A FramePanel that grows frame by frame during an encode."""

    idle_text = "Fills in frame by frame while encoding"

    def __init__(self) -> None:
        super().__init__()
        self.stats: list[FrameStats] = []
        self.total: int | None = None
        self.fps = 25.0
        self.set_placeholder(self.idle_text)
        item = self.plot.getPlotItem()
        item.showAxis("right")  # both charts keep the same plot width, so their frames line up
        for side in ("left", "right"):
            item.getAxis(side).setWidth(AXIS_WIDTH)

    def begin(self, total: int | None, fps: float) -> None:
        """Start a new encode of `total` frames (None: unknown) at `fps`."""
        self.reset()
        self.total, self.fps = total, fps or 25.0
        self.set_placeholder("Waiting for the first frame…")
        if total:
            self.set_num_frames(total)

    def add(self, stats: FrameStats) -> None:
        self.stats.append(stats)
        if stats.index > 0 and stats.pts > 0:  # the stream's own rate: pts = index * 90000 / fps
            self.fps = 90000.0 * stats.index / stats.pts

    def redraw(self) -> None:
        n = len(self.stats)
        if n and (not self.total or n > self.num_frames):
            self.set_num_frames(max(n, self.total or 0))
        if n:
            self.set_placeholder("")
        self.draw()
        self.set_current(n - 1)

    def draw(self) -> None:
        """Update the plot items from `self.stats` (subclasses)."""

    def reset(self) -> None:
        self.stats = []
        self.total = None
        super().reset()
        self.set_placeholder(self.idle_text)


class SizeChart(LiveChart):
    """Bars of kbit per frame coloured by frame type; running bitrate on the right axis."""

    y_label = "kbit per frame"

    def __init__(self) -> None:
        super().__init__()
        self.bars: dict[str, pg.BarGraphItem] = {}
        for ftype in ("I", "P", "B"):
            bar = pg.BarGraphItem(x=[], height=[], width=0.8, brush=TYPE_COLOURS[ftype], pen=None)
            self.plot.addItem(bar)
            self.bars[ftype] = bar
        self.rate_box = self.add_right_axis("kbit/s")
        self.rate_curve = pg.PlotCurveItem(pen=cosmetic_pen(BITRATE, 1.5))
        self.rate_box.addItem(self.rate_curve)
        self.kbits = np.zeros(0)
        self.rate = np.zeros(0)
        self._legend({})

    def _legend(self, counts: dict[str, int]) -> None:
        self.set_legend([(f"I {counts.get('I', 0)}", TYPE_COLOURS["I"], "box"),
                         (f"P {counts.get('P', 0)}", TYPE_COLOURS["P"], "box"),
                         (f"B {counts.get('B', 0)}", TYPE_COLOURS["B"], "box"),
                         ("bitrate (last 1 s)", BITRATE, "line")])

    def draw(self) -> None:
        bits = np.array([s.bits_total for s in self.stats], np.float64)
        self.kbits = bits / 1000.0
        self.rate = running_kbps(bits, self.fps)
        idx = np.array([s.index for s in self.stats], np.float64)
        types = np.array([s.frame_type.upper() for s in self.stats])
        for ftype, bar in self.bars.items():
            sel = types == ftype
            bar.setOpts(x=idx[sel], height=self.kbits[sel], width=0.8)
        self.rate_curve.setData(idx, self.rate)
        top = float(self.rate.max()) if self.rate.size else 1.0
        self.rate_box.enableAutoRange(axis="y", enable=False)
        self.rate_box.setYRange(0.0, max(1.0, top * 1.1), padding=0)
        self._legend({t: int(np.sum(types == t)) for t in ("I", "P", "B")})

    def reset(self) -> None:
        self.kbits = self.rate = np.zeros(0)
        for bar in self.bars.values():
            bar.setOpts(x=[], height=[])
        self.rate_curve.setData([], [])
        self._legend({})
        super().reset()

    def points(self) -> int:
        """Bars drawn (one per coded frame)."""
        return sum(len(bar.opts.get("x", [])) for bar in self.bars.values())

    def hover_text(self, n: int) -> str:
        if not 0 <= n < len(self.stats) or n >= self.rate.size:
            return f"frame {n}"
        s = self.stats[n]
        return f"frame {n} {s.frame_type}  ·  {s.bits_total / 1000:,.1f} kbit  ·  " \
               f"{self.rate[n]:,.0f} kbit/s"


class PsnrChart(LiveChart):
    """RGB and luma PSNR against the source, in dB."""

    y_label = "dB"

    def __init__(self) -> None:
        super().__init__()
        self.rgb_curve = pg.PlotDataItem(pen=cosmetic_pen(PSNR_RGB, 1.8), connect="finite",
                                         symbol="o", symbolSize=4, symbolPen=None,
                                         symbolBrush=PSNR_RGB)
        self.y_curve = pg.PlotDataItem(pen=cosmetic_pen(PSNR_Y, 1.2), connect="finite")
        self.plot.addItem(self.y_curve)
        self.plot.addItem(self.rgb_curve)
        self.set_legend([("PSNR RGB", PSNR_RGB, "line"), ("PSNR Y", PSNR_Y, "line")])
        self.psnr = np.zeros(0)

    def draw(self) -> None:
        def finite(v: float | None) -> float:
            return float(v) if v is not None and math.isfinite(v) else np.nan

        idx = np.array([s.index for s in self.stats], np.float64)
        self.psnr = np.array([finite(s.psnr) for s in self.stats], np.float64)
        self.rgb_curve.setData(idx, self.psnr)
        self.y_curve.setData(idx, np.array([finite(s.psnr_y) for s in self.stats], np.float64))

    def reset(self) -> None:
        self.psnr = np.zeros(0)
        self.rgb_curve.setData([], [])
        self.y_curve.setData([], [])
        super().reset()

    def points(self) -> int:
        """Points drawn (one per coded frame)."""
        x, _ = self.rgb_curve.getData()
        return 0 if x is None else len(x)

    def hover_text(self, n: int) -> str:
        if not 0 <= n < len(self.stats):
            return f"frame {n}"
        s = self.stats[n]
        rgb = "–" if s.psnr is None else f"{s.psnr:.2f}"
        y = "–" if s.psnr_y is None else f"{s.psnr_y:.2f}"
        return f"frame {n} {s.frame_type}  ·  {rgb} dB (Y {y})"
