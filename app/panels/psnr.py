"""PSNR per frame: the encoder's stored values and, with a source opened, measured ones."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from app.panels.base import FramePanel, cosmetic_pen
from codec.stats import FrameStats

STORED = QColor(170, 170, 255)
MEASURED = QColor(255, 215, 80)


class PsnrPanel(FramePanel):
    """RGB PSNR in dB per frame."""

    title = "PSNR"
    y_label = "dB"

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.stored_curve = pg.PlotDataItem(pen=cosmetic_pen(STORED, 1.3), connect="finite",
)
        self.measured_curve = pg.PlotDataItem(pen=cosmetic_pen(MEASURED, 1.8),
                                              connect="finite", symbol="o", symbolSize=3,
                                              symbolPen=None, symbolBrush=MEASURED)
        self.plot.addItem(self.stored_curve)
        self.plot.addItem(self.measured_curve)
        self.set_legend([("vs source", MEASURED, "line"), ("encoder", STORED, "line")])
        self.stored = np.zeros(0)
        self.measured = np.zeros(0)

    def set_stream(self, num_frames: int) -> None:
        self.set_num_frames(num_frames)
        self.stored = np.full(num_frames, np.nan)
        self.measured = np.full(num_frames, np.nan)
        self._redraw()

    def set_stored(self, stats: list[FrameStats] | None) -> None:
        """PSNR values the encoder stored (FrameStats.psnr), if any."""
        for s in stats or []:
            if s.psnr is not None and 0 <= s.index < self.stored.size:
                self.stored[s.index] = s.psnr
        self._redraw()

    def set_measured(self, n: int, value: float) -> None:
        if 0 <= n < self.measured.size:
            self.measured[n] = value

    def clear_measured(self) -> None:
        self.measured[:] = np.nan
        self._redraw()

    def refresh(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        idx = np.arange(self.stored.size, dtype=np.float64)
        for curve, values in ((self.stored_curve, self.stored),
                              (self.measured_curve, self.measured)):
            finite = np.where(np.isfinite(values), values, np.nan)  # inf (identical) -> gap
            if np.isfinite(finite).any():
                curve.setData(idx, finite)
            else:
                curve.setData([], [])
        have = bool(np.isfinite(self.stored).any() or np.isfinite(self.measured).any())
        if self.stored.size and not have:
            self.set_placeholder("File ▸ Compare with source… measures PSNR against the source")
        elif self.stored.size:
            self.set_placeholder("")

    def reset(self) -> None:
        self.stored = self.measured = np.zeros(0)
        self._redraw()
        super().reset()

    def hover_text(self, n: int) -> str:
        def fmt(a: np.ndarray) -> str:
            return f"{a[n]:.2f} dB" if 0 <= n < a.size and np.isfinite(a[n]) else "—"

        return f"frame {n}  ·  source {fmt(self.measured)}  ·  encoder {fmt(self.stored)}"
