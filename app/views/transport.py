"""The transport bar under the frame: buttons, timeline, frame counter, time code, frame type."""

from __future__ import annotations

from fractions import Fraction

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from app.panels.base import TYPE_COLOURS
from app.timecode import timecode
from app.views.timeline import Timeline


class TransportBar(QWidget):
    """Buttons for the given actions, then the timeline and the position readouts."""

    def __init__(self, actions: list[QAction | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transport")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 10, 4)
        layout.setSpacing(2)
        self.buttons: list[QToolButton] = []
        for action in actions:
            if action is None:
                layout.addSpacing(8)
                continue
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            layout.addWidget(button)
            self.buttons.append(button)
        layout.addSpacing(8)
        self.timeline = Timeline()
        layout.addWidget(self.timeline, 1)
        layout.addSpacing(10)
        self.badge = QLabel("")
        self.badge.setObjectName("badge")
        self.badge.setMinimumWidth(22)
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setVisible(False)
        layout.addWidget(self.badge)
        self.counter = QLabel("")
        self.counter.setObjectName("counter")
        self.counter.setToolTip("Current frame / number of frames")
        layout.addWidget(self.counter)
        layout.addSpacing(8)
        self.time = QLabel("")
        self.time.setObjectName("timecode")
        self.time.setToolTip("Time code of the current frame")
        layout.addWidget(self.time)
        self.num_frames = 0
        self.fps = Fraction(25)

    def set_stream(self, num_frames: int, fps: Fraction) -> None:
        self.num_frames, self.fps = num_frames, fps
        self.timeline.set_length(num_frames)
        self.timeline.hover_text_for = lambda n: f"frame {n}   {timecode(n, self.fps)}"
        self.set_position(-1)

    def set_position(self, n: int, frame_type: str | None = None, key: bool = False) -> None:
        self.timeline.set_position(n)
        width = len(str(max(1, self.num_frames)))
        if n < 0 or self.num_frames <= 0:
            self.counter.setText("")
            self.time.setText("")
            self.badge.setVisible(False)
            return
        self.counter.setText(f"{n:>{width}} / {self.num_frames - 1}")
        self.time.setText(timecode(n, self.fps))
        if frame_type:
            colour = TYPE_COLOURS.get(frame_type.upper(), TYPE_COLOURS["P"])
            self.badge.setText(frame_type + ("·key" if key and frame_type != "I" else ""))
            self.badge.setStyleSheet(f"background: {colour.name()};")
            self.badge.setVisible(True)

    def clear(self) -> None:
        self.num_frames = 0
        self.timeline.clear()
        self.set_position(-1)
