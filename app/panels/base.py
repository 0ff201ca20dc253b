"""FramePanel: a chart over the frame axis with a current-frame marker, click-to-seek and hover."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from app.panels.labels import ElidedLabel, LegendStrip

BACKGROUND = QColor(24, 26, 30)
AXIS = QColor(170, 175, 185)
CURSOR = QColor(255, 200, 40)
TYPE_COLOURS = {"I": QColor(235, 85, 70), "P": QColor(70, 150, 235), "B": QColor(90, 200, 120),
                "b": QColor(160, 210, 120)}


def cosmetic_pen(colour: QColor | tuple[int, ...], width: float = 1.5,
                 style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour if isinstance(colour, QColor) else QColor(*colour))
    pen.setCosmetic(True)
    pen.setWidthF(width)
    pen.setStyle(style)
    return pen


class FrameAxis(pg.AxisItem):
    """An axis of frame numbers: integer ticks only."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802, N803
        levels = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                levels.append((spacing, [v for v in values if float(v).is_integer()]))
        if not levels and maxVal >= minVal:
            levels = [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return levels


class FramePanel(QWidget):
    """A titled pyqtgraph plot whose x axis is the frame number.

    Clicking a point seeks (`frame_clicked`); hovering shows `hover_text(frame)` in the header.
    """

    frame_clicked = Signal(int)
    title = ""
    y_label = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.num_frames = 0
        self.current = -1
        self.hover_frame: int | None = None
        self.plot = pg.PlotWidget(background=BACKGROUND,
                                  axisItems={"bottom": FrameAxis("bottom")})
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.12)
        item.setLabel("left", self.y_label)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=True, y=False)
        for side in ("left", "bottom", "right"):
            axis = item.getAxis(side)
            axis.setPen(AXIS)
            axis.setTextPen(AXIS)
        self.view_box: pg.ViewBox = item.getViewBox()
        self.view_box.enableAutoRange(axis="y")
        self.view_box.setAutoVisible(y=True)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=cosmetic_pen(CURSOR, 1.5))
        self.cursor.setZValue(100)
        self.cursor.setVisible(False)
        item.addItem(self.cursor, ignoreBounds=True)
        self.hover_line = pg.InfiniteLine(
            angle=90, movable=False,
            pen=cosmetic_pen(QColor(255, 255, 255, 90), 1, Qt.PenStyle.DashLine))
        self.hover_line.setVisible(False)
        item.addItem(self.hover_line, ignoreBounds=True)

        # both give way when the dock is narrow: never widen the window
        self.placeholder = pg.TextItem("", color=(140, 146, 156), anchor=(0.5, 0.5))
        item.addItem(self.placeholder, ignoreBounds=True)
        self.view_box.sigRangeChanged.connect(self._place_placeholder)
        self.set_placeholder("No stream open")
        self.legend = LegendStrip()
        self.hover_label = ElidedLabel("")
        self.hover_label.setObjectName("panelReadout")
        self.hover_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.header = QHBoxLayout()
        self.header.setContentsMargins(6, 2, 6, 0)
        self.header.setSpacing(16)
        self.header.addWidget(self.legend)
        self.header.addStretch(1)
        self.header.addWidget(self.hover_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(self.header)
        layout.addWidget(self.plot, 1)
        scene = self.plot.scene()
        scene.sigMouseClicked.connect(self._on_click)
        scene.sigMouseMoved.connect(self._on_move)

    # -- frame axis --------------------------------------------------------------------------
    def set_num_frames(self, n: int) -> None:
        self.num_frames = n
        self.set_placeholder("" if n > 0 else "No stream open")
        if n > 0:
            lo, hi = -1.0, n + 0.5  # consistent limits even for one-frame streams
            self.view_box.setLimits(xMin=lo, xMax=hi, minXRange=min(4.0, hi - lo))
            self.view_box.setXRange(-0.5, n - 0.5, padding=0.01)

    def set_current(self, n: int) -> None:
        self.current = n
        self.cursor.setValue(n)
        self.cursor.setVisible(n >= 0)
        if self.hover_frame is None:
            self.hover_label.setText(self.hover_text(n) if n >= 0 else "")

    def reset(self) -> None:
        """Forget the stream's data (subclasses clear their items and call this)."""
        self.num_frames = 0
        self.current = -1
        self.cursor.setVisible(False)
        self.hover_label.setText("")
        self.set_placeholder("No stream open")

    def frame_at(self, scene_pos: QPointF) -> int | None:
        """The frame under a scene position, or None outside the plot or the stream."""
        if self.num_frames <= 0 or not self.view_box.sceneBoundingRect().contains(scene_pos):
            return None
        x = self.view_box.mapSceneToView(scene_pos).x()
        if not math.isfinite(x):
            return None
        n = int(round(x))
        return n if 0 <= n < self.num_frames else None

    def hover_text(self, n: int) -> str:
        """What the header shows for frame `n`."""
        return f"frame {n}"

    def _on_click(self, event: object) -> None:
        button = getattr(event, "button", lambda: None)()
        if button != Qt.MouseButton.LeftButton:
            return
        n = self.frame_at(event.scenePos())  # type: ignore[attr-defined]
        if n is not None:
            self.frame_clicked.emit(n)

    def _on_move(self, pos: QPointF) -> None:
        n = self.frame_at(pos)
        self.hover_frame = n
        self.hover_line.setVisible(n is not None)
        if n is None:
            self.hover_label.setText(self.hover_text(self.current) if self.current >= 0 else "")
            return
        self.hover_line.setValue(n)
        self.hover_label.setText(self.hover_text(n))

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        self.hover_frame = None
        self.hover_line.setVisible(False)
        self.hover_label.setText(self.hover_text(self.current) if self.current >= 0 else "")
        super().leaveEvent(event)  # type: ignore[arg-type]

    # -- helpers -----------------------------------------------------------------------------
    def set_placeholder(self, text: str) -> None:
        """A hint in the middle of the plot ("" hides it)."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text))
        self._place_placeholder()

    def _place_placeholder(self, *_: object) -> None:
        if self.placeholder.isVisible():
            (x0, x1), (y0, y1) = self.view_box.viewRange()
            self.placeholder.setPos((x0 + x1) / 2, (y0 + y1) / 2)

    def set_legend(self, entries: list[tuple[str, QColor, str]]) -> None:
        """Header legend: (label, colour, "box" | "line") per series."""
        self.legend.set_entries(entries)

    def add_right_axis(self, label: str) -> pg.ViewBox:
        """A second ViewBox on the right axis sharing the frame axis (mouse passes through)."""
        item = self.plot.getPlotItem()
        vb = pg.ViewBox(enableMenu=False)
        vb.setMouseEnabled(x=False, y=False)
        vb.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        item.showAxis("right")
        item.scene().addItem(vb)
        axis = item.getAxis("right")
        axis.linkToView(vb)
        axis.setLabel(label)
        vb.setXLink(self.view_box)
        vb.enableAutoRange(axis="y")
        vb.setAutoVisible(y=True)

        def sync() -> None:
            vb.setGeometry(self.view_box.sceneBoundingRect())
            vb.linkedViewChanged(self.view_box, vb.XAxis)

        self.view_box.sigResized.connect(sync)
        sync()
        return vb
