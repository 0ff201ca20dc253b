"""FrameView: the decoded picture with zoom/pan, overlays and a readout under the cursor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QTimer, Signal
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.views.overlays import OVERLAY_CLASSES, MotionVectorOverlay, Overlay
from codec.stats import FrameStats


@dataclass(frozen=True)
class HoverInfo:
    """The pixel and block under the cursor."""

    x: int
    y: int
    rgb: tuple[int, int, int]
    row: int
    col: int
    stats: FrameStats | None

    def describe(self) -> str:
        r, g, b = self.rgb
        parts = [f"x {self.x}  y {self.y}", f"RGB {r} {g} {b}"]
        s = self.stats
        if s is not None:
            parts.append(f"block ({self.row}, {self.col})")
            parts.extend(block_details(s, self.row, self.col, (self.x, self.y)))
        return "   ".join(parts)


def block_details(s: FrameStats, row: int, col: int,
                  pixel: tuple[int, int] | None = None) -> list[str]:
    """Per-block values of `s` at block (row, col) (pixel (x, y) for the mv grid) as text."""
    out: list[str] = []

    def at(a: np.ndarray | None, r: int = row, c: int = col) -> np.ndarray | None:
        if a is None or not (0 <= r < a.shape[0] and 0 <= c < a.shape[1]):
            return None
        return a[r, c]

    scale = s.block_size / max(1, s.mv_block)  # mv may sit on a finer grid
    mv = at(s.mv, int(row * scale + scale / 2), int(col * scale + scale / 2))
    if pixel is not None:
        mv = at(s.mv, pixel[1] // s.mv_block, pixel[0] // s.mv_block)
    if mv is not None:
        out.append(f"mv ({float(mv[0]):+.2f}, {float(mv[1]):+.2f})")
    skip = at(s.skip)
    if skip is not None:
        out.append("skip" if bool(skip) else "coded")
    energy = at(s.residual_energy)
    if energy is not None:
        out.append(f"residual {float(energy):.3g}")
    bits = at(s.bits_per_block)
    if bits is not None:
        out.append(f"{float(bits):.0f} bits")
    d = s.block_size // 8  # detail blocks per block, along each side
    where = (row * d, col * d) if pixel is None else (pixel[1] // 8, pixel[0] // 8)
    transform = at(s.detail_blocks, *where)
    if transform:
        names = {2: "detail 4×4", 3: "detail 16×16", 4: "detail 32×32", 5: "detail 64×64"}
        out.append(names.get(int(transform), "detail 8×8"))
    return out


class FrameView(QWidget):
    """Shows one RGB frame; wheel zooms at the cursor, dragging pans, overlays sit on top."""

    hovered = Signal(object)  # HoverInfo | None
    zoom_changed = Signal(float)  # screen pixels per image pixel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsView(background=QColor(18, 19, 22))
        self.view_box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view_box.setDefaultPadding(0.01)
        self.graphics.setCentralItem(self.view_box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)
        self.overlays: dict[str, Overlay] = {
            name: cls(self.view_box) for name, cls in OVERLAY_CLASSES.items()
        }
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.notice = QLabel("", self.graphics)  # e.g. "Buffering…" over the picture
        self.notice.setObjectName("notice")
        self.notice.move(10, 10)
        self.notice.setVisible(False)
        self.image: np.ndarray | None = None
        self.stats: FrameStats | None = None
        self._fit_pending = True
        self._zoom = 1.0
        self._zoom_timer = QTimer(self)
        self._zoom_timer.setSingleShot(True)
        self._zoom_timer.setInterval(30)
        self._zoom_timer.timeout.connect(self._apply_zoom)
        self.view_box.sigRangeChanged.connect(lambda *_: self._zoom_timer.start())
        self.view_box.sigResized.connect(lambda *_: self._zoom_timer.start())
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.setMouseTracking(True)

    # -- content -----------------------------------------------------------------------------
    def set_frame(self, image: np.ndarray, stats: FrameStats | None) -> None:
        """Show `image` (H, W, 3) uint8 RGB with the overlays of `stats`."""
        first = self.image is None or self.image.shape[:2] != image.shape[:2]
        self.image = image
        self.image_item.setImage(image, levels=None, autoLevels=False)
        self.set_stats(stats)
        if first or self._fit_pending:
            self._fit_pending = False
            self.zoom_fit()

    def set_image(self, image: np.ndarray) -> None:
        """Replace the picture only (e.g. the source or difference image), keeping overlays."""
        self.image = image
        self.image_item.setImage(image, levels=None, autoLevels=False)

    def set_stats(self, stats: FrameStats | None) -> None:
        self.stats = stats
        for overlay in self.overlays.values():
            overlay.set_stats(stats)

    def clear(self) -> None:
        self.image = None
        self.stats = None
        self.image_item.clear()
        for overlay in self.overlays.values():
            overlay.set_stats(None)
        self._fit_pending = True

    def set_notice(self, text: str) -> None:
        """A small label in the top-left corner of the picture ("" hides it)."""
        if text != self.notice.text():
            self.notice.setText(text)
            self.notice.adjustSize()
        self.notice.setVisible(bool(text))

    # -- overlays ----------------------------------------------------------------------------
    def set_overlay_visible(self, name: str, visible: bool) -> None:
        self.overlays[name].set_visible(visible)

    def set_overlay_opacity(self, name: str, opacity: float) -> None:
        self.overlays[name].set_opacity(opacity)

    @property
    def motion_vectors(self) -> MotionVectorOverlay:
        mv = self.overlays["mv"]
        assert isinstance(mv, MotionVectorOverlay)
        return mv

    # -- zoom --------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self._zoom

    def zoom_fit(self) -> None:
        if self.image is None:
            return
        h, w = self.image.shape[:2]
        self.view_box.setRange(QRectF(0, 0, w, h), padding=0.01)

    def zoom_to(self, factor: float) -> None:
        """Set screen pixels per image pixel, keeping the view centre."""
        if self.image is None:
            return
        rect = self.view_box.viewRect()
        centre = rect.center()
        width = max(1.0, self.view_box.width()) / max(1e-3, factor)
        height = max(1.0, self.view_box.height()) / max(1e-3, factor)
        self.view_box.setRange(QRectF(centre.x() - width / 2, centre.y() - height / 2,
                                      width, height), padding=0.0)

    def zoom_by(self, factor: float) -> None:
        self.zoom_to(self._current_zoom() * factor)

    def _current_zoom(self) -> float:
        rect = self.view_box.viewRect()
        if rect.width() <= 0:
            return 1.0
        return float(self.view_box.width() / rect.width())

    def _apply_zoom(self) -> None:
        self._zoom = self._current_zoom()
        for overlay in self.overlays.values():
            overlay.set_zoom(self._zoom)
        self.zoom_changed.emit(self._zoom)

    # -- hover -------------------------------------------------------------------------------
    def info_at(self, x: float, y: float) -> HoverInfo | None:
        """What is at image coordinates (x, y), or None outside the frame."""
        if self.image is None:
            return None
        h, w = self.image.shape[:2]
        xi, yi = int(np.floor(x)), int(np.floor(y))
        if not (0 <= xi < w and 0 <= yi < h):
            return None
        r, g, b = (int(v) for v in self.image[yi, xi, :3])
        bs = self.stats.block_size if self.stats else 16
        return HoverInfo(xi, yi, (r, g, b), yi // bs, xi // bs, self.stats)

    def _on_mouse_moved(self, pos: QPointF) -> None:
        if not self.view_box.sceneBoundingRect().contains(pos):
            self.hovered.emit(None)
            return
        p = self.view_box.mapSceneToView(pos)
        self.hovered.emit(self.info_at(p.x(), p.y()))

    def leaveEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.hovered.emit(None)
        super().leaveEvent(event)  # type: ignore[arg-type]

    # -- export ------------------------------------------------------------------------------
    def render_image(self) -> QImage:
        """The view as the user sees it (zoom, overlays included)."""
        return self.graphics.grab().toImage()
