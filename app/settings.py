"""Persistent settings (QSettings "ZVC69"/"Studio") and the recent-files list.

Set ZVC69_STUDIO_SETTINGS to an .ini path to keep the settings elsewhere (tests do).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from app import APPLICATION, ORGANIZATION

SETTINGS_ENV = "ZVC69_STUDIO_SETTINGS"
MAX_RECENT = 10


def open_settings() -> QSettings:
    """The application's settings store."""
    override = os.environ.get(SETTINGS_ENV)
    if override:
        return QSettings(override, QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def read_value(settings: QSettings, key: str, default: Any, kind: type) -> Any:
    """`settings.value(key)` converted to `kind`, or `default` when absent or unreadable."""
    raw = settings.value(key, None)
    if raw is None:
        return default
    try:
        if kind is bool:
            if isinstance(raw, str):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            return bool(raw)
        return kind(raw)
    except (TypeError, ValueError):
        return default


def recent_files(settings: QSettings) -> list[str]:
    """Recently opened files, newest first (only those that still exist)."""
    raw = settings.value("recent", [])
    if isinstance(raw, str):
        raw = [raw] if raw else []
    return [str(p) for p in (raw or []) if p and Path(str(p)).exists()][:MAX_RECENT]


def add_recent_file(settings: QSettings, path: str | Path) -> list[str]:
    """Put `path` at the head of the recent-files list; returns the new list."""
    path = str(Path(path).resolve())
    items = [path] + [p for p in recent_files(settings) if p != path]
    items = items[:MAX_RECENT]
    settings.setValue("recent", items)
    return items
