"""Per-stage timing: stacked bars of milliseconds per frame, measured decode or stored encode."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox

from app.panels.base import FramePanel, cosmetic_pen
from codec.stats import STAGES, FrameStats

PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148),
]


def stage_colour(stage: str) -> QColor:
    i = STAGES.index(stage) if stage in STAGES else len(STAGES) + hash(stage) % 3
    return QColor(*PALETTE[i % len(PALETTE)])


def ordered_stages(timings: dict[int, dict[str, float]]) -> list[str]:
    """Stages present in `timings`, in STAGES order, unknown ones after."""
    seen: set[str] = set()
    for t in timings.values():
        seen.update(t)
    return [s for s in STAGES if s in seen] + sorted(seen - set(STAGES))


class TimingPanel(FramePanel):
    """Stacked per-stage times per frame; the line marks the real-time budget (1/fps)."""

    title = "Per-stage time"
    y_label = "ms per frame"
    DECODE, ENCODE = "Decode (measured)", "Encode (stored)"

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.source = QComboBox()
        self.source.addItems([self.DECODE, self.ENCODE])
        self.source.setToolTip("Decoder times measured while playing, or the encoder's times "
                               "stored with the stream")
        self.source.currentIndexChanged.connect(lambda _: self.redraw())
        self.header.insertWidget(0, self.source)
        item = self.plot.getPlotItem()
        self.side_legend = pg.LegendItem(labelTextSize="8pt", labelTextColor=(174, 180, 189),
                                         verSpacing=-4)
        item.layout.addItem(self.side_legend, 2, 3)  # right of the plot, never over the bars
        self.decode: dict[int, dict[str, float]] = {}
        self.encode: dict[int, dict[str, float]] = {}
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.budget = pg.InfiniteLine(
            angle=0, movable=False, pen=cosmetic_pen(QColor(255, 255, 255, 120), 1,
                                                     Qt.PenStyle.DotLine),
            label="real time", labelOpts={"position": 0.97, "color": (220, 220, 220),
                                          "fill": (24, 26, 30, 200), "anchors": [(1, 1), (1, 1)]})
        self.budget.setVisible(False)
        self.budget.setZValue(50)  # over the bars
        self.plot.addItem(self.budget)

    @property
    def showing(self) -> dict[int, dict[str, float]]:
        return self.encode if self.source.currentText() == self.ENCODE else self.decode

    def set_stream(self, num_frames: int, fps: Fraction | float) -> None:
        self.set_num_frames(num_frames)
        fps = float(fps)
        self.redraw()
        if fps > 0:
            self.budget.setValue(1000.0 / fps)
            self.budget.setVisible(True)

    def set_decode_timings(self, timings: dict[int, dict[str, float]]) -> None:
        """The decode timings measured so far (the dict is shared and may keep growing)."""
        self.decode = timings
        if self.showing is self.decode:
            self.redraw()

    def set_encode_stats(self, stats: list[FrameStats] | None) -> None:
        self.encode = {s.index: dict(s.timings) for s in stats or [] if s.timings}
        if self.source.currentText() == self.ENCODE:
            self.redraw()

    def redraw(self) -> None:
        """Rebuild the stacked bars from the data shown (callers throttle this)."""
        data = self.showing
        if self.num_frames and not data:
            self.set_placeholder("Play or step to measure decode times" if data is self.decode
                                 else "No encoder statistics stored with this stream")
        elif self.num_frames:
            self.set_placeholder("")
        stages = ordered_stages(data)
        for stage in list(self.bars):
            if stage not in stages:
                self.plot.removeItem(self.bars.pop(stage))
                self.side_legend.removeItem(stage)
        frames = np.array(sorted(data), dtype=np.int64)
        base = np.zeros(len(frames))
        for stage in stages:
            ms = np.array([data[f].get(stage, 0.0) for f in frames], np.float64)
            bar = self.bars.get(stage)
            if bar is None:
                bar = pg.BarGraphItem(x=[], height=[], width=0.8, brush=stage_colour(stage),
                                      pen=None)
                self.plot.addItem(bar)
                self.side_legend.addItem(bar, stage)
                self.bars[stage] = bar
            bar.setOpts(x=frames.astype(np.float64), y0=base.copy(), height=ms, width=0.8)
            base += ms

    def reset(self) -> None:
        self.decode, self.encode = {}, {}
        self.redraw()
        self.budget.setVisible(False)
        super().reset()

    def hover_text(self, n: int) -> str:
        t = self.showing.get(n)
        if not t:
            what = "not decoded yet" if self.showing is self.decode else "no encoder timings"
            return f"frame {n}: {what}"
        total = sum(t.values())
        top = sorted(t.items(), key=lambda kv: -kv[1])[:4]
        detail = "  ".join(f"{k} {v:.1f}" for k, v in top)
        return f"frame {n}  ·  {total:.1f} ms  ·  {detail}"
