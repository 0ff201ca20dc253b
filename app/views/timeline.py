"""The timeline: playhead, buffered (cached) ranges, keyframe ticks and undecodable frames."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

TRACK = QColor(48, 51, 58)
BUFFERED = QColor(70, 140, 200, 150)
PLAYED = QColor(230, 160, 40)
KEY_TICK = QColor(230, 90, 80)
BAD = QColor(220, 40, 40)
HEAD = QColor(245, 245, 245)


class Timeline(QWidget):
    """A seek bar over frames 0..length-1. Click or drag to seek."""

    seek_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.length = 0
        self.position = -1
        self.keyframes: list[int] = []
        self.buffered: list[tuple[int, int]] = []
        self.bad: set[int] = set()
        self.hover_text_for: Callable[[int], str] | None = None  # tooltip text of a frame
        self._dragging = False
        self._last_emitted = -1
        self.setMouseTracking(True)
        self.setMinimumHeight(26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click or drag to seek")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, 28)

    # -- state -------------------------------------------------------------------------------
    def set_length(self, n: int) -> None:
        self.length = max(0, n)
        self.position = min(self.position, self.length - 1)
        self.update()

    def set_position(self, n: int) -> None:
        if n != self.position:
            self.position = n
            self.update()

    def set_keyframes(self, frames: list[int]) -> None:
        self.keyframes = list(frames)
        self.update()

    def set_buffered(self, ranges: list[tuple[int, int]]) -> None:
        if ranges != self.buffered:
            self.buffered = list(ranges)
            self.update()

    def set_bad(self, frames: set[int]) -> None:
        self.bad = set(frames)
        self.update()

    def clear(self) -> None:
        self.length, self.position = 0, -1
        self.keyframes, self.buffered, self.bad = [], [], set()
        self.update()

    # -- geometry ----------------------------------------------------------------------------
    def _track(self) -> QRectF:
        return QRectF(8, self.height() / 2 - 5, max(1, self.width() - 16), 10)

    def x_of(self, frame: float) -> float:
        """Centre x of `frame` in widget pixels."""
        t = self._track()
        if self.length <= 0:
            return t.left()
        return t.left() + (frame + 0.5) / self.length * t.width()

    def frame_at(self, x: float) -> int:
        t = self._track()
        if self.length <= 0:
            return -1
        f = int((x - t.left()) / t.width() * self.length)
        return max(0, min(self.length - 1, f))

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        t = self._track()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(TRACK)
        p.drawRoundedRect(t, 4, 4)
        if self.length > 0:
            scale = t.width() / self.length
            p.setBrush(BUFFERED)
            for start, stop in self.buffered:
                p.drawRect(QRectF(t.left() + start * scale, t.top() + 2,
                                  max(1.0, (stop - start) * scale), t.height() - 4))
            if self.position >= 0:
                p.setBrush(PLAYED)
                p.drawRect(QRectF(t.left(), t.bottom() - 2, (self.position + 0.5) * scale, 2))
            pen = QPen(KEY_TICK)
            pen.setWidthF(1.0)
            p.setPen(pen)
            step = max(1, int(len(self.keyframes) / max(1.0, t.width() / 3)))
            for k in self.keyframes[::step]:
                x = t.left() + (k + 0.5) * scale
                p.drawLine(QPointF(x, t.top() - 4), QPointF(x, t.top() + 1))
            p.setPen(QPen(BAD))
            for k in sorted(self.bad):
                x = t.left() + (k + 0.5) * scale
                p.drawLine(QPointF(x, t.top()), QPointF(x, t.bottom()))
            if self.position >= 0:
                x = self.x_of(self.position)
                p.setPen(QPen(QColor(0, 0, 0, 160), 1))
                p.setBrush(HEAD)
                tri = QPolygonF([QPointF(x - 6, t.top() - 7), QPointF(x + 6, t.top() - 7),
                                 QPointF(x, t.top() + 1)])
                p.drawPolygon(tri)
                p.drawRect(QRectF(x - 1.5, t.top(), 3, t.height() + 4))
        p.end()

    # -- mouse -------------------------------------------------------------------------------
    def _seek_to(self, x: float) -> None:
        f = self.frame_at(x)
        if f >= 0 and f != self._last_emitted:
            self._last_emitted = f
            self.seek_requested.emit(f)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.length > 0:
            self._dragging = True
            self._last_emitted = -1
            self._seek_to(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        x = event.position().x()
        if self._dragging:
            self._seek_to(x)
        if self.length > 0:
            f = self.frame_at(x)
            text = self.hover_text_for(f) if self.hover_text_for else f"frame {f}"
            QToolTip.showText(event.globalPosition().toPoint(), text, self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._dragging = False
