"""File ▸ Encode… in a main window: opens the Encode view and plays what it encodes.

What the main window must offer: `open_file(path)` (or `open_path(path)`) that opens a .zvc69
stream in the player. Optional: a `device` attribute ("auto", "cpu", "cuda") that encodes use.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from app.encode.view import EncodeView

SHORTCUTS = ("Ctrl+E", "Ctrl+N")  # the first one no other action of the window uses


def free_shortcut(window: QMainWindow, candidates: tuple[str, ...] = SHORTCUTS) -> str | None:
    """The first of `candidates` that no action of `window` already answers to."""
    taken = {seq.toString() for act in window.findChildren(QAction) for seq in act.shortcuts()}
    for keys in candidates:
        if QKeySequence(keys).toString() not in taken:
            return keys
    return None


def file_menu(window: QMainWindow) -> QMenu:
    """The window's File menu (made when it has none)."""
    for act in window.menuBar().actions():
        menu = act.menu()
        if isinstance(menu, QMenu) and act.text().replace("&", "").strip().lower() == "file":
            return menu
    return window.menuBar().addMenu("&File")


def opener_of(window: QMainWindow) -> Callable[[str], object] | None:
    """The window's method that opens a stream in the player, if it has one."""
    for name in ("open_file", "open_path"):
        method = getattr(window, name, None)
        if callable(method):
            return method
    return None


class EncodeLauncher(QObject):
    """Owns the window's Encode view (made on first use) and the action that shows it."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("encode_launcher")
        self.window = window
        self.view: EncodeView | None = None
        keys = free_shortcut(window)
        self.action = QAction("&Encode…", window)
        if keys:
            self.action.setShortcut(QKeySequence(keys))
        self.action.setToolTip("Encode a video into a .zvc69 stream, watching what the "
                               f"settings do{f'  ({keys})' if keys else ''}")
        self.action.triggered.connect(self.show_view)
        window.addAction(self.action)  # the shortcut works with the menu bar hidden
        window.installEventFilter(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def show_view(self) -> EncodeView:
        """Show (making it the first time) the Encode view as a window of its own."""
        if self.view is None:
            self.view = EncodeView(self.window)
            self.view.setWindowFlag(Qt.WindowType.Window, True)
            opener = opener_of(self.window)
            if opener is not None:
                self.view.encoded.connect(opener)
        if not self.view.encoding:
            self.view.device = str(getattr(self.window, "device", "auto") or "auto")
        self.view.show()
        self.view.raise_()
        self.view.activateWindow()
        return self.view

    def shutdown(self) -> None:
        """Stop the encode (keeping its frames) and the preview; close the view."""
        if self.view is not None:
            self.view.shutdown()
            self.view.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False


def install_encode_action(window: QMainWindow) -> QAction:
    """Add File ▸ Encode… (Ctrl+E, or Ctrl+N where Ctrl+E is taken) to `window`.

    The action opens the Encode view; a finished encode is opened with the window's
    `open_file(path)` (else `open_path(path)`). Returns the action; the view is
    `window.findChild(EncodeLauncher).view` once shown.
    """
    launcher = EncodeLauncher(window)
    menu = file_menu(window)
    separators = [a for a in menu.actions() if a.isSeparator()]
    if separators:  # at the end of the first group (Open…, Open recent, Close)
        menu.insertAction(separators[0], launcher.action)
    else:
        menu.addAction(launcher.action)
    return launcher.action
