"""PlayerController on synthetic streams: opening, seeking, stepping, playing, buffering, errors."""

from __future__ import annotations

import time

import pytest

from app.player.controller import PlayerController
from app.player.synthetic import SyntheticSource
from codec.errors import ModelMismatchError


@pytest.fixture
def player(qtbot):
    p = PlayerController(cache_mb=64)
    yield p
    p.shutdown()


def open_synthetic(qtbot, player, **kw):
    with qtbot.waitSignal(player.frame_shown, timeout=5000):
        player.open(lambda: SyntheticSource(**kw), "synthetic")
    qtbot.waitUntil(lambda: bool(player.stats), timeout=5000)


def test_open_scans_every_frame_and_shows_the_first(qtbot, player):
    shown = []
    player.frame_shown.connect(lambda n, img, st: shown.append((n, img.shape, st.frame_type)))
    open_synthetic(qtbot, player, num_frames=20, gop=5)
    assert shown[0] == (0, (96, 128, 3), "I")
    assert [s.index for s in player.stats] == list(range(20))
    assert player.keyframes == [0, 5, 10, 15]
    qtbot.waitUntil(lambda: player.buffered_ahead() >= 10, timeout=5000)  # read-ahead


def test_seek_step_and_keyframe_navigation(qtbot, player):
    open_synthetic(qtbot, player, num_frames=30, gop=8)
    player.seek(13)
    qtbot.waitUntil(lambda: player.current == 13, timeout=3000)
    player.step(1)
    qtbot.waitUntil(lambda: player.current == 14, timeout=3000)
    player.step(-3)
    qtbot.waitUntil(lambda: player.current == 11, timeout=3000)
    player.next_keyframe()
    qtbot.waitUntil(lambda: player.current == 16, timeout=3000)
    player.prev_keyframe()
    qtbot.waitUntil(lambda: player.current == 8, timeout=3000)
    player.to_end()
    qtbot.waitUntil(lambda: player.current == 29, timeout=3000)
    player.seek(1000)  # clamped
    assert player.target == 29
    player.to_start()
    qtbot.waitUntil(lambda: player.current == 0, timeout=3000)


def test_shown_frame_is_the_decoded_picture(qtbot, player):
    open_synthetic(qtbot, player, num_frames=12)
    got = {}
    player.frame_shown.connect(lambda n, img, st: got.update(n=n, img=img, st=st))
    player.seek(7)
    qtbot.waitUntil(lambda: got.get("n") == 7, timeout=3000)
    assert (got["img"] == SyntheticSource().frame(7)).all()
    assert got["st"].index == 7 and got["st"].timings  # decoder timings come along
    assert 7 in player.timings


def test_plays_at_the_stream_frame_rate(qtbot, player):
    open_synthetic(qtbot, player, num_frames=60, fps=50)
    qtbot.waitUntil(lambda: player.buffered_ahead() >= 40, timeout=5000)
    start = time.perf_counter()
    player.play()
    qtbot.waitUntil(lambda: player.current >= 25, timeout=3000)
    elapsed = time.perf_counter() - start
    assert 0.4 <= elapsed < 1.5  # 25 frames at 50 fps = 0.5 s
    qtbot.waitUntil(lambda: not player.playing, timeout=3000)  # stops at the end
    assert player.current == 59


def test_slow_decoding_buffers_instead_of_stuttering(qtbot, player):
    # 30 ms per frame at 100 fps: a third of real time
    open_synthetic(qtbot, player, num_frames=40, fps=100, gop=40, delay_s=0.03)
    player.resume_s = 0.1  # buffer 10 frames before resuming
    states = []
    player.buffer_changed.connect(lambda: states.append((player.buffering,
                                                        player.buffered_ahead())))
    player.play()
    qtbot.waitUntil(lambda: player.buffering, timeout=3000)
    qtbot.waitUntil(lambda: not player.buffering and player.playing, timeout=3000)
    resumed_with = player.buffered_ahead()
    assert resumed_with >= 8  # it waited for a buffer, then plays from it
    qtbot.waitUntil(lambda: player.current >= 39 and not player.playing, timeout=10000)
    assert any(b for b, _ in states)


def test_bad_frame_is_reported_and_playback_stops_before_it(qtbot, player):
    errors = []
    player.decode_failed.connect(lambda n, m: errors.append((n, m)))
    open_synthetic(qtbot, player, num_frames=20, gop=20, bad_frames={6})
    qtbot.waitUntil(lambda: bool(errors), timeout=3000)
    n, message = errors[0]
    assert n == 6 and "CRC" in message
    player.play()
    qtbot.waitUntil(lambda: not player.playing, timeout=3000)
    assert player.current == 5
    assert player.is_bad(6)


def test_open_errors_are_one_line_messages(qtbot, player):
    failures = []
    player.open_failed.connect(failures.append)
    player.open(lambda: SyntheticSource(open_error=ModelMismatchError(
        "x.zvc69 was made with model set 12345678")), "x.zvc69")
    qtbot.waitUntil(lambda: bool(failures), timeout=3000)
    assert failures == ["x.zvc69 was made with model set 12345678"]
    assert not player.is_open

    def broken():
        raise RuntimeError("boom\nTraceback (most recent call last): ...")

    player.open(broken, "y")
    qtbot.waitUntil(lambda: len(failures) == 2, timeout=3000)
    assert failures[1] == "Unexpected error (RuntimeError): boom"


def test_cache_is_bounded_while_playing(qtbot):
    frame_bytes = 320 * 240 * 3
    player = PlayerController(cache_mb=20 * frame_bytes / 2**20)  # room for 20 frames
    try:
        open_synthetic(qtbot, player, num_frames=80, width=320, height=240, fps=200)
        player.play()
        qtbot.waitUntil(lambda: player.current >= 79, timeout=10000)
        assert len(player.cache) <= 20
        assert player.cache.used_bytes <= player.cache.capacity_bytes
    finally:
        player.shutdown()


def test_ui_thread_is_never_blocked_while_decoding(qtbot, player):
    from PySide6.QtCore import QTimer

    gaps = []
    last = [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)
    timer.start()
    # slow frames (20 ms each, GOP of 30 so seeks decode up to 30 frames)
    open_synthetic(qtbot, player, num_frames=90, gop=30, delay_s=0.02)
    for target in (70, 15, 55, 88):
        player.seek(target)
        qtbot.wait(150)
    player.play()
    qtbot.wait(600)
    timer.stop()
    assert len(gaps) > 50
    assert max(gaps[1:]) < 0.1


def test_far_seek_shows_the_keyframe_then_decodes_forward(qtbot, player):
    open_synthetic(qtbot, player, num_frames=64, gop=30, delay_s=0.005)
    shown = []
    player.frame_shown.connect(lambda n, img, st: shown.append(n))
    player.seek(58)
    qtbot.waitUntil(lambda: player.current == 58, timeout=5000)
    assert shown == [30, 58]
    assert all(k in player.cache for k in range(30, 59))  # frames on the way are cached
    assert 30 in player.timings and 45 in player.timings


def test_plays_through_with_room_for_one_frame_only(qtbot):
    player = PlayerController(cache_mb=1.5 * 128 * 96 * 3 / 2**20)
    try:
        open_synthetic(qtbot, player, num_frames=15, fps=100)
        player.play()
        qtbot.waitUntil(lambda: player.current == 14 and not player.playing, timeout=10000)
        assert len(player.cache) <= 1
    finally:
        player.shutdown()
