"""The Encode view with the real codec on tiny demo clips:
slider previews, a full encode, stop & keep, discard, unreadable sources, the main window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.encode import EncodeLauncher, EncodeView
from app.encode.options import PRESET_NAMES

SOURCE = "demo:96x64"
WAIT = 60_000  # ms; the codec shares 2 cores with other work


@pytest.fixture
def view(qtbot, tmp_path):
    v = EncodeView()
    qtbot.addWidget(v)
    v.show()
    v.set_source(SOURCE)
    v.set_output(tmp_path / "out.zvc69")
    yield v
    v.shutdown()


def settled(view, quality, preset=None):
    """The shown preview is complete (I and P) and at this setting."""
    r = view.preview_result
    return (r is not None and r.inter is not None and r.serial == view.preview_serial
            and r.quality == quality and (preset is None or r.preset == preset))


def encode(qtbot, view, frames, gop=32):
    view.form.count_spin.setValue(frames)
    view.form.gop_spin.setValue(gop)
    with qtbot.waitSignal(view.encoded, timeout=WAIT) as sig:
        assert view.start_encode() is not None
    return sig.args[0]


def test_quality_slider_previews_sizes_at_once(qtbot, view):
    qtbot.waitUntil(lambda: settled(view, 4), timeout=WAIT)
    assert view.source_pane.image is not None and view.recon_pane.image is not None
    assert "96 × 64" in view.form.source_info.text() and "60 frames" in view.form.source_info.text()
    sizes = {}
    for q in (1, 8):
        view.form.quality.setValue(q)
        assert view.form.quality.value_label.text() == f"Q{q}"
        qtbot.waitUntil(lambda q=q: settled(view, q), timeout=WAIT)
        r = view.preview_result
        sizes[q] = (r.intra.bits_total, r.inter.bits_total)
        assert r.recon.shape == (64, 96, 3) and r.recon.dtype == np.uint8
        assert r.intra.psnr is not None and r.intra.frame_type == "I"
        assert r.inter.frame_type == "P"
        text = view.readout.text()
        assert f"Q{q}" in text and "bpp" in text and "dB" in text and "kbit/s" in text
    assert sizes[8][0] > sizes[1][0] and sizes[8][1] > sizes[1][1]


def test_rapid_slider_moves_make_one_request(qtbot, view):
    qtbot.waitUntil(lambda: settled(view, 4), timeout=WAIT)
    before = view.preview_serial
    for q in (5, 6, 7, 8, 2, 3):
        view.form.quality.setValue(q)
    qtbot.waitUntil(lambda: settled(view, 3), timeout=WAIT)
    assert view.preview_serial == before + 1
    shown = view.preview_result
    view._worker.ready.emit(before, shown.__class__(before, 7, "medium", shown.source,
                                                    shown.recon, shown.intra))
    assert view.preview_result is shown  # an older request's answer is never shown


def test_preset_slider_changes_the_p_frame_only(qtbot, view):
    qtbot.waitUntil(lambda: settled(view, 4), timeout=WAIT)
    results = {}
    for name in ("ultrafast", "veryslow"):
        view.form.preset.setValue(PRESET_NAMES.index(name))
        assert view.form.preset.value_label.text() == name
        qtbot.waitUntil(lambda n=name: settled(view, 4, n), timeout=WAIT)
        results[name] = view.preview_result
    fast, slow = results["ultrafast"], results["veryslow"]
    assert fast.intra.bits_total == slow.intra.bits_total  # presets only steer motion search
    assert (fast.inter.mv_block, slow.inter.mv_block) == (16, 8)
    assert "veryslow" in view.readout.text()


def test_encode_fills_charts_and_writes_a_stream(qtbot, view):
    from codec.api import StreamDecoder

    pictures = []
    view.job_started.connect(lambda job: job.picture.connect(
        lambda i, src, rec: pictures.append(i)))
    path = encode(qtbot, view, frames=5, gop=3)
    assert path == str(view.options().output_path)
    with StreamDecoder(path) as dec:
        assert dec.num_frames == 5 and (dec.width, dec.height) == (96, 64)
        assert [s.frame_type for s in dec.scan()] == ["I", "B", "P", "I", "P"]
        assert len(dec.encode_stats()) == 5
    assert view.size_chart.points() == 5 and view.psnr_chart.points() == 5
    assert [s.frame_type for s in view.size_chart.stats] == ["I", "B", "P", "I", "P"]
    assert view.progress.value() == view.progress.maximum() == 5
    assert 1 <= len(pictures) <= 5 and pictures[0] == 0 and pictures[-1] == 4
    assert "5 frames" in view.progress_label.text() and "Done" in view.message.text()
    assert view.encode_button.isEnabled() and view.form.quality.isEnabled()
    assert not view.stop_button.isVisible() and view.open_button.isVisible()


def _cancel_after(view, frames, keep):
    """Cancel from the codec's progress callback (the worker thread) after `frames` frames."""

    def hook(job):
        job.progressed.connect(lambda n, *_: job.cancel(keep) if n == frames else None,
                               Qt.ConnectionType.DirectConnection)

    view.job_started.connect(hook)


def test_stop_keeps_a_valid_stream_of_the_frames_done(qtbot, view):
    from codec.api import StreamDecoder

    _cancel_after(view, 2, keep=True)
    view.form.count_spin.setValue(6)
    with qtbot.waitSignal(view.job_started, timeout=WAIT) as sig:
        view.start_encode()
    job = sig.args[0]
    with qtbot.waitSignal(job.stopped, timeout=WAIT) as stopped:
        pass
    path, frames = stopped.args
    # frame 2 comes out with its B-frame group (frames 1-4), which is finished first
    assert frames == 5 and path == str(view.options().output_path)
    qtbot.waitUntil(lambda: not view.encoding, timeout=WAIT)
    with StreamDecoder(path) as dec:
        assert dec.num_frames == 5 and dec.damage is None
        decoded = list(dec.frames())
    types = [s.frame_type for _, s in decoded]  # the group: 0, 1 or 3 B-frames, as it coded best
    assert types[0] == "I" and types[4] == "P" and "I" not in types[1:], types
    assert all(img.shape == (64, 96, 3) for img, _ in decoded)
    assert "Stopped after 5 frames" in view.message.text()
    assert view.size_chart.points() == 5
    with qtbot.waitSignal(view.encoded, timeout=1000) as opened:
        view.open_button.click()
    assert opened.args == [path]


def test_discard_leaves_nothing_behind(qtbot, view, tmp_path):
    _cancel_after(view, 2, keep=False)
    view.form.count_spin.setValue(6)
    with qtbot.waitSignal(view.job_started, timeout=WAIT) as sig:
        view.start_encode()
    with qtbot.waitSignal(sig.args[0].stopped, timeout=WAIT) as stopped:
        pass
    assert stopped.args == [None, 5]  # (frame 2 comes with its group, frames 1-4)
    qtbot.waitUntil(lambda: not view.encoding, timeout=WAIT)
    assert list(tmp_path.iterdir()) == []  # no stream, no .partial, no statistics
    assert "Discarded" in view.message.text()
    assert not view.open_button.isVisible()


def test_discard_button_mid_encode(qtbot, view, tmp_path):
    view.form.count_spin.setValue(0)  # all 60 frames: long enough to press Discard
    view.start_encode()
    assert view.stop_button.isVisible() and not view.encode_button.isEnabled()
    assert not view.form.source_edit.isEnabled()
    qtbot.waitUntil(lambda: len(view.size_chart.stats) >= 1, timeout=WAIT)
    view.discard_button.click()
    qtbot.waitUntil(lambda: not view.encoding, timeout=WAIT)
    assert "Discarded" in view.message.text()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["garbage", "audio", "missing"])
def test_unreadable_source_is_a_message_not_a_crash(qtbot, view, tmp_path, kind):
    if kind == "garbage":
        src = tmp_path / "clip.mp4"
        src.write_bytes(b"this is not a video" * 50)
    elif kind == "audio":
        src = tmp_path / "tone.wav"
        _write_wav(src)
    else:
        src = tmp_path / "nowhere.mp4"
    view.set_source(str(src))
    qtbot.waitUntil(lambda: "Cannot use this source" in view.form.source_info.text(),
                    timeout=WAIT)
    assert str(src) in view.form.source_info.text()
    if kind == "audio":
        assert "no video stream" in view.form.source_info.text()
    assert view.source_pane.image is None and view.recon_pane.image is None
    view.start_encode()
    qtbot.waitUntil(lambda: not view.encoding, timeout=WAIT)
    assert view.message.text().startswith("Encoding failed: ")
    assert str(src) in view.message.text() and "Traceback" not in view.message.text()
    assert view.encode_button.isEnabled()


def _write_wav(path):
    import av

    with av.open(str(path), "w", format="wav") as c:
        stream = c.add_stream("pcm_s16le", rate=8000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            c.mux(packet)


def test_main_window_plays_what_was_encoded(qtbot, studio_settings, tmp_path):
    from app.mainwindow import MainWindow

    window = MainWindow(settings=studio_settings, restore=False, dialogs=False)
    qtbot.addWidget(window)
    try:
        launcher = window.findChild(EncodeLauncher)
        assert launcher is not None and launcher.action.shortcut().toString() == "Ctrl+N"
        file_menu = window.menuBar().actions()[0].menu()
        assert launcher.action in file_menu.actions()
        window.empty.encode_button.click()  # "Encode a video…" on the start screen
        view = launcher.view
        assert view is not None and view.isVisible()
        view.set_source(SOURCE)
        view.set_output(tmp_path / "clip.zvc69")
        path = encode(qtbot, view, frames=4)
        qtbot.waitUntil(lambda: window.player.is_open and len(window.player.stats) == 4,
                        timeout=WAIT)
        assert str(window.stream_path) == path
        # the encode statistics (per-stage encode times) reach the timing panel
        qtbot.waitUntil(lambda: bool(window.player.encoder_stats), timeout=WAIT)
        enc = window.player.encoder_stats
        assert len(enc) == 4 and all(sum(s.timings.values()) > 0 for s in enc)
    finally:
        window.close()
        window.shutdown()


def test_still_image_previews_an_i_frame_and_encodes(qtbot, view, tmp_path):
    from PIL import Image

    from codec.api import StreamDecoder

    src = tmp_path / "still.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(src)
    view.set_source(str(src))
    assert view.options().output == str(tmp_path / "out.zvc69")  # chosen by the user: kept
    qtbot.waitUntil(lambda: view.preview_result is not None
                    and view.preview_result.serial == view.preview_serial
                    and view.preview_result.final, timeout=WAIT)
    assert view.preview_result.inter is None and "one frame" in view.readout.text()
    assert "80 × 48" in view.form.source_info.text()
    path = encode(qtbot, view, frames=0)
    with StreamDecoder(path) as dec:
        assert dec.num_frames == 1
