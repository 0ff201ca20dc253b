"""SettingsForm: source, output, quality, preset, GOP, frame range and output size."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.encode.options import (
    BFRAMES_RANGE,
    DEFAULT_BFRAMES,
    DEFAULT_GOP,
    DEFAULT_PRESET,
    DEFAULT_QUALITY,
    DEMO_SPEC,
    GOP_RANGE,
    MAX_SIZE,
    PRESET_NAMES,
    QUALITY_RANGE,
    EncodeOptions,
    default_output,
    is_demo,
)
from codec.presets import PRESETS

SOURCE_FILTER = ("Videos and images (*.mp4 *.mkv *.mov *.avi *.webm *.y4m *.gif *.png *.jpg "
                 "*.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)")
SIZES = ((1920, 1080), (1280, 720), (854, 480), (640, 360), (320, 240))
MAX_FRAMES = 10_000_000


def preset_tip(name: str) -> str:
    p = PRESETS[name]
    pel = {1: "integer", 2: "half", 4: "quarter"}[p.subpel]
    return (f"{name}: {p.block}×{p.block} motion blocks, search ±{p.search_range} px, "
            f"{pel}-pel vectors, {p.refine_iters} refinement pass(es). Slower presets find "
            f"better motion: smaller P-frames at the same quality. I-frames are unaffected.")


class LabelledSlider(QWidget):
    """A horizontal slider with its end labels under it and the current value beside it."""

    valueChanged = Signal(int)  # noqa: N815 (Qt naming)

    def __init__(self, lo: int, hi: int, left: str, right: str) -> None:
        super().__init__()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.value_label = QLabel()
        self.value_label.setObjectName("counter")
        self.value_label.setMinimumWidth(76)
        ends = QHBoxLayout()
        for text, align in ((left, Qt.AlignmentFlag.AlignLeft),
                            (right, Qt.AlignmentFlag.AlignRight)):
            label = QLabel(text)
            label.setObjectName("legend")
            label.setAlignment(align)
            ends.addWidget(label)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(0)
        grid.addWidget(self.slider, 0, 0)
        grid.addWidget(self.value_label, 0, 1)
        grid.addLayout(ends, 1, 0)
        self.slider.valueChanged.connect(self.valueChanged)

    def value(self) -> int:
        return self.slider.value()

    def setValue(self, value: int) -> None:  # noqa: N802
        self.slider.setValue(value)


class SettingsForm(QWidget):
    """Everything an encode needs. `changed` on any edit, `preview_changed` on the ones that
    change the preview (source, start, size, quality, preset)."""

    changed = Signal()
    preview_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.output_auto = True  # the output follows the source until the user edits it
        self.applied_source = ""
        self.output_folder: Path | None = None  # where demo encodes go by default
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._source_group())
        layout.addWidget(self._settings_group())
        layout.addWidget(self._frames_group())
        self._update_labels()

    # -- construction ------------------------------------------------------------------------
    def _source_group(self) -> QGroupBox:
        box = QGroupBox("Source and output")
        form = QFormLayout(box)
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("a video or image file, or demo:WIDTHxHEIGHT")
        self.source_edit.setToolTip("Any file FFmpeg reads (mp4, mkv, mov, y4m, …), a still "
                                    "image, or the built-in demo clip: demo or demo:640x360")
        self.browse_button = QPushButton("Browse…")
        self.demo_button = QPushButton("Demo")
        self.demo_button.setToolTip(f"Use the built-in synthetic clip ({DEMO_SPEC}, 60 frames)")
        row = QHBoxLayout()
        row.addWidget(self.source_edit, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.demo_button)
        form.addRow("Source", row)
        self.source_info = QLabel("Choose a source to preview it")
        self.source_info.setObjectName("legend")
        self.source_info.setWordWrap(True)
        form.addRow("", self.source_info)
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("where to save the .zvc69 stream")
        self.output_button = QPushButton("Save as…")
        row = QHBoxLayout()
        row.addWidget(self.output_edit, 1)
        row.addWidget(self.output_button)
        form.addRow("Output", row)
        self.output_note = QLabel("")
        self.output_note.setObjectName("legend")
        self.output_note.setStyleSheet("color: #ffd27a;")
        self.output_note.setVisible(False)
        form.addRow("", self.output_note)
        self.browse_button.clicked.connect(self.browse_source)
        self.demo_button.clicked.connect(lambda: self.set_source(DEMO_SPEC))
        self.source_edit.editingFinished.connect(self._source_edited)
        self.output_button.clicked.connect(self.browse_output)
        self.output_edit.textEdited.connect(self._output_edited)
        return box

    def _settings_group(self) -> QGroupBox:
        box = QGroupBox("Settings")
        form = QFormLayout(box)
        lo, hi = QUALITY_RANGE
        self.quality = LabelledSlider(lo, hi, f"Q{lo} smallest", f"Q{hi} best")
        self.quality.setValue(DEFAULT_QUALITY)
        self.quality.setToolTip("Quality level: higher keeps more detail and costs more bits")
        self.preset = LabelledSlider(0, len(PRESET_NAMES) - 1, f"{PRESET_NAMES[0]} (fastest)",
                                     f"{PRESET_NAMES[-1]} (best)")
        self.preset.setValue(PRESET_NAMES.index(DEFAULT_PRESET))
        self.gop_spin = QSpinBox()
        self.gop_spin.setRange(*GOP_RANGE)
        self.gop_spin.setValue(DEFAULT_GOP)
        self.gop_spin.setSuffix(" frames")
        self.gop_spin.setToolTip("An I-frame every this many frames (and at scene cuts); "
                                 "P-frames in between")
        form.addRow("Quality", self.quality)
        form.addRow("Preset", self.preset)
        form.addRow("GOP length", self.gop_spin)
        self.bframes_spin = QSpinBox()
        self.bframes_spin.setRange(*BFRAMES_RANGE)
        self.bframes_spin.setValue(DEFAULT_BFRAMES)
        self.bframes_spin.setToolTip("Most B-frames between anchor frames: each is predicted "
                                     "from the frames before and after it (0: P-frames only). "
                                     "From the medium preset on, the encoder tries 0, 1 or "
                                     "this many per group and keeps what codes best")
        form.addRow("B-frames", self.bframes_spin)
        self.bframes_spin.valueChanged.connect(self.changed)
        for w in (self.quality, self.preset):
            w.valueChanged.connect(self._slider_moved)
        self.gop_spin.valueChanged.connect(self.changed)
        return box

    def _frames_group(self) -> QGroupBox:
        box = QGroupBox("Frames and size")
        form = QFormLayout(box)
        self.start_spin = QSpinBox()
        self.start_spin.setRange(0, MAX_FRAMES)
        self.start_spin.setToolTip("First source frame to encode (0 = the first)")
        self.count_spin = QSpinBox()
        self.count_spin.setRange(0, MAX_FRAMES)
        self.count_spin.setSpecialValueText("all")
        self.count_spin.setToolTip("How many frames to encode (all: to the end of the source)")
        row = QHBoxLayout()
        row.addWidget(QLabel("from"))
        row.addWidget(self.start_spin, 1)
        row.addWidget(QLabel("count"))
        row.addWidget(self.count_spin, 1)
        form.addRow("Frames", row)
        self.size_combo = QComboBox()
        self.size_combo.addItem("Keep source size", None)
        for w, h in SIZES:
            self.size_combo.addItem(f"{w} × {h}", (w, h))
        self.size_combo.addItem("Custom", "custom")
        self.width_spin, self.height_spin = QSpinBox(), QSpinBox()
        for spin, value in ((self.width_spin, 320), (self.height_spin, 240)):
            spin.setRange(1, MAX_SIZE)
            spin.setValue(value)
            spin.setEnabled(False)
            spin.setKeyboardTracking(False)
        row = QHBoxLayout()
        row.addWidget(self.size_combo, 2)
        row.addWidget(self.width_spin, 1)
        row.addWidget(QLabel("×"))
        row.addWidget(self.height_spin, 1)
        form.addRow("Output size", row)
        for spin in (self.start_spin, self.count_spin):
            spin.setKeyboardTracking(False)
        self.start_spin.valueChanged.connect(self._preview_edit)
        self.count_spin.valueChanged.connect(self.changed)
        self.size_combo.currentIndexChanged.connect(self._size_chosen)
        self.width_spin.valueChanged.connect(self._preview_edit)
        self.height_spin.valueChanged.connect(self._preview_edit)
        return box

    # -- values ------------------------------------------------------------------------------
    @property
    def preset_name(self) -> str:
        return PRESET_NAMES[self.preset.value()]

    @property
    def size(self) -> tuple[int, int] | None:
        data = self.size_combo.currentData()
        if data == "custom":
            return (self.width_spin.value(), self.height_spin.value())
        return tuple(data) if data else None  # type: ignore[return-value]

    def options(self) -> EncodeOptions:
        return EncodeOptions(
            source=self.source_edit.text().strip(), output=self.output_edit.text().strip(),
            quality=self.quality.value(), preset=self.preset_name, gop=self.gop_spin.value(),
            bframes=self.bframes_spin.value(), start=self.start_spin.value(),
            count=self.count_spin.value() or None,
            size=self.size)

    def set_source(self, spec: str) -> None:
        """Use `spec` (a path or demo[:WxH]) as the source; the output follows unless edited."""
        spec = spec.strip()
        self.applied_source = spec
        if self.source_edit.text() != spec:
            self.source_edit.setText(spec)
        if self.output_auto and spec:
            self.output_edit.setText(str(default_output(spec, self.output_folder)))
        self.changed.emit()
        self.preview_changed.emit()

    def set_output(self, path: str | Path) -> None:
        self.output_edit.setText(str(path))
        self.output_auto = False
        self.changed.emit()

    def set_source_info(self, text: str, error: bool = False) -> None:
        self.source_info.setText(text)
        self.source_info.setStyleSheet("color: #ff8a7a;" if error else "")

    def set_output_note(self, text: str) -> None:
        self.output_note.setText(text)
        self.output_note.setVisible(bool(text))

    def show_source_size(self, width: int, height: int) -> None:
        """Start the custom size from the source's size while the size is kept."""
        if self.size_combo.currentData() is None:
            for spin, v in ((self.width_spin, width), (self.height_spin, height)):
                spin.blockSignals(True)
                spin.setValue(v)
                spin.blockSignals(False)

    def lock(self, locked: bool) -> None:
        """Disable editing while an encode runs."""
        for w in (self.source_edit, self.browse_button, self.demo_button, self.output_edit,
                  self.output_button, self.quality, self.preset, self.gop_spin, self.bframes_spin,
                  self.start_spin,
                  self.count_spin, self.size_combo):
            w.setEnabled(not locked)
        custom = self.size_combo.currentData() == "custom"
        self.width_spin.setEnabled(custom and not locked)
        self.height_spin.setEnabled(custom and not locked)

    # -- dialogs -----------------------------------------------------------------------------
    def browse_source(self) -> None:
        current = self.source_edit.text().strip()
        start = "" if is_demo(current) else str(Path(current).expanduser().parent)
        path, _ = QFileDialog.getOpenFileName(self, "Choose a source video or image", start,
                                              SOURCE_FILTER)
        if path:
            self.set_source(path)

    def browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the encoded stream as",
                                              self.output_edit.text().strip(),
                                              "ZVC69 streams (*.zvc69)")
        if path:
            self.set_output(path)

    # -- slots -------------------------------------------------------------------------------
    def _source_edited(self) -> None:
        if self.source_edit.text().strip() != self.applied_source:
            self.set_source(self.source_edit.text())

    def _output_edited(self, _text: str) -> None:
        self.output_auto = False
        self.changed.emit()

    def _slider_moved(self, _value: int) -> None:
        self._update_labels()
        self.changed.emit()
        self.preview_changed.emit()

    def _preview_edit(self, _value: int) -> None:
        self.changed.emit()
        self.preview_changed.emit()

    def _size_chosen(self, _index: int) -> None:
        custom = self.size_combo.currentData() == "custom"
        self.width_spin.setEnabled(custom)
        self.height_spin.setEnabled(custom)
        if not custom and self.size is not None:
            w, h = self.size
            for spin, v in ((self.width_spin, w), (self.height_spin, h)):
                spin.blockSignals(True)
                spin.setValue(v)
                spin.blockSignals(False)
        self._preview_edit(0)

    def _update_labels(self) -> None:
        self.quality.value_label.setText(f"Q{self.quality.value()}")
        name = self.preset_name
        self.preset.value_label.setText(name)
        self.preset.setToolTip(preset_tip(name))
