"""What the window shows with no stream open: what to do, recent files, or why opening failed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """A centred hint with an Open button and the recent files."""

    open_clicked = Signal()
    encode_clicked = Signal()
    recent_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        self.title = QLabel("Open a ZVC69 stream to play and analyze it")
        self.title.setObjectName("emptyTitle")
        self.hint = QLabel("File ▸ Open…  (Ctrl+O), drop a .zvc69 file here, or pass it on the "
                           "command line:  zvc69-studio FILE.  No stream yet? Encode one from "
                           "any video, or from the built-in demo clip (Ctrl+N).")
        self.hint.setObjectName("emptyHint")
        self.hint.setWordWrap(True)
        self.message = QLabel("")
        self.message.setObjectName("emptyHint")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setVisible(False)
        self.open_button = QPushButton("Open stream…")
        self.open_button.setMinimumWidth(160)
        self.open_button.clicked.connect(self.open_clicked)
        self.encode_button = QPushButton("Encode a video…")
        self.encode_button.setMinimumWidth(160)
        self.encode_button.clicked.connect(self.encode_clicked)
        for w in (self.title, self.hint, self.message):
            w.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(w)
        layout.addSpacing(14)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.encode_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addSpacing(18)
        self.recent_title = QLabel("Recent files")
        self.recent_title.setObjectName("emptyHint")
        self.recent_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.recent_title)
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(0)
        layout.addLayout(self.recent_box)
        layout.addStretch(3)
        self.set_recent([])

    def set_recent(self, paths: list[str]) -> None:
        while self.recent_box.count():
            item = self.recent_box.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for path in paths[:6]:
            button = QPushButton(f"{Path(path).name}    —    {Path(path).parent}")
            button.setObjectName("recent")
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setFlat(True)
            button.clicked.connect(lambda _=False, p=path: self.recent_clicked.emit(p))
            self.recent_box.addWidget(button, 0, Qt.AlignmentFlag.AlignCenter)
        self.recent_title.setVisible(bool(paths))

    def show_loading(self, label: str) -> None:
        self.title.setText(f"Opening {label} …")
        self.message.setVisible(False)
        self.open_button.setVisible(False)

    def show_error(self, label: str, message: str) -> None:
        self.title.setText(f"Could not open {label}")
        self.message.setText(message)
        self.message.setStyleSheet("color: #ff8a80;")
        self.message.setVisible(True)
        self.open_button.setVisible(True)

    def show_idle(self) -> None:
        self.title.setText("Open a ZVC69 stream to play and analyze it")
        self.message.setVisible(False)
        self.open_button.setVisible(True)
