"""Overlay controls: a toggle, an opacity slider and a colour legend per overlay."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.views.overlays import OVERLAY_NAMES, OVERLAY_TITLES


class OverlayControls(QWidget):
    """Mirrors the overlay QActions (checkable) and sets opacities and the vector colouring."""

    opacity_changed = Signal(str, float)
    colour_mode_changed = Signal(str)

    def __init__(self, actions: dict[str, QAction], opacities: dict[str, float],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checks: dict[str, QCheckBox] = {}
        self.sliders: dict[str, QSlider] = {}
        self.legends: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        row = 0
        for name in OVERLAY_NAMES:
            action = actions[name]
            check = QCheckBox(OVERLAY_TITLES[name])
            check.setChecked(action.isChecked())
            check.setToolTip(f"{action.toolTip()} ({action.shortcut().toString()})")
            check.toggled.connect(action.setChecked)
            action.toggled.connect(check.setChecked)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(int(round(100 * opacities.get(name, 1.0))))
            slider.setToolTip("Opacity")
            slider.setMaximumWidth(110)
            slider.valueChanged.connect(
                lambda v, n=name: self.opacity_changed.emit(n, v / 100.0))
            legend = QLabel("")
            legend.setObjectName("legend")
            legend.setWordWrap(True)
            grid.addWidget(check, row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(legend, row + 1, 0, 1, 2)
            self.checks[name], self.sliders[name], self.legends[name] = check, slider, legend
            row += 2
            if name == "mv":
                self.colour_mode = QComboBox()
                self.colour_mode.addItems(["direction", "magnitude"])
                self.colour_mode.setToolTip("Colour motion vectors by direction or length")
                self.colour_mode.currentTextChanged.connect(self.colour_mode_changed)
                label = QLabel("colour by")
                label.setObjectName("legend")
                grid.addWidget(label, row, 0, Qt.AlignmentFlag.AlignRight)
                grid.addWidget(self.colour_mode, row, 1)
                row += 1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(grid)
        layout.addStretch(1)

    def set_legend(self, name: str, text: str) -> None:
        self.legends[name].setText(text)
