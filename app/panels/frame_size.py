"""Frame sizes: one bar per frame coloured by frame type, with the bitrate over a 1 s window."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from app.panels.base import TYPE_COLOURS, FramePanel, cosmetic_pen
from codec.stats import FrameStats

BITRATE = QColor(240, 240, 240)


def bitrate_kbps(bits: np.ndarray, fps: float) -> np.ndarray:
    """Bitrate in kbit/s over a one-second window centred on each frame (clipped at the ends)."""
    if bits.size == 0:
        return bits.astype(np.float64)
    window = max(1, int(round(fps)))
    csum = np.concatenate([[0.0], np.cumsum(bits, dtype=np.float64)])
    idx = np.arange(bits.size)
    lo = np.maximum(0, idx - window // 2)
    hi = np.minimum(bits.size, lo + window)
    lo = np.maximum(0, hi - window)
    return (csum[hi] - csum[lo]) / (hi - lo) * fps / 1000.0


class FrameSizePanel(FramePanel):
    """Bars of frame size (kbit) by frame type; the bitrate (kbit/s) on the right axis."""

    title = "Frame size"
    y_label = "kbit per frame"

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.stats: list[FrameStats] = []
        self.fps = 25.0
        self.bars: dict[str, pg.BarGraphItem] = {}
        for ftype in ("I", "P", "B"):
            bar = pg.BarGraphItem(x=[], height=[], width=0.8, brush=TYPE_COLOURS[ftype],
                                  pen=None)
            self.plot.addItem(bar)
            self.bars[ftype] = bar
        self.rate_box = self.add_right_axis("kbit/s")
        self.rate_curve = pg.PlotCurveItem(pen=cosmetic_pen(BITRATE, 1.5))
        self.rate_box.addItem(self.rate_curve)
        self.set_legend([("I", TYPE_COLOURS["I"], "box"), ("P", TYPE_COLOURS["P"], "box"),
                         ("B", TYPE_COLOURS["B"], "box"), ("bitrate (1 s)", BITRATE, "line")])
        self.sizes = np.zeros(0)
        self.rate = np.zeros(0)

    def set_stats(self, stats: list[FrameStats], fps: Fraction | float) -> None:
        self.stats = list(stats)
        self.fps = float(fps) or 25.0
        self.set_num_frames(len(self.stats))
        bits = np.array([s.bits_total for s in self.stats], np.float64)
        self.sizes = bits / 1000.0
        self.rate = bitrate_kbps(bits, self.fps)
        idx = np.array([s.index for s in self.stats], np.float64)
        types = np.array([s.frame_type.upper() for s in self.stats])
        for ftype, bar in self.bars.items():
            sel = types == ftype
            bar.setOpts(x=idx[sel], height=self.sizes[sel], width=0.8)
        self.rate_curve.setData(idx, self.rate)
        top = float(self.rate.max()) if self.rate.size else 1.0
        self.rate_box.enableAutoRange(axis="y", enable=False)
        self.rate_box.setYRange(0.0, max(1.0, top * 1.1), padding=0)
        self.set_current(self.current)

    def reset(self) -> None:
        self.stats = []
        self.sizes = self.rate = np.zeros(0)
        for bar in self.bars.values():
            bar.setOpts(x=[], height=[])
        self.rate_curve.setData([], [])
        super().reset()

    def hover_text(self, n: int) -> str:
        if not 0 <= n < len(self.stats):
            return f"frame {n}"
        s = self.stats[n]
        return f"frame {n} {s.frame_type}  ·  {s.size_bytes:,} B  ·  {self.rate[n]:,.0f} kbit/s"
