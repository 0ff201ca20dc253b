"""ImagePane: a uint8 RGB frame drawn to fit (aspect kept) under a caption."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

BACKGROUND = QColor(18, 19, 22)
CAPTION = QColor(200, 204, 210)
HINT = QColor(120, 126, 136)


def to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of an (H, W, 3) uint8 RGB array."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ImagePane(QWidget):
    """Shows one picture scaled to fit, with a title above it and a placeholder when empty."""

    def __init__(self, title: str, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.placeholder = placeholder
        self.note = ""  # drawn after the title, e.g. "frame 12 · P"
        self.image: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 110)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 240)

    def set_image(self, rgb: np.ndarray | None, note: str = "") -> None:
        self.image = None if rgb is None else to_qimage(rgb)
        self.note = note
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        if placeholder is not None:
            self.placeholder = placeholder
        self.set_image(None)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        fm = self.fontMetrics()
        head = fm.height() + 6
        p.setPen(CAPTION)
        caption = self.title + (f"  ·  {self.note}" if self.note else "")
        p.drawText(QRect(6, 0, self.width() - 12, head),
                   int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                   fm.elidedText(caption, Qt.TextElideMode.ElideRight, self.width() - 12))
        area = self.rect().adjusted(4, head, -4, -4)
        if self.image is None:
            p.setPen(HINT)
            p.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                       self.placeholder)
            p.end()
            return
        size = self.image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(area.center())
        upscale = size.width() >= 2 * self.image.width()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not upscale)
        p.drawImage(target, self.image)
        p.end()
