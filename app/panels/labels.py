"""Header widgets of the charts that give way when space is short: elided text, legend strip."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """A one-line label that shows "…" instead of widening its parent."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(24, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight,
                                             rect.width())
        p.drawText(rect, int(self.alignment()), text)
        p.end()


class LegendStrip(QWidget):
    """Coloured marks and names in a row; entries that do not fit are left out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[tuple[str, QColor, str]] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.text_colour = QColor(174, 180, 189)

    def set_entries(self, entries: list[tuple[str, QColor, str]]) -> None:
        """(label, colour, "box" | "line") per series."""
        self.entries = list(entries)
        self.updateGeometry()
        self.update()

    def _widths(self) -> list[int]:
        fm = self.fontMetrics()
        return [16 + fm.horizontalAdvance(label) + 12 for label, _, _ in self.entries]

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(sum(self._widths()), self.fontMetrics().height() + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(min(sum(self._widths()), 240), self.fontMetrics().height() + 4)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        h = self.height()
        x = 0
        for (label, colour, kind), width in zip(self.entries, self._widths(), strict=True):
            if x + width - 12 > self.width():
                break
            if kind == "box":
                p.fillRect(QRect(x, h // 2 - 5, 10, 10), colour)
            else:
                p.fillRect(QRect(x, h // 2 - 1, 12, 3), colour)
            p.setPen(self.text_colour)
            p.drawText(QRect(x + 16, 0, width - 16, h),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), label)
            x += width
        p.end()
