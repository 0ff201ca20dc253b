"""Work-arounds for bugs in the Qt bindings, applied when `app` is imported.

PySide6 6.12.0 on CPython < 3.12: `SignalInstance.emit()` returns `True` without taking a
reference, so every `emit()` called from Python (ours and pyqtgraph's) drops one reference to
`True`. After a few thousand emits `True` is deallocated and the interpreter aborts ("Fatal
Python error: bool_dealloc"). CPython 3.12+ makes the bools immortal; on older versions we
detect the leak once and give both bools a reference count that cannot run out.
"""

from __future__ import annotations

import ctypes
import sys

_PINNED = False


def emit_drops_references() -> bool:
    """Whether a Python-side Signal.emit() leaks a reference to the bool it returns."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(4):
        probe.ping.emit()
    return sys.getrefcount(True) < before


def pin_bools() -> bool:
    """Apply the work-around if this interpreter and binding need it; True if applied."""
    global _PINNED
    if _PINNED or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _PINNED
    if not emit_drops_references():
        return False
    for obj in (True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _PINNED = True
    return True
