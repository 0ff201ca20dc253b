"""ZVC69 Studio on real streams made by codec.api.StreamEncoder."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QImage

from app.main import main
from app.mainwindow import MainWindow
from app.views.overlays import OVERLAY_NAMES

N_FRAMES, W, H = 10, 128, 96


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """A 10-frame 128x96 demo clip, GOP 5, and the decoder's output for every frame."""
    from codec.api import StreamDecoder, StreamEncoder, shared_codecs
    from codec.demo import demo_source

    path = tmp_path_factory.mktemp("studio") / "demo.zvc69"
    src = list(demo_source(W, H, N_FRAMES - 1, 25))
    frames = [src[0], *src]  # frame 1 repeats frame 0: a chance for skip blocks
    with StreamEncoder(path, W, H, Fraction(25), 4, "medium", 5,
                       codecs=shared_codecs("cpu")) as enc:
        enc.encode_all(frames)
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        decoded = [dec.decode(n) for n in range(N_FRAMES)]
    return path, frames, decoded


@pytest.fixture
def window(qtbot, studio_settings):
    w = MainWindow(settings=studio_settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    yield w
    w.shutdown()


def open_stream(qtbot, w, path):
    w.open_file(path)
    qtbot.waitUntil(lambda: w.player.current == 0 and bool(w.player.stats), timeout=30000)


def grab(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    arr = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return arr.reshape(image.height(), image.bytesPerLine() // 4, 4)[:, : image.width()].copy()


def stable_grab(qtbot, widget, timeout_s: float = 5.0) -> np.ndarray:
    """The widget's pixels once two grabs 100 ms apart agree (pending repaints are done)."""
    last = grab(widget)
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        qtbot.wait(100)
        now = grab(widget)
        if np.array_equal(now, last):
            return now
        last = now
    raise AssertionError("the view kept changing")


def test_opens_plays_and_steps_a_real_stream(qtbot, window, stream):
    path, _, decoded = stream
    open_stream(qtbot, window, path)
    assert window.player.info.num_frames == N_FRAMES
    assert np.array_equal(window.frame_view.image, decoded[0][0])
    assert window.player.keyframes == [0, 5]
    assert [s.frame_type for s in window.size_panel.stats] == [d[1].frame_type for d in decoded]
    window.actions.play.trigger()
    qtbot.waitUntil(lambda: window.player.current == N_FRAMES - 1 and not window.player.playing,
                    timeout=30000)
    window.actions.step_back.trigger()
    qtbot.waitUntil(lambda: window.player.current == N_FRAMES - 2, timeout=10000)
    assert np.array_equal(window.frame_view.image, decoded[N_FRAMES - 2][0])
    window.actions.prev_key.trigger()
    qtbot.waitUntil(lambda: window.player.current == 5, timeout=10000)
    assert len(window.player.timings) == N_FRAMES  # every frame's decode time measured
    window.refresh_analysis()
    assert "synthesis" in " ".join(window.timing_panel.bars)


def test_clicking_the_frame_size_chart_seeks(qtbot, window, stream):
    path, _, decoded = stream
    open_stream(qtbot, window, path)
    panel = window.size_panel
    qtbot.waitUntil(lambda: panel.view_box.width() > 50, timeout=2000)
    (_, _), (y0, y1) = panel.view_box.viewRange()
    scene = panel.view_box.mapViewToScene(QPointF(7, (y0 + y1) / 2))
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.plot.mapFromScene(scene))
    qtbot.waitUntil(lambda: window.player.current == 7, timeout=10000)
    assert np.array_equal(window.frame_view.image, decoded[7][0])
    assert window.transport.timeline.position == 7 and panel.cursor.value() == 7


@pytest.mark.parametrize("name", OVERLAY_NAMES)
def test_each_overlay_changes_the_rendered_frame(qtbot, window, stream, name):
    path, _, decoded = stream
    field = {"mv": "mv", "skip": "skip", "residual": "residual_energy",
             "bits": "bits_per_block", "transform": "detail_blocks",
             "grid": "bits_per_block"}[name]
    with_content = [n for n, (_, st) in enumerate(decoded)
                    if getattr(st, field) is not None and np.any(getattr(st, field))]
    assert with_content, f"the encoder produced no {field} in this clip"  # frame 1 repeats 0
    open_stream(qtbot, window, path)
    n = with_content[-1]
    window.player.seek(n)
    qtbot.waitUntil(lambda: window.player.current == n, timeout=10000)
    before = stable_grab(qtbot, window.frame_view)
    window.actions.overlays[name].trigger()
    # repaints are queued: poll (a loaded machine may take longer than one frame)
    qtbot.waitUntil(lambda: np.any(grab(window.frame_view) != before, axis=2).mean() > 0.001,
                    timeout=5000)
    window.actions.overlays[name].trigger()
    qtbot.waitUntil(lambda: np.array_equal(grab(window.frame_view), before), timeout=5000)


def test_ui_thread_stays_responsive_while_decoding(qtbot, window, stream):
    path, _, _ = stream
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)
    timer.start()
    window.set_cache_mb(1)  # tiny cache: frames keep being decoded
    open_stream(qtbot, window, path)
    window.player.loop = True
    window.player.play()
    for target in (8, 2, 6):
        qtbot.wait(250)
        window.player.seek(target)
    qtbot.wait(500)
    timer.stop()
    window.player.pause()
    assert len(window.player.timings) >= 5
    # Decoding on the UI thread would stall every frame; a loaded machine can preempt the
    # process once (seen: one 103 ms gap while a benchmark ran beside the tests), so one gap
    # may reach 300 ms, every other must stay under 100 ms.
    worst, second = sorted(gaps[1:])[-1], sorted(gaps[1:])[-2]
    assert worst < 0.3 and second < 0.1, f"UI thread blocked for {worst * 1000:.0f} ms, " \
        f"then {second * 1000:.0f} ms"


def test_cut_off_stream_opens_with_a_damage_note(qtbot, window, stream, tmp_path):
    path, _, decoded = stream
    data = path.read_bytes()
    cut = tmp_path / "cut.zvc69"
    cut.write_bytes(data[: len(data) * 2 // 3])
    open_stream(qtbot, window, cut)
    assert window.banner.isVisible() and "damaged" in window.banner.text()
    assert 0 < window.player.info.num_frames < N_FRAMES
    assert np.array_equal(window.frame_view.image, decoded[0][0])


def test_stream_of_another_model_set_is_refused_clearly(qtbot, window, stream, tmp_path):
    path, _, _ = stream
    data = bytearray(path.read_bytes())
    data[28] ^= 0xFF  # the model hash (docs/FORMAT.md)
    other = tmp_path / "other.zvc69"
    other.write_bytes(bytes(data))
    window.dialogs = False
    window.open_file(other)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10000)
    assert "model set" in window.last_error and "\n" not in window.last_error
    assert not window.player.is_open


def test_compare_with_the_source(qtbot, window, stream):
    path, frames, decoded = stream
    from codec.metrics import psnr_rgb

    open_stream(qtbot, window, path)
    window.compare_with(lambda: iter(frames), "demo")
    qtbot.waitUntil(lambda: len(window.psnr_source) == N_FRAMES, timeout=30000)
    assert window.psnr_source[3] == pytest.approx(psnr_rgb(frames[3], decoded[3][0]))
    window.set_display_mode("difference")
    assert not np.array_equal(window.frame_view.image, decoded[0][0])


def test_screenshot_of_a_real_stream(qtbot, stream, tmp_path, capsys):
    path, _, _ = stream
    out = tmp_path / "shot.png"
    assert main([str(path), "--screenshot", str(out), "--frame", "3", "--overlay", "mv,grid",
                 "--size", "1200x760"]) == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 760)
    assert "saved" in capsys.readouterr().out
