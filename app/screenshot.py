"""Rendering the window offscreen to an image (`zvc69-studio FILE --screenshot out.png`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.mainwindow import MainWindow

DEFAULT_SIZE = (1480, 920)


def wait_until(condition: Callable[[], bool], timeout_s: float, poll_ms: int = 15) -> bool:
    """Run the event loop until `condition()` holds or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    while not condition():
        if time.monotonic() > deadline:
            return False
        QTimer.singleShot(poll_ms, loop.quit)
        loop.exec()
    return True


def settle(window: MainWindow, frame: int, timeout_s: float) -> str | None:
    """Wait until `frame` is shown and the charts are filled; returns an error, or None."""
    player = window.player
    if not wait_until(lambda: player.is_open or player.last_error is not None
                      or not player.is_loading, timeout_s):
        return "Timed out opening the stream."
    if not player.is_open:
        return player.last_error or window.last_error or "The stream could not be opened."
    target = max(0, min(frame, player.num_frames - 1))
    player.seek(target)
    ok = wait_until(lambda: (player.current == target or player.is_bad(target))
                    and not player.scanning, timeout_s)
    if not ok:
        return f"Timed out decoding frame {target}."
    if player.is_bad(target):
        return window.last_error or f"Frame {target} could not be decoded."
    # let the read-ahead fill a little so the timing chart and the buffer bar show something
    want = min(player.readahead_frames, player.num_frames - 1 - target, 24)
    wait_until(lambda: player.buffered_ahead() >= want, min(5.0, timeout_s))
    window.refresh_analysis()
    return None


def take_screenshot(window: MainWindow, out: str | Path, file: str | Path | None = None,
                    frame: int = 0, overlays: Iterable[str] = (),
                    size: tuple[int, int] = DEFAULT_SIZE, timeout_s: float = 120.0) -> str | None:
    """Show `window` at `size`, open `file` at `frame` with `overlays`, save it to `out`.

    Returns None on success or the error shown (the image is saved either way).
    """
    window.resize(*size)
    window.show()
    for name in overlays:
        window.set_overlay(name, True)
    error = None
    if file is not None:
        window.open_file(file)
        error = settle(window, frame, timeout_s)
    for _ in range(3):
        QApplication.processEvents()
    wait_until(lambda: False, 0.1)  # let throttled updates (timeline, charts) land
    if not window.grab().save(str(out)):
        return f"Could not write {out}"
    return error
