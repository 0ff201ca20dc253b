"""Encode view parts that need no model files: options, rates, crops, charts, the File menu."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from app.encode import EncodeLauncher, EncodeView, install_encode_action
from app.encode.charts import PsnrChart, SizeChart, running_kbps
from app.encode.job import KeepChoice, RateMeter
from app.encode.options import EncodeOptions, default_output
from app.encode.preview import centre_crop, read_preview_frames
from app.encode.readouts import clock
from codec.stats import FrameStats


def test_options_check_says_what_is_wrong(tmp_path):
    ok = EncodeOptions("demo:96x64", str(tmp_path / "out"))
    assert ok.check() is None
    assert ok.output_path == tmp_path / "out.zvc69"
    assert ok.kwargs() == {"quality": 4, "preset": "medium", "gop": 32, "bframes": 3,
                           "frames": None, "scale": None, "start": 0}
    assert "B-frames" in EncodeOptions("demo", "x.zvc69", bframes=8).check()
    assert "source" in EncodeOptions("", "x.zvc69").check()
    assert "save" in EncodeOptions("demo", "  ").check()
    assert "folder" in EncodeOptions("demo", str(tmp_path)).check()
    src = tmp_path / "clip.zvc69"
    assert "overwrite the source" in EncodeOptions(str(src), str(src)).check()
    assert "Quality" in EncodeOptions("demo", "o.zvc69", quality=9).check()
    assert "preset" in EncodeOptions("demo", "o.zvc69", preset="warp9").check()
    assert "GOP" in EncodeOptions("demo", "o.zvc69", gop=0).check()
    assert "range" in EncodeOptions("demo", "o.zvc69", count=0).check()
    assert "width" in EncodeOptions("demo", "o.zvc69", size=(0, 10)).check()


def test_default_output_follows_the_source(tmp_path):
    assert default_output(str(tmp_path / "a" / "clip.mp4")) == tmp_path / "a" / "clip.zvc69"
    assert default_output("demo:96x64", tmp_path) == tmp_path / "demo_96x64.zvc69"
    assert default_output("demo").parent == Path.home()


def test_rate_meter_fps_and_time_left():
    meter = RateMeter(window_s=10.0)
    t0 = meter.t0
    for n in range(1, 11):
        meter.add(n, t0 + 0.5 * n)  # 2 frames a second
    assert meter.fps == pytest.approx(2.0)
    assert meter.seconds_left(10, 30) == pytest.approx(10.0)
    assert meter.seconds_left(10, None) is None
    assert clock(75) == "1:15" and clock(3725) == "1:02:05" and clock(None) == "–:––"


def test_keep_choice_is_read_when_used():
    keep = KeepChoice()
    assert keep
    keep.keep = False
    assert not keep


def test_running_bitrate_uses_the_last_second():
    bits = np.array([3000.0, 1000.0, 1000.0, 1000.0])
    rate = running_kbps(bits, fps=2.0)
    assert rate == pytest.approx([6.0, 4.0, 2.0, 2.0])
    assert running_kbps(np.zeros(0), 25.0).size == 0


def test_centre_crop_keeps_small_frames_and_aligns_big_ones():
    small = np.zeros((64, 96, 3), np.uint8)
    assert centre_crop(small) is small
    big = np.arange(1080 * 1920 * 3, dtype=np.uint32).astype(np.uint8).reshape(1080, 1920, 3)
    crop = centre_crop(big)
    assert crop.shape == (360, 640, 3)
    assert np.array_equal(crop, big[352:712, 640:1280])  # offsets on the 16-pixel grid


def _stats(i: int, ftype: str, size: int, psnr: float) -> FrameStats:
    return FrameStats(index=i, frame_type=ftype, width=96, height=64, pts=i * 3000,
                      size_bytes=size, psnr=psnr, psnr_y=psnr + 2)


def test_charts_draw_one_point_per_frame(qtbot):
    size, psnr = SizeChart(), PsnrChart()
    for chart in (size, psnr):
        qtbot.addWidget(chart)
        chart.begin(4, 25.0)
    for i, t in enumerate("IPPP"):
        for chart in (size, psnr):
            chart.add(_stats(i, t, 400 if t == "I" else 100, 30.0 + i))
    size.redraw()
    psnr.redraw()
    assert size.points() == 4 and psnr.points() == 4
    assert size.fps == pytest.approx(30.0)  # from the frames' pts
    assert len(size.bars["I"].opts["x"]) == 1 and len(size.bars["P"].opts["x"]) == 3
    assert size.kbits.tolist() == [3.2, 0.8, 0.8, 0.8]
    assert "I 1" in size.legend.entries[0][0]
    assert "P" in psnr.hover_text(2) and "32.00 dB" in psnr.hover_text(2)
    size.reset()
    assert size.points() == 0 and size.stats == []


class _Window(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []
        file = self.menuBar().addMenu("&File")
        file.addAction("&Open…")
        file.addSeparator()
        file.addAction("&Quit")

    def open_file(self, path: str) -> None:
        self.opened.append(path)


def test_install_encode_action_adds_the_menu_item_and_opens_results(qtbot):
    window = _Window()
    qtbot.addWidget(window)
    action = install_encode_action(window)
    file = window.menuBar().actions()[0].menu()
    texts = [a.text() for a in file.actions()]
    assert texts[:2] == ["&Open…", "&Encode…"]
    assert action.shortcut() == QKeySequence("Ctrl+E")
    action.trigger()
    launcher = window.findChild(EncodeLauncher)
    view = launcher.view
    assert isinstance(view, EncodeView) and view.isVisible() and view.isWindow()
    view.encoded.emit("/tmp/x.zvc69")
    assert window.opened == ["/tmp/x.zvc69"]
    action.trigger()  # the same view again
    assert launcher.view is view
    window.close()
    assert not view.isVisible()


def test_encode_shortcut_steps_aside_when_ctrl_e_is_taken(qtbot):
    window = _Window()
    qtbot.addWidget(window)
    taken = QAction("Export", window)
    taken.setShortcut(QKeySequence("Ctrl+E"))
    window.addAction(taken)
    action = install_encode_action(window)
    assert action.shortcut() == QKeySequence("Ctrl+N")
    assert taken.shortcut() == QKeySequence("Ctrl+E")


def test_form_output_follows_the_source_until_edited(qtbot, tmp_path):
    from app.encode.form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    form.output_folder = tmp_path
    with qtbot.waitSignal(form.preview_changed, timeout=1000):
        form.demo_button.click()
    assert form.options().source == "demo:320x240"
    assert form.options().output == str(tmp_path / "demo_320x240.zvc69")
    form.set_source(str(tmp_path / "clip.mkv"))
    assert form.options().output == str(tmp_path / "clip.zvc69")
    form.set_output(tmp_path / "mine.zvc69")
    form.set_source("demo:96x64")
    assert form.options().output == str(tmp_path / "mine.zvc69")
    opts = form.options()
    assert (opts.count, opts.size, opts.quality, opts.preset) == (None, None, 4, "medium")
    form.size_combo.setCurrentIndex(form.size_combo.findText("640 × 360"))
    assert form.options().size == (640, 360)
    assert (form.width_spin.value(), form.height_spin.value()) == (640, 360)
    form.size_combo.setCurrentIndex(form.size_combo.findData("custom"))
    form.width_spin.setValue(200)
    assert form.options().size == (200, 360) and form.width_spin.isEnabled()
    form.preset.setValue(0)
    assert form.options().preset == "ultrafast" and "16×16" in form.preset.toolTip()
    assert form.options().bframes == 3
    form.bframes_spin.setValue(0)
    assert form.options().kwargs()["bframes"] == 0 and "0 B" in form.options().describe()
    form.lock(True)
    assert not form.quality.isEnabled() and not form.width_spin.isEnabled()
    assert not form.bframes_spin.isEnabled()


def test_preview_frames_carry_the_source_chroma(tmp_path):
    """The preview codes its frames as the encode will: with the source's chroma subsampling
    (a 4:2:0 video: subsampled, unless previewed scaled down by half; an image: full)."""
    from codec.media import write_image
    from tests.test_media import smooth_frames, write_with_pyav

    clip = tmp_path / "clip.mkv"
    write_with_pyav(clip, smooth_frames(64, 48, 2), "ffv1", "yuv420p")
    write_image(tmp_path / "still.png", smooth_frames(64, 48, 1)[0])
    assert read_preview_frames(str(clip), 0, None)[0].subsampled_chroma is True
    assert read_preview_frames(str(clip), 0, (32, 24))[0].subsampled_chroma is False
    assert read_preview_frames(str(tmp_path / "still.png"), 0, None)[0].subsampled_chroma is False
