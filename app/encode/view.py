"""EncodeView: pick a source and settings, see their effect at once, encode with a live preview.

Before encoding, every change of the source, range start, size, quality or preset is previewed
(debounced: rapid slider moves make one request; only the latest request's answer is shown) by
`PreviewWorker`. Encoding runs in an `EncodeJob` thread; the pictures, charts and progress
follow at most `UI_HZ` times a second. Problems are shown in the view, never raised.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.encode.charts import PsnrChart, SizeChart
from app.encode.form import SettingsForm
from app.encode.job import EncodeJob, RateMeter
from app.encode.options import EncodeOptions, is_demo
from app.encode.picture import ImagePane
from app.encode.preview import PreviewRequest, PreviewResult, PreviewWorker, SourceInfo
from app.encode.readouts import bits_text, clock, preview_text, summary
from app.timecode import format_fps
from codec.stats import FrameStats

DEBOUNCE_MS = 150
UI_HZ = 10.0
CHART_FRAMES_PER_S = 20_000  # chart redraws at most every n / this seconds (n frames drawn)
ERROR_STYLE = "color: #ff8a7a;"
OK_STYLE = "color: #9fdc8c;"
WARN_STYLE = "color: #ffd27a;"


class EncodeView(QWidget):
    """The Encode view (a window or a dock's widget). `encoded(path)` when a stream is done."""

    encoded = Signal(str)
    job_started = Signal(object)  # the EncodeJob, before its thread starts

    def __init__(self, parent: QWidget | None = None, device: str = "auto") -> None:
        super().__init__(parent)
        self.setWindowTitle("Encode — ZVC69 Studio")
        self.device = device
        self.job: EncodeJob | None = None
        self.meter: RateMeter | None = None
        self.source_info: SourceInfo | None = None
        self.preview_result: PreviewResult | None = None
        self.last_output: str | None = None
        self._running = False
        self._shown = False
        self._drawn, self._drawn_at = 0, 0.0  # frames in the charts, when drawn
        self._frame_line = ""  # the frame on screen while encoding
        self._serial = 0
        self._worker: PreviewWorker | None = None
        self._old_jobs: list[EncodeJob] = []
        self._build()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.request_preview)
        self._ui_timer = QTimer(self)
        self._ui_timer.setInterval(int(1000 / UI_HZ))
        self._ui_timer.timeout.connect(self._refresh_live)
        self.form.preview_changed.connect(self.schedule_preview)
        self.form.changed.connect(self._validate)
        self.form.changed.connect(self._show_preview_text)  # the GOP changes the estimate
        self._validate()

    # == construction =========================================================================
    def _build(self) -> None:
        self.form = SettingsForm()
        self.encode_button = QPushButton("Encode")
        self.encode_button.setDefault(True)
        self.encode_button.setMinimumHeight(30)
        self.encode_button.setStyleSheet("QPushButton { font-weight: 700; }")
        self.stop_button = QPushButton("Stop && keep")
        self.stop_button.setToolTip("Stop now: the frames encoded so far stay a valid stream")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Stop now and delete what was encoded")
        self.open_button = QPushButton("Open in player")
        self.open_button.setToolTip("Open the last encoded stream in the player")
        buttons = QHBoxLayout()
        for b in (self.encode_button, self.stop_button, self.discard_button, self.open_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Ready to encode")
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("panelReadout")
        self.progress_label.setWordWrap(True)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(8, 8, 8, 8)
        col.addWidget(self.form)
        col.addLayout(buttons)
        col.addWidget(self.progress)
        col.addWidget(self.progress_label)
        col.addWidget(self.message)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(400)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.source_pane = ImagePane("Source", "The source frame appears here")
        self.recon_pane = ImagePane("Decoded", "What the codec makes of it appears here")
        pictures = QWidget()
        row = QHBoxLayout(pictures)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.source_pane)
        row.addWidget(self.recon_pane)
        self.readout = QLabel("")
        self.readout.setObjectName("panelReadout")
        self.readout.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.readout.setMinimumHeight(4 * self.readout.fontMetrics().lineSpacing() + 8)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QWidget()
        top_col = QVBoxLayout(top)
        top_col.setContentsMargins(0, 0, 0, 0)
        top_col.addWidget(pictures, 1)
        top_col.addWidget(self.readout)
        self.size_chart = SizeChart()
        self.psnr_chart = PsnrChart()
        for chart in (self.size_chart, self.psnr_chart):
            chart.plot.setMinimumHeight(80)  # the pictures come first when space is short
        self.psnr_chart.plot.setXLink(self.size_chart.plot)
        right = QSplitter(Qt.Orientation.Vertical)
        for w in (top, self._titled("Frame size and bitrate", self.size_chart),
                  self._titled("PSNR", self.psnr_chart)):
            right.addWidget(w)
        for i, stretch in enumerate((2, 1, 1)):
            right.setStretchFactor(i, stretch)
        self.right_split = right
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([420, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.resize(1320, 840)

        self.encode_button.clicked.connect(self.start_encode)
        self.stop_button.clicked.connect(lambda: self.cancel_encode(keep=True))
        self.discard_button.clicked.connect(lambda: self.cancel_encode(keep=False))
        self.open_button.clicked.connect(self._open_last)
        self._set_running(False)
        self.open_button.setVisible(False)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        """Half the height to the pictures the first time the view is shown."""
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            h = max(300, self.right_split.height())
            self.right_split.setSizes([h // 2, h // 4, h // 4])

    @staticmethod
    def _titled(title: str, chart: QWidget) -> QWidget:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 4, 0, 0)
        col.setSpacing(0)
        label = QLabel(f"  {title}")
        label.setObjectName("panelTitle")
        col.addWidget(label)
        col.addWidget(chart, 1)
        return box

    # == public API ===========================================================================
    @property
    def encoding(self) -> bool:
        """From Encode until the job reports its end (completed, stopped or failed)."""
        return self._running

    def set_source(self, spec: str) -> None:
        """Use `spec` (a file path, "demo" or "demo:WxH") as the source."""
        self.form.set_source(spec)

    def set_output(self, path: str | Path) -> None:
        self.form.set_output(path)

    def options(self) -> EncodeOptions:
        return self.form.options()

    def show_message(self, text: str, style: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(style)

    def shutdown(self) -> None:
        """Stop the preview and any encode (its frames so far are kept) and wait for both."""
        if self.job is not None and self.job.isRunning():
            self.job.cancel(keep=True)
        for job in [self.job, *self._old_jobs]:
            if job is not None:
                job.wait(30_000)
        if self._worker is not None:
            self._worker.stop()
            self._worker.wait(30_000)
            self._worker = None
        self._ui_timer.stop()
        self._debounce.stop()

    # == preview ==============================================================================
    def schedule_preview(self) -> None:
        """Preview the current settings soon (rapid changes make a single request)."""
        if not self.encoding:
            self._debounce.start()

    def request_preview(self) -> int | None:
        """Ask for a preview of the current settings now; returns its serial (None: nothing
        to preview)."""
        self._debounce.stop()
        opts = self.form.options()
        if not opts.source or self.encoding:
            return None
        if self._worker is None:
            self._worker = PreviewWorker()
            self._worker.source_ready.connect(self._on_source_ready)
            self._worker.ready.connect(self._on_preview)
            self._worker.failed.connect(self._on_preview_failed)
            self._worker.start()
        self._serial += 1
        self._worker.request(PreviewRequest(self._serial, opts.source, opts.start, opts.size,
                                            opts.quality, opts.preset, self.device))
        self.readout.setText(f"Previewing {opts.describe()} …")
        return self._serial

    @property
    def preview_serial(self) -> int:
        """The serial of the latest preview request (the only one whose answer is shown)."""
        return self._serial

    def _on_source_ready(self, serial: int, info: SourceInfo, first: np.ndarray) -> None:
        self.source_info = info
        frames = "unknown length" if info.frames is None else f"{info.frames} frames"
        if self.form.options().start:
            frames += " from the start frame"
        name = info.source if is_demo(info.source) else Path(info.source).name
        self.form.set_source_info(f"{name}: {info.width} × {info.height} · "
                                  f"{format_fps(info.fps)} fps · {frames}")
        self.form.show_source_size(info.width, info.height)

    def _on_preview(self, serial: int, result: PreviewResult) -> None:
        if serial != self._serial or self.encoding:
            return  # an older request's answer: a newer one is on its way
        self.preview_result = result
        frame = "frame 1 · P" if result.inter is not None else "frame 0 · I"
        crop = self.source_info.crop if self.source_info else None
        note = frame + (f" · centre {crop[0]}×{crop[1]}" if crop else "")
        self.source_pane.set_image(result.source, note)
        self.recon_pane.set_image(result.recon, f"Q{result.quality} · {result.preset} · {frame}")
        self._show_preview_text()

    def _show_preview_text(self) -> None:
        if self.preview_result is not None and not self._running:
            self.readout.setText(preview_text(self.preview_result, self.source_info,
                                              self.form.options()))

    def _on_preview_failed(self, serial: int, message: str) -> None:
        if serial != self._serial or self.encoding:
            return
        self.preview_result = None
        self.source_info = None
        self.form.set_source_info(f"Cannot use this source: {message}", error=True)
        self.readout.setText("No preview: the source cannot be read (see above)")
        self.source_pane.clear("No picture")
        self.recon_pane.clear("No picture")

    # == encoding =============================================================================
    def start_encode(self) -> EncodeJob | None:
        """Start encoding the current settings; None (and a message) when they cannot be."""
        if self.encoding:
            return None
        opts = self.form.options()
        problem = opts.check()
        if problem:
            self.show_message(problem, ERROR_STYLE)
            return None
        self._debounce.stop()
        self._serial += 1  # answers to earlier preview requests are no longer shown
        job = EncodeJob(opts, device=self.device)
        job.progressed.connect(self._on_progress)
        job.picture.connect(self._on_picture)
        job.completed.connect(self._on_completed)
        job.stopped.connect(self._on_stopped)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_thread_finished)
        if self.job is not None and self.job.isRunning():  # reporting its end right now
            self._old_jobs.append(self.job)
        self.job = job
        self.meter = RateMeter()
        self._drawn, self._drawn_at, self._frame_line = 0, 0.0, ""
        total = opts.count
        if self.source_info is not None and self.source_info.frames is not None:
            total = min(total or self.source_info.frames, self.source_info.frames)
        fps = float(self.source_info.fps) if self.source_info else 25.0
        for chart in (self.size_chart, self.psnr_chart):
            chart.begin(total, fps)
        self.progress.setRange(0, total or 0)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m frames")
        self.progress_label.setText("Starting…")
        self.show_message(f"Encoding to {opts.output_path} ({opts.describe()})")
        self.source_pane.clear("Waiting for the first frame…")
        self.recon_pane.clear("Waiting for the first frame…")
        self.readout.setText("")
        self._set_running(True)
        self.job_started.emit(job)
        job.start()
        self._ui_timer.start()
        return job

    def cancel_encode(self, keep: bool = True) -> None:
        """Stop the encode: keep a valid stream of the frames done, or discard everything."""
        if not self.encoding or self.job is None:
            return
        self.job.cancel(keep=keep)
        self.stop_button.setEnabled(False)
        self.discard_button.setEnabled(False)
        self.progress_label.setText("Stopping after the frame in progress…" if keep
                                    else "Discarding…")

    def _on_progress(self, n: int, total: int | None, stats: FrameStats) -> None:
        if self.sender() is not self.job:
            return
        for chart in (self.size_chart, self.psnr_chart):
            chart.add(stats)
        if self.meter is not None:
            self.meter.add(n)
        if total and total != self.progress.maximum():
            self.progress.setMaximum(total)
            for chart in (self.size_chart, self.psnr_chart):
                chart.total = total

    def _on_picture(self, index: int, source: np.ndarray, recon: np.ndarray) -> None:
        if self.sender() is not self.job:
            return
        stats = self.size_chart.stats[index] if index < len(self.size_chart.stats) else None
        ftype = f" · {stats.frame_type}" if stats else ""
        self.source_pane.set_image(source, f"frame {index}")
        self.recon_pane.set_image(recon, f"frame {index}{ftype}")
        if stats is not None:
            h, w = source.shape[:2]
            self._frame_line = (f"Frame {index} · {stats.frame_type}"
                                f"{' (scene cut)' if stats.scene_cut else ''} · "
                                f"{bits_text(stats, w * h)}")

    def _refresh_live(self, force: bool = False) -> None:
        """Charts and progress, a few times a second while encoding (and once at the end).

        Long encodes redraw their charts less often: each redraw costs time per frame."""
        n = len(self.size_chart.stats)
        now = time.perf_counter()
        if force or (n != self._drawn and now - self._drawn_at >= n / CHART_FRAMES_PER_S):
            for chart in (self.size_chart, self.psnr_chart):
                chart.redraw()
            self._drawn, self._drawn_at = n, now
        total = self.progress.maximum() or None
        if total:
            self.progress.setValue(min(n, total))
        else:
            self.progress.setFormat(f"{n} frames")
        if self.meter is not None and n and self._running:
            fps = self.meter.fps
            left = self.meter.seconds_left(n, total)
            self.progress_label.setText(
                f"{n}{f' / {total}' if total else ''} frames · {fps:.1f} fps · "
                f"{clock(self.meter.elapsed)} elapsed · {clock(left)} left")
        if n:
            self.readout.setText(f"{self._frame_line}\nSo far: {self._summary(took=False)}")

    def _summary(self, took: bool = True) -> str:
        elapsed = self.meter.elapsed if took and self.meter else None
        return summary(self.size_chart.stats, self.size_chart.fps, elapsed)

    def _finish(self) -> None:
        self._ui_timer.stop()
        self._refresh_live(force=True)
        self._set_running(False)
        self.progress_label.setText(self._summary())

    def _on_completed(self, path: str) -> None:
        if self.sender() is not self.job:
            return
        self._finish()
        self.last_output = path
        self.open_button.setVisible(True)
        self.show_message(f"Done: {path}", OK_STYLE)
        self.encoded.emit(path)

    def _on_stopped(self, path: str | None, frames: int) -> None:
        if self.sender() is not self.job:
            return
        self._finish()
        if path:
            self.last_output = path
            self.open_button.setVisible(True)
            self.show_message(f"Stopped after {frames} frames: {path} is a valid stream of "
                              f"those frames.", WARN_STYLE)
        else:
            self.show_message("Discarded: nothing was written.", WARN_STYLE)

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self.job:
            return
        self._finish()
        self.show_message(f"Encoding failed: {message}", ERROR_STYLE)

    def _on_thread_finished(self) -> None:
        job = self.sender()
        if job in self._old_jobs:
            self._old_jobs.remove(job)  # type: ignore[arg-type]

    def _open_last(self) -> None:
        if self.last_output:
            self.encoded.emit(self.last_output)

    # == state ================================================================================
    def _set_running(self, running: bool) -> None:
        self._running = running
        self.form.lock(running)
        self.encode_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.discard_button.setEnabled(running)
        self.stop_button.setVisible(running)
        self.discard_button.setVisible(running)
        if running:
            self.open_button.setVisible(False)
            self.form.set_output_note("")
        else:
            self._validate()

    def _validate(self) -> None:
        """Enable Encode when the settings can be encoded; warn before replacing a file."""
        if self._running:
            return
        opts = self.form.options()
        problem = opts.check()
        self.encode_button.setEnabled(problem is None)
        self.encode_button.setToolTip(problem or f"Encode to {opts.output_path}")
        exists = problem is None and opts.output_path.exists()
        self.form.set_output_note(f"{opts.output_path.name} exists and will be replaced"
                                  if exists else "")
