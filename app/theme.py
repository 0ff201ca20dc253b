"""The dark analyzer theme: Fusion style, a dark palette and a small style sheet."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

WINDOW = QColor(32, 34, 38)
BASE = QColor(24, 26, 30)
TEXT = QColor(222, 225, 230)
DIM = QColor(140, 146, 156)
ACCENT = QColor(255, 176, 40)

STYLE = """
QMainWindow::separator { background: #1b1d21; width: 4px; height: 4px; }
QDockWidget { color: #c9ccd2; font-weight: 600; }
QDockWidget::title { background: #26292e; padding: 4px 8px; border-bottom: 1px solid #15171a; }
QToolBar { background: #26292e; border: none; spacing: 2px; padding: 2px 4px; }
QToolBar QToolButton { padding: 3px 6px; border-radius: 3px; color: #dfe2e6; }
QToolBar QToolButton:checked { background: #3d4a5c; color: #ffffff; }
QToolBar QToolButton:hover { background: #343941; }
QStatusBar { background: #1d1f23; color: #b8bcc4; }
QStatusBar QLabel { padding: 0 6px; color: #b8bcc4; }
QLabel#panelTitle { color: #e6e8eb; font-weight: 600; }
QLabel#panelLegend { color: #aeb4bd; }
QLabel#panelReadout { color: #aeb4bd; font-family: "DejaVu Sans Mono", monospace; }
QLabel#legend { color: #8d939c; font-size: 8pt; }
QLabel#counter { color: #ffffff; font-family: "DejaVu Sans Mono", monospace; font-size: 11pt; }
QLabel#timecode { color: #ffb028; font-family: "DejaVu Sans Mono", monospace; font-size: 11pt; }
QLabel#badge { border-radius: 3px; padding: 1px 6px; font-weight: 700; color: #101010; }
QLabel#notice { background: rgba(20, 22, 26, 200); color: #ffd27a; padding: 4px 8px;
                border-radius: 3px; font-weight: 600; }
QLabel#banner { background: #5a4a1a; color: #ffe9a8; padding: 6px 10px; }
QWidget#transport { background: #26292e; border-top: 1px solid #15171a; }
QWidget#emptyState { background: #121316; }
QLabel#emptyTitle { color: #e8eaed; font-size: 20pt; font-weight: 300; }
QLabel#emptyHint { color: #9aa0a8; font-size: 11pt; }
QPushButton#recent { text-align: left; padding: 4px 10px; border: none; color: #7fb3ff; }
QPushButton#recent:hover { text-decoration: underline; }
QTreeWidget { background: #181a1e; alternate-background-color: #1d2024; border: none; }
QHeaderView::section { background: #26292e; color: #aeb4bd; border: none; padding: 3px; }
QTabBar::tab { background: #26292e; color: #aeb4bd; padding: 4px 12px; }
QTabBar::tab:selected { background: #33373e; color: #ffffff; }
"""


def apply_theme(app: QApplication) -> None:
    """Switch the application to the dark theme (call once, before creating windows)."""
    app.setStyle("Fusion")
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, WINDOW)
    pal.setColor(QPalette.ColorRole.WindowText, TEXT)
    pal.setColor(QPalette.ColorRole.Base, BASE)
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor(29, 32, 36))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor(45, 48, 54))
    pal.setColor(QPalette.ColorRole.ToolTipText, TEXT)
    pal.setColor(QPalette.ColorRole.Text, TEXT)
    pal.setColor(QPalette.ColorRole.Button, QColor(44, 47, 53))
    pal.setColor(QPalette.ColorRole.ButtonText, TEXT)
    pal.setColor(QPalette.ColorRole.BrightText, QColor(255, 80, 80))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(60, 110, 180))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    pal.setColor(QPalette.ColorRole.Link, QColor(127, 179, 255))
    pal.setColor(QPalette.ColorRole.PlaceholderText, DIM)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(100, 104, 112))
    app.setPalette(pal)
    font = QFont("DejaVu Sans", 9)
    app.setFont(font)
    app.setStyleSheet(STYLE)
    pg.setConfigOptions(antialias=True, background=BASE, foreground=DIM)
