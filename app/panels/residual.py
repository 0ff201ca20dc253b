"""Residual energy (mean over blocks) and skip ratio per frame."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from app.panels.base import FramePanel, cosmetic_pen
from codec.stats import FrameStats

ENERGY = QColor(250, 140, 60)
SKIP = QColor(40, 220, 120)


class ResidualPanel(FramePanel):
    """Mean residual energy (left axis) and the share of skipped blocks (right axis, %)."""

    title = "Residual & skip"
    y_label = "mean squared residual"

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.stats: list[FrameStats] = []
        self.energy_curve = pg.PlotDataItem(pen=cosmetic_pen(ENERGY, 1.6), connect="finite",
                                            symbol="o", symbolSize=3, symbolPen=None,
                                            symbolBrush=ENERGY)
        self.plot.addItem(self.energy_curve)
        self.skip_box = self.add_right_axis("skipped blocks %")
        self.skip_bars = pg.BarGraphItem(x=[], height=[], width=0.8,
                                         brush=QColor(40, 220, 120, 70), pen=None)
        self.skip_box.addItem(self.skip_bars)
        self.set_legend([("residual", ENERGY, "line"), ("skip %", SKIP, "box")])
        self.energy = np.zeros(0)
        self.skip = np.zeros(0)

    def set_stats(self, stats: list[FrameStats]) -> None:
        self.stats = list(stats)
        self.set_num_frames(len(self.stats))
        nan = float("nan")
        self.energy = np.array([nan if s.mean_residual_energy is None else s.mean_residual_energy
                                for s in self.stats], np.float64)
        self.skip = np.array([nan if s.skip_ratio is None else 100.0 * s.skip_ratio
                              for s in self.stats], np.float64)
        idx = np.arange(len(self.stats), dtype=np.float64)
        if np.isfinite(self.energy).any():  # NaN (frames not decoded yet) leaves gaps
            self.energy_curve.setData(idx, self.energy)
        else:
            self.energy_curve.setData([], [])
        ok = np.isfinite(self.skip)
        self.skip_bars.setOpts(x=idx[ok], height=self.skip[ok], width=0.8)
        self.skip_box.setYRange(0, 100, padding=0.02)
        self.set_current(self.current)

    def reset(self) -> None:
        self.stats = []
        self.energy = self.skip = np.zeros(0)
        self.energy_curve.setData([], [])
        self.skip_bars.setOpts(x=[], height=[])
        super().reset()

    def hover_text(self, n: int) -> str:
        if not 0 <= n < len(self.stats):
            return f"frame {n}"
        e, k = self.energy[n], self.skip[n]
        energy = "—" if not np.isfinite(e) else f"{e:.4g}"
        skip = "—" if not np.isfinite(k) else f"{k:.0f}%"
        return f"frame {n} {self.stats[n].frame_type} · residual {energy} · skip {skip}"
