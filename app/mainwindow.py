"""MainWindow: the frame view with its transport bar, docked analyzer charts, menus, status bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.actions import DISPLAY_MODES, DISPLAY_TITLES, make_actions
from app.encode import install_encode_action
from app.export import stats_rows, write_stats
from app.panels.base import FramePanel
from app.panels.frame_info import FrameInfoPanel
from app.panels.frame_size import FrameSizePanel
from app.panels.psnr import PsnrPanel
from app.panels.residual import ResidualPanel
from app.panels.timings import TimingPanel
from app.player.cache import FrameCache
from app.player.compare import CompareWorker, VideoFactory, difference_image, media_factory
from app.player.controller import PlayerController
from app.player.source import SourceFactory, StreamInfo, stream_factory
from app.settings import add_recent_file, open_settings, read_value, recent_files
from app.timecode import format_bytes, format_fps
from app.views.empty_state import EmptyState
from app.views.frame_view import FrameView, HoverInfo
from app.views.overlay_controls import OverlayControls
from app.views.overlays import DEFAULT_OPACITY, OVERLAY_NAMES, stream_scales
from app.views.transport import TransportBar
from codec.backend import DEVICES, cuda_present
from codec.stats import FrameStats

STREAM_FILTER = "ZVC69 streams (*.zvc69);;All files (*)"
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".y4m", ".yuv", ".png", ".jpg"}
DEFAULT_CACHE_MB = 512
SOURCE_CACHE_MB = 256


class MainWindow(QMainWindow):
    """ZVC69 Studio's main window. `open_file(path)` opens a stream without blocking."""

    def __init__(
        self,
        settings: QSettings | None = None,
        restore: bool = True,
        dialogs: bool = True,
        factory_for: Callable[[Path], SourceFactory] = stream_factory,
        video_factory_for: Callable[[Path], VideoFactory] = media_factory,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else open_settings()
        self.dialogs = dialogs
        self.device = read_value(self.settings, "device", "auto", str)
        if self.device not in DEVICES:
            self.device = "auto"
        if factory_for is stream_factory:
            factory_for = self._stream_factory
        self.factory_for = factory_for
        self.video_factory_for = video_factory_for
        self.last_error: str | None = None
        self.message_box: QMessageBox | None = None
        self.stream_path: Path | None = None
        self.compare: CompareWorker | None = None
        self.source_path: Path | None = None
        self.psnr_source: dict[int, float] = {}
        self._old_compares: list[CompareWorker] = []
        self.bad_frames: set[int] = set()
        self._first_bad = ""
        self.setWindowTitle("ZVC69 Studio")
        self.setAcceptDrops(True)
        self.resize(1480, 920)
        self.setDockNestingEnabled(True)

        cache_mb = read_value(self.settings, "cache_mb", DEFAULT_CACHE_MB, float)
        self.player = PlayerController(cache_mb=cache_mb)
        self.player.loop = read_value(self.settings, "loop", False, bool)
        self.actions = make_actions(self)
        self._build_central()
        self._build_docks()
        self._build_menus()
        self.encode_action = install_encode_action(self)
        self._build_toolbar()
        self._build_status()
        self._connect()
        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(250)
        self._analysis_timer.timeout.connect(self.refresh_analysis)
        self._follow_timer = QTimer(self)
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(150)
        self._follow_timer.timeout.connect(self._follow_current)
        self._psnr_timer = QTimer(self)
        self._psnr_timer.setSingleShot(True)
        self._psnr_timer.setInterval(200)
        self._psnr_timer.timeout.connect(self.psnr_panel.refresh)
        self._restore_settings(restore)
        self._set_stream_actions(False)
        self._refresh_recent()

    # == construction =========================================================================
    def _build_central(self) -> None:
        a = self.actions
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        self.frame_view = FrameView()
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.frame_view)
        self.transport = TransportBar([a.start, a.prev_key, a.step_back, a.play, a.step_forward,
                                       a.next_key, a.end])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)

    def _dock(self, title: str, name: str, widget: QWidget,
              area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.size_panel = FrameSizePanel()
        self.residual_panel = ResidualPanel()
        self.timing_panel = TimingPanel()
        self.psnr_panel = PsnrPanel()
        self.panels: list[FramePanel] = [self.size_panel, self.residual_panel,
                                         self.timing_panel, self.psnr_panel]
        for panel in self.panels[1:]:
            panel.plot.setXLink(self.size_panel.plot)
        self.info_panel = FrameInfoPanel()
        self.opacities = dict(DEFAULT_OPACITY)
        self.overlay_controls = OverlayControls(self.actions.overlays, self.opacities)
        self.size_dock = self._dock("Frame size", "dock_frame_size", self.size_panel, bottom)
        self.residual_dock = self._dock("Residual && skip", "dock_residual",
                                        self.residual_panel, bottom)
        self.timing_dock = self._dock("Per-stage time", "dock_timing", self.timing_panel, bottom)
        self.psnr_dock = self._dock("PSNR", "dock_psnr", self.psnr_panel, bottom)
        self.overlay_dock = self._dock("Overlays", "dock_overlays", self.overlay_controls, right)
        self.info_dock = self._dock("Frame", "dock_frame_info", self.info_panel, right)
        self.splitDockWidget(self.size_dock, self.residual_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.residual_dock, self.timing_dock)
        self.tabifyDockWidget(self.timing_dock, self.psnr_dock)
        self.residual_dock.raise_()
        self.splitDockWidget(self.overlay_dock, self.info_dock, Qt.Orientation.Vertical)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.size_dock, self.residual_dock], [3, 2], Qt.Orientation.Horizontal)
        self.resizeDocks([self.size_dock], [260], Qt.Orientation.Vertical)
        self.resizeDocks([self.overlay_dock], [370], Qt.Orientation.Horizontal)
        self.resizeDocks([self.overlay_dock, self.info_dock], [280, 520], Qt.Orientation.Vertical)
        self.docks = [self.size_dock, self.residual_dock, self.timing_dock, self.psnr_dock,
                      self.overlay_dock, self.info_dock]

    def _build_menus(self) -> None:
        a = self.actions
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(a.open)
        self.recent_menu = file.addMenu("Open &recent")
        file.addAction(a.close)
        file.addSeparator()
        file.addAction(a.compare)
        file.addAction(a.close_compare)
        file.addSeparator()
        file.addAction(a.export_stats)
        file.addAction(a.export_png)
        file.addSeparator()
        file.addAction(a.quit)
        play = bar.addMenu("&Playback")
        for act in (a.play, None, a.step_back, a.step_forward, a.prev_key, a.next_key, None,
                    a.start, a.end, None, a.loop):
            play.addSeparator() if act is None else play.addAction(act)
        view = bar.addMenu("&View")
        overlays = view.addMenu("&Overlays")
        for name in OVERLAY_NAMES:
            overlays.addAction(a.overlays[name])
        picture = view.addMenu("&Picture")
        for mode in DISPLAY_MODES:
            picture.addAction(a.display[mode])
        view.addSeparator()
        for act in (a.zoom_fit, a.zoom_actual, a.zoom_in, a.zoom_out):
            view.addAction(act)
        view.addSeparator()
        panels = view.addMenu("&Panels")
        for dock in self.docks:
            panels.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addAction(a.cache_size)
        self._build_device_menu(view.addMenu("Inference &device"))
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a.shortcuts)
        help_menu.addAction(a.about)

    def _build_device_menu(self, menu: QMenu) -> None:
        """auto / CPU / CUDA for the networks of streams opened from now on (issue: GPU core)."""
        group = QActionGroup(self)
        group.setExclusive(True)
        labels = {"auto": "Automatic (GPU when present)", "cpu": "CPU", "cuda": "CUDA GPU"}
        has_cuda = cuda_present()
        self.device_actions: dict[str, QAction] = {}
        for dev in DEVICES:
            act = QAction(labels[dev], self, checkable=True)
            act.setChecked(dev == self.device)
            act.setEnabled(dev != "cuda" or has_cuda)
            if dev == "cuda" and not has_cuda:
                act.setToolTip("No CUDA device or onnxruntime-gpu CUDA libraries were found")
            act.triggered.connect(lambda _=False, d=dev: self.set_device(d))
            group.addAction(act)
            menu.addAction(act)
            self.device_actions[dev] = act

    def set_device(self, device: str) -> None:
        """Choose the inference device for streams opened from now on."""
        self.device = device
        self.settings.setValue("device", device)
        self.device_actions[device].setChecked(True)
        self.statusBar().showMessage(f"Inference device: {device} (for streams opened next)")

    def _stream_factory(self, path: Path) -> SourceFactory:
        return stream_factory(path, device=self.device)

    def _build_toolbar(self) -> None:
        a = self.actions
        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar_main")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addAction(a.open)
        tb.addAction(self.encode_action)
        tb.addAction(a.export_stats)
        tb.addSeparator()
        label = QLabel("  Overlays ")
        label.setObjectName("legend")
        tb.addWidget(label)
        for name in OVERLAY_NAMES:
            tb.addAction(a.overlays[name])
        tb.addSeparator()
        label = QLabel("  Picture ")
        label.setObjectName("legend")
        tb.addWidget(label)
        self.display_combo = QComboBox()
        for mode in DISPLAY_MODES:
            self.display_combo.addItem(DISPLAY_TITLES[mode], mode)
        self.display_combo.setToolTip("Decoded picture, source picture, or their difference "
                                      "(needs File ▸ Compare with source)")
        self.display_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        tb.addWidget(self.display_combo)
        tb.addSeparator()
        a.zoom_fit.setIconText("Fit")
        a.zoom_actual.setIconText("100%")
        tb.addAction(a.zoom_fit)
        tb.addAction(a.zoom_actual)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.pixel_label = QLabel("")
        self.play_label = QLabel("")
        self.cache_label = QLabel("")
        self.zoom_label = QLabel("")
        self.cache_label.setToolTip("Decoded frames kept in memory (View ▸ Frame cache size)")
        sb.addWidget(self.pixel_label, 1)
        for w in (self.play_label, self.zoom_label, self.cache_label):
            sb.addPermanentWidget(w)

    def _connect(self) -> None:
        a, p = self.actions, self.player
        a.open.triggered.connect(self.open_dialog)
        a.close.triggered.connect(self.close_stream)
        a.compare.triggered.connect(self.compare_dialog)
        a.close_compare.triggered.connect(self.close_source)
        a.export_stats.triggered.connect(self.export_stats_dialog)
        a.export_png.triggered.connect(self.export_png_dialog)
        a.quit.triggered.connect(self.close)
        a.play.triggered.connect(p.toggle_play)
        a.step_back.triggered.connect(lambda: p.step(-1))
        a.step_forward.triggered.connect(lambda: p.step(1))
        a.start.triggered.connect(p.to_start)
        a.end.triggered.connect(p.to_end)
        a.prev_key.triggered.connect(p.prev_keyframe)
        a.next_key.triggered.connect(p.next_keyframe)
        a.loop.setChecked(p.loop)
        a.loop.toggled.connect(lambda on: setattr(p, "loop", on))
        a.zoom_fit.triggered.connect(self.frame_view.zoom_fit)
        a.zoom_actual.triggered.connect(lambda: self.frame_view.zoom_to(1.0))
        a.zoom_in.triggered.connect(lambda: self.frame_view.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: self.frame_view.zoom_by(0.8))
        a.cache_size.triggered.connect(self.cache_size_dialog)
        a.shortcuts.triggered.connect(self.show_shortcuts)
        a.about.triggered.connect(self.show_about)
        for name, act in a.overlays.items():
            act.toggled.connect(lambda on, n=name: self.set_overlay(n, on))
        for mode, act in a.display.items():
            act.triggered.connect(lambda _=False, m=mode: self.set_display_mode(m))
        self.display_combo.currentIndexChanged.connect(
            lambda i: self.set_display_mode(self.display_combo.itemData(i)))
        self.overlay_controls.opacity_changed.connect(self.set_overlay_opacity)
        self.overlay_controls.colour_mode_changed.connect(self._set_mv_colouring)
        self.empty.open_clicked.connect(self.open_dialog)
        self.empty.encode_clicked.connect(self.encode_action.trigger)
        self.empty.recent_clicked.connect(self.open_file)
        self.transport.timeline.seek_requested.connect(p.seek)
        for panel in self.panels:
            panel.frame_clicked.connect(self._seek_from_chart)
        self.frame_view.hovered.connect(self._on_hover)
        self.frame_view.zoom_changed.connect(
            lambda z: self.zoom_label.setText(f"Zoom {100 * z:.0f}%"))
        p.opened.connect(self._on_opened)
        p.open_failed.connect(self._on_open_failed)
        p.scanned.connect(self._on_scanned)
        p.scan_failed.connect(lambda m: self.report(f"Could not read the frame index: {m}"))
        p.encode_stats_ready.connect(self._on_encode_stats)
        p.frame_shown.connect(self._on_frame_shown)
        p.frame_decoded.connect(self._on_frame_decoded)
        p.decode_failed.connect(self._on_decode_failed)
        p.playing_changed.connect(self._on_playing_changed)
        p.buffer_changed.connect(self._update_buffer_status)

    # == opening ==============================================================================
    def open_dialog(self) -> None:
        start = read_value(self.settings, "last_dir", str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self, "Open ZVC69 stream", start, STREAM_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> None:
        """Open `path` in the background; errors end up in a message box and the status bar."""
        path = Path(path)
        self.settings.setValue("last_dir", str(path.parent))
        self.close_stream()
        self.stream_path = path
        self.empty.show_loading(path.name)
        self.stack.setCurrentWidget(self.empty)
        self.statusBar().showMessage(f"Opening {path} …")
        self.player.open(self.factory_for(path), path.name, path)

    def open_source(self, factory: SourceFactory, label: str) -> None:
        """Open any frame source (tests, tools) the way `open_file` opens a path."""
        self.close_stream()
        self.stream_path = None
        self.empty.show_loading(label)
        self.player.open(factory, label)

    def close_stream(self) -> None:
        self.close_source()
        self.player.close()
        self.stream_path = None
        self.bad_frames = set()
        self.banner.setVisible(False)
        self.frame_view.clear()
        for overlay in self.frame_view.overlays.values():
            overlay.vmax = None
        self.info_panel.show_empty()
        self.transport.clear()
        for panel in self.panels:
            panel.reset()
        self.empty.show_idle()
        self.stack.setCurrentWidget(self.empty)
        self.setWindowTitle("ZVC69 Studio")
        self._set_stream_actions(False)
        self._update_buffer_status()

    def _on_opened(self, info: StreamInfo) -> None:
        self.stack.setCurrentWidget(self.frame_view)
        self.setWindowTitle(f"{info.label} — ZVC69 Studio")
        self.transport.set_stream(info.num_frames, info.fps)
        self.timing_panel.set_stream(info.num_frames, info.fps)
        self.psnr_panel.set_stream(info.num_frames)
        for panel in (self.size_panel, self.residual_panel):
            panel.set_num_frames(info.num_frames)
        self._set_stream_actions(True)
        extra = "  ".join(f"{k} {v}" for k, v in info.extra.items())
        self.statusBar().showMessage(
            f"{info.label}: {info.width}×{info.height}, {format_fps(info.fps)} fps, "
            f"{info.num_frames} frames  {extra}".rstrip(), 8000)
        if info.damage:
            self.banner.setText(f"⚠  This file is damaged but readable: {info.damage}")
            self.banner.setVisible(True)
        if self.stream_path is not None:
            add_recent_file(self.settings, self.stream_path)
            self._refresh_recent()

    def _on_open_failed(self, message: str) -> None:
        label = self.stream_path.name if self.stream_path else "the stream"
        self.empty.show_error(label, message)
        self.stack.setCurrentWidget(self.empty)
        self._set_stream_actions(False)
        self.report(f"Could not open {label}: {message}", title="Cannot open stream",
                    dialog=True)

    def _on_scanned(self, stats: list[FrameStats]) -> None:
        info = self.player.info
        if info is None:
            return
        self.size_panel.set_stats(stats, info.fps)
        self.residual_panel.set_stats(stats)
        self.psnr_panel.set_stored(stats)
        self.transport.timeline.set_keyframes(self.player.keyframes)
        scales = stream_scales(stats)
        for name in ("residual", "bits", "mv"):
            if scales[name] is not None:
                self.frame_view.overlays[name].vmax = scales[name]
        self._refresh_legends()
        self.frame_view.set_stats(self.frame_view.stats)  # redraw with the new scales
        for panel in self.panels:
            panel.set_current(self.player.current)

    def _on_encode_stats(self, stats: list[FrameStats] | None) -> None:
        self.timing_panel.set_encode_stats(stats)
        if stats:
            self.psnr_panel.set_stored(stats)

    def _on_decode_failed(self, n: int, message: str) -> None:
        first = not self.bad_frames or n < min(self.bad_frames)
        self.bad_frames.add(n)
        self.transport.timeline.set_bad(self.bad_frames)
        if first:
            self._first_bad = f"Frame {n} could not be decoded: {message}"
        more = len(self.bad_frames) - 1
        self.report(self._first_bad + (f"  ({more} more undecodable)" if more else ""))

    # == playback view ========================================================================
    def _on_frame_shown(self, n: int, image: np.ndarray, stats: FrameStats) -> None:
        self.frame_view.set_frame(self._display_image(n, image), stats)
        self.transport.set_position(n, stats.frame_type, stats.keyframe)
        if self.player.playing:  # charts and the info table follow at a few Hz while playing
            if not self._follow_timer.isActive():
                self._follow_timer.start()
        else:
            self._follow_current()

    def _follow_current(self) -> None:
        """Move the charts' frame markers and fill the info table for the frame on screen."""
        n = self.player.current
        stats = self.frame_view.stats
        if n < 0 or stats is None:
            return
        for panel in self.panels:
            panel.set_current(n)
        enc = self.player.encoder_stats
        encoded = enc[n] if enc and n < len(enc) and enc[n].index == n else None
        self.info_panel.show_frame(stats, self.player.timings.get(n), self.psnr_source.get(n),
                                   encoded)

    def _seek_from_chart(self, n: int) -> None:
        self.player.seek(n)

    def _on_playing_changed(self, playing: bool) -> None:
        if not playing:
            self._follow_current()
        a = self.actions.play
        a.setText("&Pause" if playing else "&Play")
        icon = self.style().StandardPixmap.SP_MediaPause if playing else \
            self.style().StandardPixmap.SP_MediaPlay
        a.setIcon(self.style().standardIcon(icon))
        self._update_buffer_status()

    def _update_buffer_status(self) -> None:
        p = self.player
        cache = p.cache
        self.cache_label.setText(
            f"Cache {format_bytes(cache.used_bytes)} / {format_bytes(cache.capacity_bytes)}"
            f"  ({len(cache)} frames)")
        self.transport.timeline.set_buffered(cache.ranges() if p.is_open else [])
        if not p.is_open:
            self.play_label.setText("")
            self.frame_view.set_notice("")
            return
        fps = float(p.info.fps) if p.info else 25.0
        ahead = p.buffered_ahead()
        speed = ""
        if p.decode_ms:
            dfps = 1000.0 / p.decode_ms
            speed = f"  ·  decoding {dfps:.1f} fps ({dfps / fps:.2f}× real time)"
        notice = ""
        if p.playing and p.buffering:
            need = max(1, min(p.readahead_frames, int(p.resume_s * fps)))
            state = f"Buffering {ahead}/{need} frames"
            notice = f"Buffering… {ahead}/{need} frames (decoding is slower than real time)"
        elif p.playing:
            state = f"Playing · {ahead} frames ({ahead / fps:.1f} s) buffered ahead"
        elif p.target != p.current and p.target >= 0:
            state = f"Seeking to frame {p.target}: decoding forward from keyframe {p.current}"
            notice = f"Seeking to frame {p.target}…"
        else:
            state = f"Paused · {ahead} frames buffered ahead"
        self.play_label.setText(state + speed)
        self.frame_view.set_notice(notice)

    def _on_frame_decoded(self, n: int, stats: FrameStats) -> None:
        """Decoded frames bring block maps the scan has not: widen the heatmap scales."""
        changed = False
        for name, values in (("residual", stats.residual_energy),
                             ("bits", stats.bits_per_block)):
            if values is None or not values.size:
                continue
            top = float(np.nanpercentile(values, 99))
            overlay = self.frame_view.overlays[name]
            if top > 0 and (overlay.vmax is None or top > 1.1 * overlay.vmax):
                overlay.vmax = top
                changed = True
        if changed:
            self._refresh_legends()
        if not self._analysis_timer.isActive():
            self._analysis_timer.start()

    def refresh_analysis(self) -> None:
        """Redraw the charts that fill while frames decode (timings, residual energy)."""
        self.timing_panel.set_decode_timings(self.player.timings)
        if self.player.stats:
            self.residual_panel.set_stats(self.player.merged_stats())

    def _on_hover(self, info: HoverInfo | None) -> None:
        self.pixel_label.setText("" if info is None else info.describe())

    # == overlays and display modes ===========================================================
    def set_overlay(self, name: str, on: bool) -> None:
        self.frame_view.set_overlay_visible(name, on)
        act = self.actions.overlays[name]
        if act.isChecked() != on:
            act.setChecked(on)

    def set_overlay_opacity(self, name: str, opacity: float) -> None:
        self.opacities[name] = opacity
        self.frame_view.set_overlay_opacity(name, opacity)

    def _set_mv_colouring(self, mode: str) -> None:
        self.frame_view.motion_vectors.set_colour_by(mode)
        self._refresh_legends()

    def _refresh_legends(self) -> None:
        for name, overlay in self.frame_view.overlays.items():
            self.overlay_controls.set_legend(name, overlay.legend())

    @property
    def display_mode(self) -> str:
        act = self.actions.display_group.checkedAction() if self.actions.display_group else None
        return str(act.data()) if act is not None else "decoded"

    def set_display_mode(self, mode: str) -> None:
        if mode not in DISPLAY_MODES:
            return
        if mode != "decoded" and self.compare is None:
            self.report("Open the source video first: File ▸ Compare with source…")
            mode = "decoded"
        self.actions.display[mode].setChecked(True)
        self.display_combo.blockSignals(True)
        self.display_combo.setCurrentIndex(DISPLAY_MODES.index(mode))
        self.display_combo.blockSignals(False)
        self._redisplay()

    def _redisplay(self) -> None:
        n = self.player.current
        item = self.player.cache.get(n) if n >= 0 else None
        if item is not None:
            self.frame_view.set_image(self._display_image(n, item.image))

    def _display_image(self, n: int, decoded: np.ndarray) -> np.ndarray:
        mode = self.display_mode
        if mode == "decoded" or self.compare is None:
            return decoded
        src = self.compare.cache.get(n)
        if src is None:
            self.compare.request(n)
            self.statusBar().showMessage(f"Reading source frame {n} …", 2000)
            return decoded
        if src.image.shape != decoded.shape:
            return decoded
        return src.image if mode == "source" else difference_image(src.image, decoded)

    # == comparing with the source ============================================================
    def compare_dialog(self) -> None:
        if not self.player.is_open:
            return
        start = read_value(self.settings, "last_source_dir", str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self, "Compare with source video", start,
                                              "Videos and images (*.mp4 *.mkv *.mov *.avi "
                                              "*.webm *.y4m *.png *.jpg);;All files (*)")
        if path:
            self.settings.setValue("last_source_dir", str(Path(path).parent))
            self.compare_with(self.video_factory_for(Path(path)), Path(path).name)

    def compare_with(self, video_factory: VideoFactory, label: str,
                     psnr: Callable[[np.ndarray, np.ndarray], float] | None = None) -> None:
        """Measure PSNR against a source video and enable the source/difference pictures."""
        p = self.player
        if p.info is None or p.factory is None:
            return
        self.close_source()
        self.source_path = Path(label)
        worker = CompareWorker(video_factory, p.factory, p.info.num_frames,
                               FrameCache(SOURCE_CACHE_MB), psnr)
        worker.measured.connect(self._on_psnr)
        worker.source_ready.connect(self._on_source_ready)
        worker.failed.connect(lambda m: self.report(f"Comparison with {label} failed: {m}",
                                                    title="Compare with source", dialog=True))
        worker.note.connect(self.report)
        worker.done.connect(lambda n: self.statusBar().showMessage(
            f"Compared {n} frames with {label}", 6000))
        self.compare = worker
        self.actions.close_compare.setEnabled(True)
        self.psnr_dock.raise_()
        self.statusBar().showMessage(f"Comparing with {label} …")
        worker.start()

    def close_source(self) -> None:
        if self.compare is not None:
            self.compare.stop()
            self._old_compares.append(self.compare)
            self.compare.finished.connect(
                lambda w=self.compare: self._old_compares.remove(w)
                if w in self._old_compares else None)
            self.compare = None
        self.source_path = None
        self.psnr_source = {}
        self.psnr_panel.clear_measured()
        self.actions.close_compare.setEnabled(False)
        if self.display_mode != "decoded":
            self.set_display_mode("decoded")

    def _on_psnr(self, n: int, value: float) -> None:
        if self.sender() is not self.compare:
            return
        self.psnr_source[n] = value
        self.psnr_panel.set_measured(n, value)
        if not self._psnr_timer.isActive():
            self._psnr_timer.start()

    def _on_source_ready(self, n: int) -> None:
        if self.sender() is self.compare and n == self.player.current:
            self._redisplay()

    # == export ===============================================================================
    def export_stats_dialog(self) -> None:
        if not self.player.stats:
            return
        base = self.stream_path.with_suffix(".stats.csv") if self.stream_path else Path("stats.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export statistics", str(base),
                                              "CSV (*.csv);;JSON (*.json)")
        if path:
            self.export_stats(path)

    def export_stats(self, path: str | Path) -> Path | None:
        """Write every frame's FrameStats.summary() (+ measured timings and PSNR)."""
        info = self.player.info
        rows = stats_rows(self.player.measured_stats(),
                          self.psnr_source if self.compare is not None else None)
        meta = {}
        if info is not None:
            meta = {"file": str(self.stream_path or info.label), "width": info.width,
                    "height": info.height, "fps": str(info.fps), "frames": info.num_frames,
                    "damage": info.damage, **info.extra}
            if self.source_path:
                meta["source"] = str(self.source_path)
        try:
            out = write_stats(path, rows, meta)
        except OSError as exc:
            self.report(f"Could not write {path}: {exc.strerror or exc}", dialog=True)
            return None
        self.statusBar().showMessage(f"Exported statistics of {len(rows)} frames to {out}", 6000)
        return out

    def export_png_dialog(self) -> None:
        base = self.stream_path.with_suffix(f".f{max(0, self.player.current)}.png") \
            if self.stream_path else Path("frame.png")
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", str(base),
                                              "PNG image (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path: str | Path) -> bool:
        ok = self.frame_view.render_image().save(str(path), "PNG")
        if ok:
            self.statusBar().showMessage(f"Saved the view to {path}", 6000)
        else:
            self.report(f"Could not write {path}", dialog=True)
        return ok

    # == dialogs and messages =================================================================
    def report(self, message: str, title: str = "ZVC69 Studio", dialog: bool = False) -> None:
        """Show a problem in the status bar (and a non-blocking message box if `dialog`)."""
        self.last_error = message
        self.statusBar().showMessage(message, 15000)
        if dialog and self.dialogs:
            if self.message_box is not None:
                self.message_box.close()
            box = QMessageBox(QMessageBox.Icon.Warning, title, message,
                              QMessageBox.StandardButton.Ok, self)
            box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            box.open()
            self.message_box = box

    def cache_size_dialog(self) -> None:
        mb, ok = QInputDialog.getInt(self, "Frame cache", "Decoded frames kept in memory (MB):",
                                     int(self.player.cache.capacity_bytes / 2**20), 16, 65536, 64)
        if ok:
            self.set_cache_mb(mb)

    def set_cache_mb(self, mb: float) -> None:
        self.player.set_cache_mb(mb)
        self.settings.setValue("cache_mb", float(mb))
        self._update_buffer_status()

    def show_shortcuts(self) -> None:
        rows = [("Space / K", "play / pause"), ("← / →", "step one frame"),
                ("PgUp / PgDn", "previous / next keyframe"), ("Home / End", "first / last frame"),
                ("M S R B G", "toggle overlays: vectors, skip, residual, bits, grid"),
                ("F, 1, + / -", "zoom to fit, 100%, zoom in / out"),
                ("Ctrl+2/3/4", "decoded / source / difference picture"),
                ("Ctrl+O, Ctrl+N, Ctrl+E", "open, encode a video, export statistics"),
                ("wheel, drag", "zoom at the cursor, pan"),
                ("click a chart", "seek to that frame")]
        text = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{text}</table>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About ZVC69 Studio",
                          "<b>ZVC69 Studio</b><br>Player and stream analyzer for the ZVC69 "
                          "learned video codec.")

    # == state ================================================================================
    def _set_stream_actions(self, enabled: bool) -> None:
        a = self.actions
        for act in (a.close, a.compare, a.export_stats, a.export_png, a.play, a.step_back,
                    a.step_forward, a.start, a.end, a.prev_key, a.next_key):
            act.setEnabled(enabled)
        a.close_compare.setEnabled(enabled and self.compare is not None)

    def _refresh_recent(self) -> None:
        files = recent_files(self.settings)
        self.recent_menu.clear()
        for path in files:
            act = self.recent_menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.triggered.connect(lambda _=False, p=path: self.open_file(p))
        self.recent_menu.setEnabled(bool(files))
        self.empty.set_recent(files)

    def _restore_settings(self, restore: bool) -> None:
        s = self.settings
        for name in OVERLAY_NAMES:
            opacity = read_value(s, f"overlays/{name}_opacity", DEFAULT_OPACITY[name], float)
            self.overlay_controls.sliders[name].setValue(int(round(100 * opacity)))
            self.set_overlay_opacity(name, opacity)
            if restore:
                self.actions.overlays[name].setChecked(
                    read_value(s, f"overlays/{name}", False, bool))
        mode = read_value(s, "overlays/mv_colour", "direction", str)
        self.overlay_controls.colour_mode.setCurrentText(mode)
        self._set_mv_colouring(mode)
        if restore:
            geometry = s.value("window/geometry")
            state = s.value("window/state")
            if isinstance(geometry, QByteArray | bytes):
                self.restoreGeometry(QByteArray(geometry))
            if isinstance(state, QByteArray | bytes):
                self.restoreState(QByteArray(state))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        for name in OVERLAY_NAMES:
            s.setValue(f"overlays/{name}", self.actions.overlays[name].isChecked())
            s.setValue(f"overlays/{name}_opacity", self.opacities[name])
        s.setValue("overlays/mv_colour", self.frame_view.motion_vectors.colour_by)
        s.setValue("loop", self.player.loop)
        s.sync()

    def shutdown(self) -> None:
        """Stop every worker thread and wait for them."""
        self.close_source()
        self.player.shutdown()
        for worker in list(self._old_compares):
            worker.wait(10_000)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    # == drag and drop ========================================================================
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        path = paths[0]
        if path.suffix.lower() in VIDEO_SUFFIXES and self.player.is_open:
            self.compare_with(self.video_factory_for(path), path.name)
        else:
            self.open_file(path)
