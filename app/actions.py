"""The window's QActions: file, playback, overlays and view, with player-like shortcuts."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from app.views.overlays import OVERLAY_NAMES, OVERLAY_TITLES

OVERLAY_KEYS = {"mv": "M", "skip": "S", "residual": "R", "bits": "B", "transform": "T",
                "grid": "G"}
OVERLAY_SHORT = {"mv": "MV", "skip": "Skip", "residual": "Residual", "bits": "Bits",
                 "transform": "Transform", "grid": "Grid"}
DISPLAY_MODES = ("decoded", "source", "difference")
DISPLAY_TITLES = {"decoded": "Decoded", "source": "Source", "difference": "Difference ×4"}


@dataclass
class Actions:
    """Every action of the main window, created by `make_actions`."""

    open: QAction
    close: QAction
    compare: QAction
    close_compare: QAction
    export_stats: QAction
    export_png: QAction
    quit: QAction
    play: QAction
    step_back: QAction
    step_forward: QAction
    start: QAction
    end: QAction
    prev_key: QAction
    next_key: QAction
    loop: QAction
    zoom_fit: QAction
    zoom_actual: QAction
    zoom_in: QAction
    zoom_out: QAction
    cache_size: QAction
    shortcuts: QAction
    about: QAction
    overlays: dict[str, QAction] = field(default_factory=dict)
    display: dict[str, QAction] = field(default_factory=dict)
    display_group: QActionGroup | None = None


def _action(parent: QWidget, text: str, keys: list[str | QKeySequence.StandardKey] | None = None,
            tip: str = "", icon: QStyle.StandardPixmap | None = None,
            checkable: bool = False) -> QAction:
    action = QAction(text, parent)
    if keys:
        action.setShortcuts([QKeySequence(k) for k in keys])
    if icon is not None:
        action.setIcon(parent.style().standardIcon(icon))
    shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}"
                      + (f"  ({shortcut})" if shortcut else ""))
    action.setCheckable(checkable)
    parent.addAction(action)  # shortcuts work even when the action is in no visible menu
    return action


def make_actions(parent: QWidget) -> Actions:
    """Create the actions (not yet connected) with their shortcuts, icons and tool tips."""
    sp = QStyle.StandardPixmap
    a = Actions(
        open=_action(parent, "&Open…", [QKeySequence.StandardKey.Open], "Open a .zvc69 stream",
                     sp.SP_DialogOpenButton),
        close=_action(parent, "&Close stream", ["Ctrl+W"]),
        compare=_action(parent, "Compare with &source…", ["Ctrl+Shift+O"],
                        "Open the source video to measure PSNR and view differences"),
        close_compare=_action(parent, "Close source"),
        export_stats=_action(parent, "Export &statistics…", ["Ctrl+E"],
                             "Export per-frame statistics as CSV or JSON",
                             sp.SP_DialogSaveButton),
        export_png=_action(parent, "Export view as &PNG…", ["Ctrl+Shift+E"],
                           "Save the frame view (with overlays) as a PNG image"),
        quit=_action(parent, "&Quit", [QKeySequence.StandardKey.Quit]),
        play=_action(parent, "&Play", ["Space", "K"], "Play / pause", sp.SP_MediaPlay),
        step_back=_action(parent, "Step &back", ["Left", ","], "One frame back",
                          sp.SP_MediaSeekBackward),
        step_forward=_action(parent, "Step &forward", ["Right", "."], "One frame forward",
                             sp.SP_MediaSeekForward),
        start=_action(parent, "Go to &start", ["Home"], "First frame",
                      sp.SP_MediaSkipBackward),
        end=_action(parent, "Go to &end", ["End"], "Last frame", sp.SP_MediaSkipForward),
        prev_key=_action(parent, "Previous &keyframe", ["PgUp", "Ctrl+Left"],
                         "Previous keyframe", sp.SP_ArrowLeft),
        next_key=_action(parent, "Next k&eyframe", ["PgDown", "Ctrl+Right"], "Next keyframe",
                         sp.SP_ArrowRight),
        loop=_action(parent, "&Loop", ["Ctrl+L"], "Loop playback", checkable=True),
        zoom_fit=_action(parent, "Zoom to &fit", ["F", "Ctrl+0"]),
        zoom_actual=_action(parent, "&Actual size (100%)", ["1", "Ctrl+1"]),
        zoom_in=_action(parent, "Zoom &in", ["+", "=", QKeySequence.StandardKey.ZoomIn]),
        zoom_out=_action(parent, "Zoom &out", ["-", QKeySequence.StandardKey.ZoomOut]),
        cache_size=_action(parent, "Frame &cache size…"),
        shortcuts=_action(parent, "&Keyboard shortcuts", ["F1"]),
        about=_action(parent, "&About ZVC69 Studio"),
    )
    for name in OVERLAY_NAMES:
        a.overlays[name] = _action(parent, OVERLAY_TITLES[name], [OVERLAY_KEYS[name]],
                                   f"Show {OVERLAY_TITLES[name].lower()}", checkable=True)
        a.overlays[name].setIconText(OVERLAY_SHORT[name])  # tool bar label
    group = QActionGroup(parent)
    group.setExclusive(True)
    for i, mode in enumerate(DISPLAY_MODES):
        act = _action(parent, DISPLAY_TITLES[mode], [f"Ctrl+{i + 2}"],
                      f"Show the {DISPLAY_TITLES[mode].lower()} picture", checkable=True)
        act.setData(mode)
        group.addAction(act)
        a.display[mode] = act
    a.display["decoded"].setChecked(True)
    a.display_group = group
    return a
