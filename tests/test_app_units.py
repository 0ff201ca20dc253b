"""ZVC69 Studio pure-logic units: frame cache, export, time codes, command line, colour maps."""

from __future__ import annotations

import csv
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from app.export import stats_rows, write_stats
from app.main import main, parse_overlays, parse_size
from app.panels.frame_size import bitrate_kbps
from app.player.cache import MB, FrameCache
from app.player.synthetic import SyntheticSource
from app.timecode import format_bytes, timecode
from app.views import colormaps as cm
from codec.stats import FrameStats


def _frame(n: int, nbytes: int = MB // 4) -> tuple[np.ndarray, FrameStats]:
    side = int(math.sqrt(nbytes // 3))
    return np.zeros((side, side, 3), np.uint8), FrameStats(n, "P", side, side)


def test_cache_stays_within_its_megabytes():
    cache = FrameCache(capacity_mb=1.0)
    for n in range(20):
        cache.put(n, *_frame(n))
        assert cache.used_bytes <= cache.capacity_bytes
    assert 0 < len(cache) <= 4
    assert cache.indices() == [16, 17, 18, 19]  # least recently used went first


def test_cache_keeps_the_focus_window_and_reports_runs():
    cache = FrameCache(capacity_mb=1.0)
    cache.set_focus(10, 13)
    for n in (10, 11, 12):
        cache.put(n, *_frame(n))
    for n in (0, 1, 2, 3):  # outside the focus: these are evicted first
        cache.put(n, *_frame(n))
    assert {10, 11, 12} <= set(cache.indices())
    assert cache.ahead(10) == 2 and cache.ahead(12) == 0
    assert cache.ranges()[-1] == (10, 13)
    cache.set_capacity_mb(0.3)
    assert len(cache) == 1 and cache.used_bytes <= cache.capacity_bytes


def test_export_csv_and_json_hold_every_summary_field(tmp_path):
    src = SyntheticSource(num_frames=6, gop=3)
    stats = [src.decode(n)[1] for n in range(6)]
    rows = stats_rows(stats, psnr_source={0: 40.0, 1: math.inf})
    csv_path = write_stats(tmp_path / "s.csv", rows)
    with csv_path.open() as f:
        table = list(csv.DictReader(f))
    assert [r["index"] for r in table] == [str(n) for n in range(6)]
    assert table[0]["type"] == "I" and table[1]["type"] == "P"
    assert "ms_synthesis" in table[0] and "bits_latent" in table[0]
    assert table[0]["psnr_source"] == "40.0" and table[2]["psnr_source"] == ""
    doc = json.loads(write_stats(tmp_path / "s.json", rows, {"fps": "25"}).read_text())
    assert doc["stream"] == {"fps": "25"}
    assert doc["frames"][1]["psnr_source"] == "inf"  # JSON has no infinity
    assert doc["frames"][4]["skip_ratio"] == pytest.approx(stats[4].skip_ratio)


def test_timecode_and_sizes():
    assert timecode(0, Fraction(25)) == "00:00:00.000"
    assert timecode(3 * 3600 * 25 + 61 * 25 + 5, Fraction(25)) == "03:01:01.200"
    assert timecode(1001, Fraction(30000, 1001)) == "00:00:33.400"
    assert format_bytes(512) == "512 B" and format_bytes(3 * MB) == "3.0 MB"


def test_bitrate_is_a_one_second_window():
    bits = np.full(50, 1000.0)
    assert np.allclose(bitrate_kbps(bits, 25.0), 25.0)  # 1000 bits * 25 fps = 25 kbit/s
    bits[10] = 26000.0  # one big frame: 24 * 1000 + 26000 bits in the second around it
    rate = bitrate_kbps(bits, 25.0)
    assert rate[10] == pytest.approx(50.0) and rate[45] == pytest.approx(25.0)


def test_heatmap_colours_and_vector_bins():
    rgba = cm.heat_rgba(np.array([[0.0, 5.0, 10.0, np.nan]]), vmax=10.0)
    assert rgba.shape == (1, 4, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0, 3] < rgba[0, 1, 3] < rgba[0, 2, 3]  # low values are more transparent
    assert tuple(rgba[0, 3]) == tuple(rgba[0, 0])
    bins = cm.direction_bin(np.array([1.0, 0.0, -1.0, 0.0]), np.array([0.0, -1.0, 0.0, 1.0]))
    assert list(bins) == [0, 3, 6, 9]  # right, up (y down), left, down
    assert list(cm.magnitude_bin(np.array([0.0, 5.0, 99.0]), 10.0)) == [0, 4, 7]


def test_command_line_parsing():
    assert parse_overlays("mv, skip,grid") == ["mv", "skip", "grid"]
    with pytest.raises(ValueError, match="unknown overlay foo"):
        parse_overlays("mv,foo")
    assert parse_size("800x600") == (800, 600)
    with pytest.raises(ValueError):
        parse_size("huge")


def test_without_a_display_the_app_says_so(monkeypatch, capsys):
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["some.zvc69"]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "--screenshot" in err


def test_stream_info_reads_header_fields():
    from types import SimpleNamespace

    from app.player.source import info_of

    src = SyntheticSource(num_frames=5)
    src.header = SimpleNamespace(version_major=1, version_minor=0, quality=5, gop_size=32,
                                 model_hash=bytes.fromhex("45169da9"))
    info = info_of(src, "clip.zvc69")
    assert info.label == "clip.zvc69" and info.num_frames == 5
    assert info.extra == {"format": "1.0", "quality": "5", "GOP": "32", "model": "45169da9"}
    assert info.frame_bytes == 128 * 96 * 3


def test_bugs_in_slots_become_one_status_line(monkeypatch, capsys):
    import sys

    from app.main import install_excepthook

    lines: list[str] = []
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_excepthook(lines.append)
    try:
        raise ValueError("frame 7\nmore")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert lines == ["Internal error (ValueError): frame 7"]
    assert "Traceback" in capsys.readouterr().err


def test_frame_panel_measures_a_b_frames_vectors_in_use():
    """A B-frame's fields hold vectors its blocks do not use (set to their prediction): the
    panel measures the ones in use, per reference."""
    from app.panels.frame_info import frame_rows
    from codec.bipred import BACKWARD, BOTH, FORWARD

    st = FrameStats(index=1, frame_type="B", width=32, height=16, quality=4, mv_block=16)
    st.mv = np.array([[[3.0, 4.0], [30.0, 40.0]]], np.float32)  # the second block: unused
    st.mv_back = np.array([[[100.0, 0.0], [0.0, 2.0]]], np.float32)  # the first: unused
    st.modes = np.array([[FORWARD, BACKWARD]], np.uint8)
    rows = {name: (value, dict(kids)) for name, value, kids in frame_rows(st)}
    assert rows["Motion |mv|"] == ("mean 3.50 · max 5.00 px (used)", {
        "to the frame before": "mean 5.00 · max 5.00 px (1 blocks)",
        "to the frame after": "mean 2.00 · max 2.00 px (1 blocks)"})
    st.modes = np.array([[BOTH, BOTH]], np.uint8)
    value, kids = {n: (v, dict(k)) for n, v, k in frame_rows(st)}["Motion |mv|"]
    assert kids["to the frame before"].startswith("mean 27.50 · max 50.00 px (2 blocks)")


def test_frame_panel_names_the_refinement():
    from app.panels.frame_info import frame_rows
    from codec.stats import FrameStats

    st = FrameStats(index=0, frame_type="I", width=8, height=8, quality=6, refine_quality=8)
    rows = {name: value for name, value, _ in frame_rows(st)}
    assert rows["Quality"] == "6 + refinement at 8"
    st.refine_quality = 0
    assert {n: v for n, v, _ in frame_rows(st)}["Quality"] == "6"
    st.detail_quality = 6  # the detail layer at the frame's own level: not repeated
    assert {n: v for n, v, _ in frame_rows(st)}["Quality"] == "6"
    st.detail_quality = 8  # a keyframe's intra latents below its detail layer
    assert {n: v for n, v, _ in frame_rows(st)}["Quality"] == "6 · detail layer at 8"
    assert st.summary()["detail_quality"] == 8
    assert "Colour" not in {n for n, _, _ in frame_rows(st)}
    st.grey = True  # format 16
    assert {n: v for n, v, _ in frame_rows(st)}["Colour"].startswith("grey (R = G = B")
    assert "Bars (not coded)" not in {n for n, _, _ in frame_rows(st)}
    st.bars = (58, 58, 0, 0)
    rows = {name: value for name, value, _ in frame_rows(st)}
    assert rows["Bars (not coded)"] == "top 58 · bottom 58 · left 0 · right 0 px"
    assert "Prediction weights" not in rows
    st.weights = ((0.671875, 0.65625, 1.0), (58, 60, -3), (58, 58, 0, 0))
    rows = {name: (value, dict(kids)) for name, value, kids in frame_rows(st)}
    assert rows["Prediction weights"] == ("gain ≈0.78 · offset ≈+38", {
        "gain R G B": "0.672 0.656 1.000", "offset R G B": "+58 +60 -3",
        "applied inside": "top 58 · bottom 58 · left 0 · right 0 px"})
    assert st.summary()["weights"] == ("gain 0.672 0.656 1.000 · offset +58 +60 -3 · inside "
                                       "top 58 bottom 58 left 0 right 0")
    assert "Latent prediction" not in rows and st.summary()["latent_prediction"] is False
    st.latent_prediction = True
    assert {n: v for n, v, _ in frame_rows(st)}["Latent prediction"].startswith("spatial")
    assert "Detail blocks" not in rows and st.summary()["detail_4x4"] is None
    st.detail_blocks = np.array([[0, 1, 2], [2, 2, 0]], np.uint8)
    rows = {name: (value, dict(kids)) for name, value, kids in frame_rows(st)}
    assert rows["Detail blocks"] == ("4 of 6 8×8", {"one 8×8 transform": "1", "four 4×4": "3"})
    assert (st.summary()["detail_blocks"], st.summary()["detail_4x4"]) == (4, 3)
    st.detail_blocks = np.zeros((4, 6), np.uint8)  # format 15: a 32x32 and a 16x16
    st.detail_blocks[:, :4] = 4
    st.detail_blocks[:2, 4:] = 3
    st.detail_blocks[2, 4:] = (1, 2)
    rows = {name: (value, dict(kids)) for name, value, kids in frame_rows(st)}
    assert rows["Detail blocks"] == ("22 of 24 8×8", {
        "one 8×8 transform": "1", "four 4×4": "1", "in 16×16 transforms": "4 (1 transforms)",
        "in 32×32 transforms": "16 (1 transforms)"})
    assert (st.summary()["detail_16x16"], st.summary()["detail_32x32"]) == (1, 1)
    st.detail_blocks = np.full((8, 9), 5, np.uint8)  # format 17: one 64x64, a column of 8x8
    st.detail_blocks[:, 8] = 1
    rows = {name: (value, dict(kids)) for name, value, kids in frame_rows(st)}
    assert rows["Detail blocks"][1]["in 64×64 transforms"] == "64 (1 transforms)"
    assert rows["Detail blocks"][1]["one 8×8 transform"] == "8"
    assert st.summary()["detail_64x64"] == 1
    assert "Loop filter" not in rows and st.summary()["loop_filter"] is None
    st.loop_filter = (4, ((25, 15, 16, -8, 4, 31, -13, -12, -6, 4, 8, 4),), ())
    rows = {name: (value, dict(kids)) for name, value, kids in frame_rows(st)}
    assert rows["Loop filter"] == ("clip ±4 · one class", {
        "taps (1/128)": "+25 +15 +16 -8 +4 +31 -13 -12 -6 +4 +8 +4"})
    assert (st.summary()["loop_filter"], st.summary()["loop_filter_classes"]) == (4, 1)
    st.loop_filter = (255, ((0,) * 12, (1,) * 12), (300,))
    rows = {name: (value, dict(kids)) for name, value, kids in frame_rows(st)}
    assert rows["Loop filter"] == ("linear · 2 activity classes", {
        "taps (1/128), activity ≥ 0": " ".join(["+0"] * 12),
        "taps (1/128), activity ≥ 300": " ".join(["+1"] * 12)})
    assert "Motion blocks" not in rows
    st.frame_type, st.mv_block, st.mv = "P", 32, np.zeros((3, 4, 2), np.float32)
    assert {n: v for n, v, _ in frame_rows(st)}["Motion blocks"] == "32×32 px (3×4)"
    assert "Interpolation" not in rows and st.summary()["sharp_mc"] is False
    st.sharp_mc = True
    assert {n: v for n, v, _ in frame_rows(st)}["Interpolation"] == "8-tap (format 13)"
    assert st.summary()["sharp_mc"] is True
