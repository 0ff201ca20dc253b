"""The main window on synthetic streams: transport, shortcuts, linked charts, export, compare,
errors, settings, drag and drop, screenshot mode."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from app.main import main
from app.mainwindow import MainWindow
from app.player.synthetic import SyntheticSource
from app.screenshot import take_screenshot
from codec.metrics import psnr_rgb


def wait_open(qtbot, window):
    qtbot.waitUntil(lambda: window.player.is_open and bool(window.player.stats)
                    and window.player.current == 0, timeout=5000)


def click_chart(qtbot, panel, frame):
    """Left-click the chart `panel` over `frame` (half-way up the plot)."""
    vb = panel.view_box
    (_, _), (y0, y1) = vb.viewRange()
    scene = vb.mapViewToScene(QPointF(frame, (y0 + y1) / 2))
    pos = panel.plot.mapFromScene(scene)
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_empty_state_tells_what_to_do(studio_window):
    w = studio_window()
    assert w.stack.currentWidget() is w.empty
    assert "Open" in w.empty.title.text() and "drop" in w.empty.hint.text()
    assert not w.actions.play.isEnabled()


def test_opens_fills_charts_and_steps_with_keys(qtbot, studio_window, tmp_path):
    w = studio_window(num_frames=40, gop=10)
    w.open_file(tmp_path / "clip.zvc69")
    wait_open(qtbot, w)
    assert w.stack.currentWidget() is w.frame_view
    assert w.size_panel.num_frames == 40
    assert w.size_panel.sizes.shape == (40,) and w.size_panel.sizes[0] > w.size_panel.sizes[1]
    assert w.transport.timeline.keyframes == [0, 10, 20, 30]
    assert w.transport.counter.text().strip() == "0 / 39"
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=2000)
    target = w.frame_view.graphics
    for key, expected in ((Qt.Key.Key_Right, 1), (Qt.Key.Key_Right, 2), (Qt.Key.Key_Left, 1),
                          (Qt.Key.Key_PageDown, 10), (Qt.Key.Key_PageDown, 20),
                          (Qt.Key.Key_PageUp, 10), (Qt.Key.Key_End, 39),
                          (Qt.Key.Key_Home, 0)):
        qtbot.keyClick(target, key)
        qtbot.waitUntil(lambda e=expected: w.player.current == e, timeout=3000)
    assert w.transport.time.text() == "00:00:00.000"
    qtbot.keyClick(target, Qt.Key.Key_Space)
    assert w.player.playing
    qtbot.waitUntil(lambda: w.player.current >= 5, timeout=3000)
    qtbot.keyClick(target, Qt.Key.Key_Space)
    assert not w.player.playing
    for panel in w.panels:  # every chart marks the current frame
        assert panel.cursor.value() == w.player.current


def test_clicking_any_chart_seeks_and_all_charts_follow(qtbot, studio_window):
    w = studio_window(num_frames=30)
    w.open_file("clip.zvc69")
    wait_open(qtbot, w)
    w.residual_dock.raise_()
    for panel, frame in ((w.size_panel, 17), (w.residual_panel, 6)):
        qtbot.waitUntil(lambda p=panel: p.isVisible() and p.view_box.width() > 50, timeout=2000)
        click_chart(qtbot, panel, frame)
        qtbot.waitUntil(lambda f=frame: w.player.current == f, timeout=3000)
        assert all(p.cursor.value() == frame for p in w.panels)
        assert w.transport.timeline.position == frame
    # linked frame axes
    w.size_panel.view_box.setXRange(5, 15, padding=0)
    qtbot.wait(20)
    lo, hi = w.residual_panel.view_box.viewRange()[0]
    assert lo == pytest.approx(5, abs=0.5) and hi == pytest.approx(15, abs=0.5)
    # hovering shows values
    assert "frame 6" in w.size_panel.hover_text(6) and "kbit" in w.size_panel.hover_text(6)


def test_timings_fill_as_frames_decode(qtbot, studio_window):
    w = studio_window(num_frames=20)
    w.open_file("clip.zvc69")
    wait_open(qtbot, w)
    qtbot.waitUntil(lambda: len(w.player.timings) >= 10, timeout=5000)
    w.refresh_analysis()
    assert {"synthesis", "entropy_decode"} <= set(w.timing_panel.bars)
    assert "ms" in w.timing_panel.hover_text(3)
    w.timing_panel.source.setCurrentText(w.timing_panel.ENCODE)
    assert {"analysis", "entropy_encode"} <= set(w.timing_panel.bars)


def test_export_statistics_and_png(qtbot, studio_window, tmp_path):
    w = studio_window(num_frames=12)
    w.open_file("clip.zvc69")
    wait_open(qtbot, w)
    qtbot.waitUntil(lambda: len(w.player.timings) >= 5, timeout=5000)
    out = w.export_stats(tmp_path / "stats.json")
    doc = json.loads(out.read_text())
    assert len(doc["frames"]) == 12 and doc["stream"]["frames"] == 12
    assert doc["frames"][1]["ms_synthesis"] > 0  # measured while decoding
    assert w.export_stats(tmp_path / "stats.csv").read_text().startswith("index,type,")
    assert w.export_png(tmp_path / "view.png")
    image = QImage(str(tmp_path / "view.png"))
    assert image.width() == w.frame_view.graphics.width() and not image.isNull()


def test_compare_with_source_measures_psnr_and_shows_differences(qtbot, studio_window):
    w = studio_window(num_frames=10)
    w.open_file("clip.zvc69")
    wait_open(qtbot, w)
    synth = SyntheticSource()
    rng = np.random.default_rng(0)
    source = [np.clip(synth.frame(n).astype(int) + rng.integers(-6, 7, (96, 128, 3)), 0, 255)
              .astype(np.uint8) for n in range(10)]
    w.compare_with(lambda: iter(source), "source.y4m", psnr=psnr_rgb)
    qtbot.waitUntil(lambda: len(w.psnr_source) == 10, timeout=5000)
    assert all(25 < v < 50 for v in w.psnr_source.values())
    assert w.psnr_panel.measured[3] == pytest.approx(psnr_rgb(source[3], synth.frame(3)))
    w.set_display_mode("difference")
    qtbot.waitUntil(lambda: not np.array_equal(w.frame_view.image, synth.frame(0)),
                    timeout=3000)
    w.set_display_mode("source")
    assert np.array_equal(w.frame_view.image, source[0])
    w.close_source()
    assert w.display_mode == "decoded" and np.array_equal(w.frame_view.image, synth.frame(0))


def test_compare_refuses_a_source_of_another_size(qtbot, studio_window):
    w = studio_window(num_frames=4)
    w.dialogs = False
    w.open_file("clip.zvc69")
    wait_open(qtbot, w)
    w.compare_with(lambda: iter([np.zeros((10, 10, 3), np.uint8)]), "small.png")
    qtbot.waitUntil(lambda: w.last_error and "10×10" in w.last_error, timeout=3000)


def test_damaged_file_opens_with_a_note(qtbot, studio_window):
    w = studio_window(num_frames=8, damage="index missing: rebuilt by scanning 8 frames")
    w.open_file("cut.zvc69")
    wait_open(qtbot, w)
    assert w.banner.isVisible() and "rebuilt by scanning" in w.banner.text()


def test_undecodable_frame_is_shown_not_raised(qtbot, studio_window):
    w = studio_window(num_frames=10, gop=10, bad_frames={4})
    w.open_file("bad.zvc69")
    wait_open(qtbot, w)
    qtbot.waitUntil(lambda: 4 in w.bad_frames, timeout=3000)
    assert "Frame 4 could not be decoded" in w.last_error
    assert 4 in w.transport.timeline.bad


@pytest.mark.parametrize("content, expected", [
    (b"this is not a stream at all" * 10, "not a ZVC69 file"),
    (b"", "empty file"),
    (None, "Is a directory"),
])
def test_bad_files_give_a_clear_message(qtbot, studio_settings, tmp_path, content, expected):
    bad = tmp_path / "bad.zvc69"
    if content is None:
        bad.mkdir()
    else:
        bad.write_bytes(content)
    w = MainWindow(settings=studio_settings)  # the real codec.api decoder
    qtbot.addWidget(w)
    w.show()
    w.open_file(bad)
    qtbot.waitUntil(lambda: w.last_error is not None, timeout=5000)
    assert w.last_error.startswith("Could not open bad.zvc69: ")
    assert expected in w.last_error, w.last_error
    assert "Traceback" not in w.last_error and "\n" not in w.last_error
    assert w.message_box is not None and w.message_box.isVisible()
    assert w.stack.currentWidget() is w.empty and w.empty.message.isVisible()
    w.message_box.close()
    w.open_file(tmp_path / "missing.zvc69")
    qtbot.waitUntil(lambda: "File not found" in (w.last_error or ""), timeout=5000)
    w.shutdown()


def test_settings_and_recent_files_persist(qtbot, studio_window, studio_settings, tmp_path):
    clip = tmp_path / "clip.zvc69"
    clip.write_bytes(b"x")
    w = studio_window(num_frames=5)
    w.open_file(clip)
    wait_open(qtbot, w)
    w.actions.overlays["mv"].setChecked(True)
    w.overlay_controls.sliders["skip"].setValue(30)
    w.size_dock.hide()
    w.close()
    w2 = studio_window(num_frames=5)
    assert w2.actions.overlays["mv"].isChecked() and w2.frame_view.overlays["mv"].visible
    assert w2.opacities["skip"] == pytest.approx(0.3)
    assert not w2.size_dock.isVisible()
    assert [a.toolTip() for a in w2.recent_menu.actions()] == [str(clip.resolve())]
    assert w2.settings.fileName() == studio_settings.fileName()


def test_dropping_a_file_opens_it(qtbot, studio_window, tmp_path):
    w = studio_window(num_frames=6)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "dropped.zvc69"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)
    wait_open(qtbot, w)
    assert w.windowTitle().startswith("dropped.zvc69")


def test_zoom_and_pixel_readout(qtbot, studio_window):
    w = studio_window(num_frames=3)
    w.open_file("clip.zvc69")
    wait_open(qtbot, w)
    w.actions.zoom_actual.trigger()
    qtbot.waitUntil(lambda: abs(w.frame_view.zoom - 1.0) < 0.02, timeout=2000)
    w.actions.zoom_in.trigger()
    qtbot.waitUntil(lambda: abs(w.frame_view.zoom - 1.25) < 0.03, timeout=2000)
    assert w.zoom_label.text() == "Zoom 125%"
    vb = w.frame_view.view_box
    scene = vb.mapViewToScene(QPointF(40.5, 30.5))
    view_pos = w.frame_view.graphics.mapFromScene(scene)
    qtbot.mouseMove(w.frame_view.graphics.viewport(), QPoint(view_pos.x(), view_pos.y()))
    qtbot.waitUntil(lambda: "x 40  y 30" in w.pixel_label.text(), timeout=2000)
    assert "block (1, 2)" in w.pixel_label.text()


def test_screenshot_of_a_frame_with_overlays(qtbot, studio_window, tmp_path):
    w = studio_window(num_frames=20)
    out = tmp_path / "shot.png"
    error = take_screenshot(w, out, "clip.zvc69", frame=7, overlays=["mv", "grid"],
                            size=(1200, 760))
    assert error is None
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 760)
    assert w.player.current == 7 and w.frame_view.overlays["mv"].visible
    assert w.transport.counter.text().strip() == "7 / 19"


def test_screenshot_command_line(qtbot, tmp_path, capsys):
    out = tmp_path / "empty.png"
    assert main(["--screenshot", str(out), "--size", "900x600"]) == 0
    assert QImage(str(out)).size().width() == 900
    bad = tmp_path / "bad.zvc69"
    bad.write_bytes(b"\0" * 100)
    out2 = tmp_path / "bad.png"
    assert main([str(bad), "--screenshot", str(out2), "--overlay", "mv,skip"]) == 1
    assert out2.exists()
    err = capsys.readouterr().err
    assert err.startswith("zvc69-studio: ") and "Traceback" not in err


def test_dropping_a_video_compares_it_with_the_stream(qtbot, studio_window, tmp_path):
    from codec.media import open_sink

    synth = SyntheticSource(num_frames=6)
    video = tmp_path / "source.y4m"
    with open_sink(video, 128, 96, 25) as sink:
        for n in range(6):
            sink.write(synth.frame(n))
    w = studio_window(num_frames=6)
    w.open_file("clip.zvc69")
    wait_open(qtbot, w)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(video))])
    w.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                           Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: len(w.psnr_source) == 6, timeout=10000)
    assert all(30 < v < 60 for v in w.psnr_source.values())  # 4:2:0 round trip of the source
    assert w.source_path.name == "source.y4m" and w.actions.close_compare.isEnabled()


def test_slow_decoding_shows_buffering_over_the_picture(qtbot, studio_window):
    w = studio_window(num_frames=40, fps=100, gop=40, delay_s=0.03)
    w.open_file("slow.zvc69")
    wait_open(qtbot, w)
    w.player.play()
    qtbot.waitUntil(lambda: w.frame_view.notice.isVisible(), timeout=5000)
    assert w.frame_view.notice.text().startswith("Buffering")
    # the decoding speed joins the status once the first decode time is measured
    qtbot.waitUntil(lambda: w.play_label.text().startswith("Buffering")
                    and "real time" in w.play_label.text(), timeout=5000)
    assert w.transport.timeline.buffered  # the cached range is drawn on the timeline
    w.player.pause()
    qtbot.waitUntil(lambda: not w.frame_view.notice.isVisible(), timeout=2000)


def test_inference_device_setting_is_kept(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.mainwindow import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, restore=False, dialogs=False)
    qtbot.addWidget(win)
    assert win.device == "auto" and win.device_actions["auto"].isChecked()
    win.set_device("cpu")
    assert win.device_actions["cpu"].isChecked() and not win.device_actions["auto"].isChecked()
    again = MainWindow(settings=settings, restore=False, dialogs=False)
    qtbot.addWidget(again)
    assert again.device == "cpu"
