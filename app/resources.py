"""Where the app's own files (icons) are: next to the code, or inside a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """`resources/` of the repository, or of the bundle when frozen."""
    if bundle := getattr(sys, "_MEIPASS", None):
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def icon_path() -> Path:
    """The application icon (PNG, 256 px)."""
    return resources_dir() / "icons" / "zvc69.png"
