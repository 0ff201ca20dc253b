"""Shared pytest set-up.

Qt runs without a display (offscreen platform). ZVC69 Studio keeps its settings in a temporary
file during tests, never in the user's settings. The studio fixtures open in-process synthetic
streams (app.player.synthetic) so app tests need no model files.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
_SETTINGS_DIR = tempfile.mkdtemp(prefix="zvc69-studio-test-")
os.environ["ZVC69_STUDIO_SETTINGS"] = os.path.join(_SETTINGS_DIR, "studio.ini")
try:  # importing app applies app/qtcompat.py (PySide6 6.12 refcount work-around) for every Qt test
    import app  # noqa: F401
except ImportError:
    pass


@pytest.fixture
def studio_settings(tmp_path):
    """A fresh, empty settings store in a temporary .ini file."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def studio_window(qtbot, studio_settings):
    """make(**SyntheticSource kwargs) -> a shown MainWindow whose files open as synthetic streams.

    Windows are shut down (worker threads joined) at the end of the test.
    """
    from app.mainwindow import MainWindow
    from app.player.synthetic import SyntheticSource

    windows = []

    def make(settings=None, **source_kwargs):
        def factory_for(path):
            return lambda: SyntheticSource(**source_kwargs)

        window = MainWindow(settings=settings or studio_settings, factory_for=factory_for)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()
