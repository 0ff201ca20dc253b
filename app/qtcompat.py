"""Work-arounds for bugs in the Qt bindings, applied when `app` is imported.

PySide6 6.12.0 on CPython < 3.12 returns the singletons `None`, `True` and `False` without
taking a reference: every void Qt call made from Python (`processEvents()`, `setText()`, ...)
drops a reference to `None`, every `Signal.emit()` one to `True`. After some thousands of calls
a singleton is deallocated and the interpreter aborts ("Fatal Python error: none_dealloc" or
"bool_dealloc"). CPython 3.12+ makes these singletons immortal, which hides the bug there. On
older versions we detect the leak once and give the three singletons a reference count that
cannot run out (what 3.12 does by design).
"""

from __future__ import annotations

import ctypes
import sys

_PINNED = False


def singleton_leaks() -> bool:
    """Whether Qt calls from Python drop references to None or True."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(4):
        probe.setObjectName("probe")  # void: returns None
        probe.ping.emit()  # returns True
    return sys.getrefcount(None) < none_before or sys.getrefcount(True) < true_before


def pin_singletons() -> bool:
    """Apply the work-around if this interpreter and binding need it; True if applied."""
    global _PINNED
    if _PINNED or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _PINNED
    if not singleton_leaks():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _PINNED = True
    return True
