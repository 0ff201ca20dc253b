"""In-loop deblocking (format 5): the filter itself and streams with and without it."""

from __future__ import annotations

import numpy as np

from codec.api import StreamDecoder, shared_codecs
from codec.deblock import deblock, thresholds
from tests.codec_helpers import encode, pan_clip


def test_thresholds_shrink_with_the_step():
    t = [thresholds(level) for level in range(1, 9)]
    assert all(min(x) >= 1 for x in t)
    assert [x[0] for x in t] == sorted((x[0] for x in t), reverse=True)
    assert t[0][0] > t[-1][0]


def test_small_step_across_a_flagged_edge_is_smoothed():
    f = np.full((16, 24, 3), 100, np.uint8)
    f[:, 8:] = 106  # a 6-level step on the edge at column 8
    keep = np.zeros((2, 3), bool)
    keep[0, 0] = True  # only the top-left block carries coefficients
    g = deblock(f, keep, 3)
    assert g[0, 7, 0] > 100 and g[0, 8, 0] < 106  # both sides moved toward each other
    assert np.array_equal(g[9:, :, :], f[9:, :, :])  # edges of unflagged blocks stay
    assert np.array_equal(g[:, 16:], f[:, 16:])
    assert np.array_equal(g[:, :6], f[:, :6])  # only the two pixels next to the edge


def test_inner_edges_of_split_blocks_are_smoothed():
    """Format 11: a block coded as four 4x4 transforms also has its edges at 4 filtered."""
    f = np.full((16, 24, 3), 100, np.uint8)
    f[:, 4:8] = 106  # a step at column 4, inside block (0, 0) and block (1, 0)
    f[4:8, 12:] = 94  # and one at row 4 / row 8 of block column 1
    keep = np.zeros((2, 3), bool)
    keep[0, 0] = keep[0, 1] = True
    assert np.array_equal(deblock(f, keep, 3)[:, :6], f[:, :6])  # 8x8 blocks: no edge at 4
    split = np.zeros((2, 3), bool)
    split[0, 0] = split[0, 1] = True
    g = deblock(f, keep, 3, split)
    assert g[0, 3, 0] > 100 and g[0, 4, 0] < 106  # inside the split block
    assert np.array_equal(g[10:, :6], f[10:, :6])  # block (1, 0): neither flagged nor split
    assert g[3, 12, 0] < 100 and g[4, 12, 0] > 94  # the horizontal inner edge at row 4
    assert np.array_equal(g[:, 20:], f[:, 20:])  # block column 2: untouched at 20..23


def test_real_edges_and_unflagged_frames_are_left_alone():
    f = np.full((16, 16, 3), 40, np.uint8)
    f[:, 8:] = 200  # far above alpha: an edge of the picture, not of the blocks
    keep = np.ones((2, 2), bool)
    assert np.array_equal(deblock(f, keep, 1), f)
    g = f.copy()
    g[:, 8:] = 44
    assert np.array_equal(deblock(g, np.zeros((2, 2), bool), 1), g)


def test_odd_sizes_and_tiny_frames():
    rng = np.random.default_rng(1)
    for h, w in ((1, 1), (9, 17), (8, 9), (33, 8), (2, 50), (1, 40)):
        f = rng.integers(90, 110, (h, w, 3), np.uint8)
        keep = np.ones((-(-h // 8), -(-w // 8)), bool)
        g = deblock(f, keep, 1)
        assert g.shape == f.shape and g.dtype == np.uint8
        if w > 9:
            assert not np.array_equal(g[:, 7:9], f[:, 7:9])


def test_format_4_streams_decode_without_deblocking(tmp_path, monkeypatch):
    """Format 4.0 streams (no loop filter) still decode exactly; formats from 5 deblock in
    the loop and decode exactly too."""
    import codec.container

    frames = pan_clip(4, 64, 96, step=1)
    monkeypatch.setattr(codec.container, "VERSION", (4, 0))
    old, _ = encode(tmp_path / "v4.zvc69", frames, gop=4, quality=2)
    monkeypatch.undo()
    new, stats = encode(tmp_path / "v5.zvc69", frames, gop=4, quality=2)
    assert any(s.timings.get("deblock", 0) > 0 for s in stats)
    for name, recons, major in (("v4", old, 4), ("v5", new, codec.container.VERSION[0])):
        with StreamDecoder(tmp_path / f"{name}.zvc69", codecs=shared_codecs("cpu")) as dec:
            assert dec.header.version_major == major
            for i, (frame, _) in enumerate(dec.frames()):
                assert np.array_equal(frame, recons[i]), f"{name} frame {i} differs"


def _reference(frame: np.ndarray, keep: np.ndarray, level: int) -> np.ndarray:
    """docs/BITSTREAM.md's filter, pixel by pixel in plain Python."""
    alpha, beta, tc = thresholds(level)
    x = frame.astype(int)
    h, w = x.shape[:2]

    def filt(get, put, lines, edges, on_line):
        vals = {}
        for line in lines:
            for e in edges:
                if not on_line(line, e):
                    continue
                for ch in range(3):
                    p1, p0, q0, q1 = (get(line, e + k, ch) for k in (-2, -1, 0, 1))
                    if abs(p0 - q0) < alpha and abs(p1 - p0) < beta and abs(q1 - q0) < beta:
                        d = max(-tc, min(tc, ((q0 - p0) * 4 + (p1 - q1) + 4) >> 3))
                        vals[line, e - 1, ch] = max(0, min(255, p0 + d))
                        vals[line, e, ch] = max(0, min(255, q0 - d))
        for (line, pos, ch), v in vals.items():
            put(line, pos, ch, v)

    def put_v(r, c, ch, v):
        x[r, c, ch] = v

    def put_h(c, r, ch, v):
        x[r, c, ch] = v

    filt(lambda r, c, ch: x[r, c, ch], put_v, range(h), range(8, w - 1, 8),
         lambda r, e: keep[r // 8, e // 8 - 1] or keep[r // 8, e // 8])
    filt(lambda c, r, ch: x[r, c, ch], put_h, range(w), range(8, h - 1, 8),
         lambda c, e: keep[e // 8 - 1, c // 8] or keep[e // 8, c // 8])
    return x.astype(np.uint8)


def test_filter_matches_the_written_specification():
    rng = np.random.default_rng(7)
    for h, w, level in ((24, 40, 1), (17, 25, 3), (9, 33, 5), (40, 16, 2)):
        base = rng.integers(0, 256, (-(-h // 8), -(-w // 8), 1, 1, 3))
        f = np.clip(np.kron(base[:, :, 0, 0], np.ones((8, 8, 1)))[:h, :w]
                    + rng.integers(-3, 4, (h, w, 3)), 0, 255).astype(np.uint8)
        f[:, :, 1] = np.where(rng.random((h, w)) < 0.3, 255, f[:, :, 1])  # saturated pixels
        f[:, :, 1] = np.clip(f[:, :, 1].astype(int) // 8 * 8 + 250, 0, 255)  # near the top
        keep = rng.random((-(-h // 8), -(-w // 8))) < 0.6
        assert np.array_equal(deblock(f, keep, level), _reference(f, keep, level)), (h, w)
