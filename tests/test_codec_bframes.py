"""B-frames: groups of an anchor P-frame and B-frames before it, stored in decode order,
decoded in display order, exactly, from any starting point."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from codec.api import StreamDecoder, StreamEncoder, shared_codecs
from codec.bipred import BACKWARD, BOTH, FORWARD, choose_modes, decode_modes, encode_modes
from codec.container import HAS_B_FRAMES, ContainerReader, FrameType
from codec.errors import ZVC69FormatError
from codec.inter import InterPayload
from tests.codec_helpers import encode, objects_clip, pan_clip


def test_groups_are_stored_in_decode_order_and_decode_exactly(tmp_path):
    path = tmp_path / "b.zvc69"
    frames = objects_clip(11, 64, 96)
    recons, stats = encode(path, frames, quality=3, gop=8, bframes=3, b_adapt=False)
    # GOP of 8: I, two groups of 4 (B B B P) ending before the next I, then I and the tail
    assert "".join(s.frame_type for s in stats) == "IBBBPBBPIBP"
    assert [s.index for s in stats] == list(range(11))
    assert [s.decode_index for s in stats] == [0, 3, 2, 4, 1, 6, 7, 5, 8, 10, 9]
    assert stats[2].refs == (0, 4) and stats[1].refs == (0, 2) and stats[3].refs == (2, 4)
    assert stats[2].reference and not stats[1].reference and not stats[3].reference
    with ContainerReader(path) as r:
        assert r.header.flags & HAS_B_FRAMES
        types = [r.read_frame_header(j).frame_type for j in range(11)]
        assert types[:5] == [FrameType.I, FrameType.P, FrameType.B, FrameType.B, FrameType.B]
        assert [e.reference for e in r.index][:5] == [True, True, True, False, False]
        pts = [r.read_frame_header(j).pts for j in range(11)]
        assert pts[1] == 4 * 3600 and pts[2] == 2 * 3600  # 25 fps: 3600 ticks a frame
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        assert dec.has_b_frames
        for n, (frame, st) in enumerate(dec.frames()):
            assert st.index == n and st.frame_type == stats[n].frame_type
            assert np.array_equal(frame, recons[n]), f"frame {n}"
        scanned = dec.scan()
        assert [s.refs for s in scanned] == [s.refs for s in stats]
        for a, b in zip(scanned, stats, strict=True):
            if b.frame_type == "B":
                assert np.array_equal(a.mv_back, b.mv_back) and np.array_equal(a.modes, b.modes)
                assert a.bits == b.bits
        assert [dec.keyframe_before(n) for n in range(11)] == [0] * 8 + [8] * 3


def test_random_access_in_any_order_matches(tmp_path):
    path = tmp_path / "r.zvc69"
    recons, _ = encode(path, pan_clip(10, 64, 64, step=2), quality=2, gop=32, bframes=3)
    order = [7, 1, 3, 2, 9, 0, 5, 5, 4, 8, 6]
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        for n in order:
            frame, st = dec.decode(n)
            assert st.index == n and np.array_equal(frame, recons[n]), n
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:  # a fresh start mid-group
        got = [f for f, _ in dec.frames(6, 10)]
    assert all(np.array_equal(a, b) for a, b in zip(got, recons[6:10], strict=True))


def test_b_frames_cost_less_than_p_frames(tmp_path):
    """On a pan, B-frames (averaging two references, a level lower) are smaller than the
    group's anchors and the whole stream is smaller than with P-frames only."""
    frames = pan_clip(9, 64, 96, step=2)
    _, with_b = encode(tmp_path / "b.zvc69", frames, quality=4, bframes=3, b_adapt=False)
    _, p_only = encode(tmp_path / "p.zvc69", frames, quality=4, bframes=0)
    b_sizes = [s.size_bytes for s in with_b if s.frame_type == "B"]
    anchors = [s.size_bytes for s in with_b if s.frame_type == "P"]
    assert len(b_sizes) == 6 and max(b_sizes) < min(anchors), (b_sizes, anchors)
    assert sum(s.size_bytes for s in with_b) < sum(s.size_bytes for s in p_only)
    modes = np.concatenate([s.modes.ravel() for s in with_b if s.frame_type == "B"])
    assert (modes == BOTH).mean() > 0.15  # many blocks average both references (26 % in
    # format 14, 20 % in 15, whose keyframe differs)


def test_scene_cut_inside_a_group_codes_it_frame_by_frame(tmp_path):
    a = pan_clip(3, 64, 96, seed=2)
    b = [(f * 0.3).astype(np.uint8) for f in pan_clip(4, 64, 96, seed=11)]  # a dark scene
    recons, stats = encode(tmp_path / "cut.zvc69", a + b, bframes=3)
    types = "".join(s.frame_type for s in stats)
    assert types[3] == "I" and stats[3].scene_cut and stats[3].keyframe, types
    assert all(s.refs is None or s.refs[0] >= 3 for s in stats[4:])  # nothing across the cut
    with StreamDecoder(tmp_path / "cut.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert dec.keyframe_before(5) == 3
        assert all(np.array_equal(f, recons[n]) for n, (f, _) in enumerate(dec.frames()))


def test_stopping_mid_group_keeps_whole_groups_only(tmp_path):
    """abort(keep=True) with frames held for a group: the file has the groups coded so far,
    every frame decodes, and the held frames are not counted as done."""
    path = tmp_path / "stop.zvc69"
    frames = pan_clip(7, 64, 64)
    enc = StreamEncoder(path, 64, 64, Fraction(25), 3, "fast", 32, bframes=3,
                        codecs=shared_codecs("cpu"))
    done = [d for f in frames for d in enc.encode(f)]
    assert len(done) == enc.frames_done == 5  # I and one group; frames 5 and 6 held
    enc.abort(keep=True)
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        assert dec.num_frames == 5 and dec.damage is None
        for n, (f, _) in enumerate(dec.frames()):
            assert np.array_equal(f, done[n][0])


def test_cut_off_file_decodes_its_whole_groups(tmp_path):
    """A file cut inside a group (the anchor kept, its B-frames partly lost): the frames whose
    references are there decode exactly, the others fail with an error naming the frame."""
    path = tmp_path / "cut.zvc69"
    recons, stats = encode(path, pan_clip(9, 64, 64), quality=2, bframes=3, b_adapt=False)
    data = path.read_bytes()
    by_decode = sorted(stats, key=lambda s: s.decode_index)
    keep = 64 + sum(s.size_bytes for s in by_decode[:7])  # I, group 1, P8 and B6 of group 2
    path.write_bytes(data[: keep + 5])
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        assert dec.num_frames == 7 and dec.damage
        shown = [s.index for s in by_decode[:7]]
        for d, n in enumerate(sorted(shown)):
            frame, st = dec.decode(d)
            assert np.array_equal(frame, recons[n]), (d, n)


def test_b_payload_round_trip_and_refusals():
    modes = np.array([[FORWARD, BOTH, BACKWARD], [BOTH, BOTH, FORWARD]], np.uint8)
    data = encode_modes(modes)
    assert np.array_equal(decode_modes(data, 2, 3), modes)
    p = InterPayload(3, 16, 4, b"mv", b"s", b"z", b"y", True, b"detail", layout=9,
                     refs=(2, 1), mv_back_bytes=b"back", mode_bytes=data)
    q = InterPayload.unpack(p.pack(), 9, bidir=True)
    assert (q.refs, q.mv_back_bytes, q.mode_bytes, q.mv_bytes, q.detail_bytes) == (
        (2, 1), b"back", data, b"mv", b"detail")
    assert p.bits()["motion"] == 8 * (2 + 4 + len(data))
    coarse = replace(p, mv_block=32, temporal=True)
    q = InterPayload.unpack(coarse.pack(), 9, bidir=True)
    assert (q.mv_block, q.temporal) == (32, True)
    with pytest.raises(ZVC69FormatError, match="motion byte"):
        InterPayload.unpack(coarse.pack(), 9)  # 32x32 blocks and temporal vectors: B only
    with pytest.raises(ZVC69FormatError, match="format 8"):
        InterPayload.unpack(p.pack(), 8, bidir=True)
    bad = bytearray(p.pack())
    bad[2] = 0  # reference distance 0
    with pytest.raises(ZVC69FormatError, match="distances"):
        InterPayload.unpack(bytes(bad), 9, bidir=True)
    with pytest.raises(ZVC69FormatError, match="mode map"):
        decode_modes(data[:1], 2, 3)


def test_bframes_setting_is_checked(tmp_path):
    from codec.errors import ZVC69Error

    with pytest.raises(ZVC69Error, match="B-frames"):
        StreamEncoder(tmp_path / "x.zvc69", 64, 64, bframes=9, codecs=shared_codecs("cpu"))


def test_unused_vectors_are_filled_with_their_prediction():
    """fill_unused leaves a zero coded difference at every unused block (the median rule of
    mvcoding, with filled blocks as neighbours) and keeps the used ones."""
    from codec.bipred import fill_unused
    from codec.mvcoding import encode_mvs, median_predictor

    rng = np.random.default_rng(3)
    mv = rng.integers(-40, 40, (7, 9, 2)).astype(np.float32) / 4
    unused = rng.random((7, 9)) < 0.6
    filled = fill_unused(mv, unused)
    q = np.rint(filled * 4).astype(np.int64)
    assert (q - median_predictor(q))[unused].any(axis=-1).sum() == 0
    assert np.array_equal(filled[~unused], mv[~unused])
    assert len(encode_mvs(filled)) < len(encode_mvs(mv))


def test_cheapest_prices_a_db_by_the_streams_rate():
    from codec.encoder import B_ADAPT_SLOPE, cheapest

    # four frames: +0.5 dB on each costs 2,000 bits more
    tries = [(10_000, 4 * 35.5), (8_000, 4 * 35.0)]
    even = 1_000 * B_ADAPT_SLOPE  # bits a frame at which a dB on one frame is worth 1,000
    assert cheapest(tries, even * 1.2) == 0  # a richer stream buys the PSNR
    assert cheapest(tries, even * 0.8) == 1  # a leaner one keeps the bits


@pytest.mark.parametrize("clip", ["pan", "objects"])
def test_group_structure_is_one_of_the_fixed_ones_and_not_dominated(tmp_path, clip):
    """With the per-group choice, a group of four is coded exactly as one of the fixed
    structures (3, 1 or 0 B-frames: nothing of the other trials leaks into the stream or the
    encoder's state), and no other structure has both fewer bits and a higher PSNR."""
    frames = pan_clip(9, 64, 96, step=3) if clip == "pan" else objects_clip(9, 64, 96)
    _, adaptive = encode(tmp_path / "a.zvc69", frames, quality=3, bframes=3, b_adapt=True)
    fixed = {b: encode(tmp_path / f"f{b}.zvc69", frames, quality=3, bframes=b,
                       b_adapt=False)[1] for b in (3, 1, 0)}
    first = [(s.size_bytes, s.frame_type, s.psnr_y) for s in adaptive[:5]]
    match = [b for b, st in fixed.items()
             if [(s.size_bytes, s.frame_type, s.psnr_y) for s in st[:5]] == first]
    assert match, {b: "".join(s.frame_type for s in st) for b, st in fixed.items()}
    bits = {b: sum(s.size_bytes for s in st[1:5]) for b, st in fixed.items()}
    psnr = {b: sum(s.psnr_y for s in st[1:5]) for b, st in fixed.items()}
    b = match[0]
    assert not any(bits[o] < bits[b] and psnr[o] > psnr[b] for o in fixed), (bits, psnr)
    with StreamDecoder(tmp_path / "a.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert [s.frame_type for _, s in dec.frames()] == [s.frame_type for s in adaptive]


def test_mode_choice_prices_the_maps_bits():
    # 4x4 blocks of 16: the average of the two predictions is exact except where the forward
    # one is: by 768 SSE on five blocks (less than a bit is worth), by 307,200 on one
    frame = np.full((64, 64, 3), 128, np.uint8)
    pred_f = np.full(frame.shape, 126.0, np.float32)
    pred_b = np.full(frame.shape, 130.0, np.float32)
    for r, c, far in [(0, 0, 2), (0, 3, 2), (1, 1, 2), (2, 2, 2), (3, 0, 2), (3, 3, 40)]:
        pred_f[16 * r:16 * r + 16, 16 * c:16 * c + 16] = 128
        pred_b[16 * r:16 * r + 16, 16 * c:16 * c + 16] = 128 + far
    by_sse = choose_modes(frame, pred_f, pred_b, 16)
    assert np.count_nonzero(by_sse == FORWARD) == 6 and np.count_nonzero(by_sse == BOTH) == 10
    priced = choose_modes(frame, pred_f, pred_b, 16, bit_sse=2000.0)
    assert priced[3, 3] == FORWARD  # worth its bits
    assert np.count_nonzero(priced == BOTH) == 15  # the near ties no longer pay for theirs
    assert not np.any(choose_modes(frame, pred_f, pred_b, 16, bit_sse=1.0) != by_sse)
