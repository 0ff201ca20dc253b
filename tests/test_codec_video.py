"""Video round trips through the real networks, entropy coder and container."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from codec.api import StreamDecoder, shared_codecs
from codec.errors import ModelMismatchError
from tests.codec_helpers import encode, objects_clip, pan_clip, static_clip


def test_decoder_output_equals_encoder_reconstruction(tmp_path):
    frames = pan_clip(6, 64, 96)
    recons, stats = encode(tmp_path / "a.zvc69", frames, gop=4)
    assert [s.frame_type for s in stats] == ["I", "B", "B", "P", "I", "P"]
    with StreamDecoder(tmp_path / "a.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert dec.num_frames == 6
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i]), f"frame {i} differs"
            assert st.frame_type == stats[i].frame_type
            assert st.size_bytes == stats[i].size_bytes


def test_format_1_streams_decode_with_bilinear_prediction(tmp_path, monkeypatch):
    """A 1.x stream (bilinear motion compensation) still decodes exactly; later ones use
    cubic."""
    import functools

    import codec.container
    import codec.encoder
    from codec.warp import warp

    # a pan of half a pixel per frame: 1-pixel steps at twice the size, averaged 2x2
    frames = [np.round(f.reshape(64, 2, 96, 2, 3).mean((1, 3))).astype(np.uint8)
              for f in pan_clip(4, 128, 192, step=1)]
    monkeypatch.setattr(codec.container, "VERSION", (1, 0))
    monkeypatch.setattr(codec.encoder, "warp", functools.partial(warp, interp="bilinear"))
    old, _ = encode(tmp_path / "v1.zvc69", frames, gop=4)
    monkeypatch.undo()
    new, _ = encode(tmp_path / "v5.zvc69", frames, gop=4)
    assert not np.array_equal(old[3], new[3])  # the two filters predict differently
    for name, recons, major in (("v1", old, 1), ("v5", new, codec.container.VERSION[0])):
        with StreamDecoder(tmp_path / f"{name}.zvc69", codecs=shared_codecs("cpu")) as dec:
            assert dec.header.version_major == major
            for i, (frame, _) in enumerate(dec.frames()):
                assert np.array_equal(frame, recons[i]), f"{name} frame {i} differs"


def test_format_3_streams_still_decode(tmp_path, monkeypatch):
    """A 3.x stream (u32 section lengths, detail layer without context modelling) decodes
    exactly; format 4's P-frame headers are smaller."""
    import codec.container

    frames = pan_clip(4, 64, 96, step=1)
    monkeypatch.setattr(codec.container, "VERSION", (3, 0))
    old, old_stats = encode(tmp_path / "v3.zvc69", frames, gop=4, quality=6)
    monkeypatch.undo()
    _, new_stats = encode(tmp_path / "v4.zvc69", frames, gop=4, quality=6)
    with StreamDecoder(tmp_path / "v3.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert dec.header.version_major == 3
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, old[i]), f"frame {i} differs"
            assert st.bits == old_stats[i].bits
    def headers(stats):
        return [s.bits["header"] for s in stats[1:]]

    assert max(headers(new_stats)) <= 72 < min(headers(old_stats)), (headers(new_stats),
                                                                     headers(old_stats))


def test_format_6_streams_decode_and_format_7_codes_motion_smaller(tmp_path, monkeypatch):
    """Format 7's context-coded motion vectors (mvcoding mode 2) cost fewer bits on fields with
    large vector differences; a 6.x stream (mode 1 only) still decodes exactly."""
    import codec.container

    frames = objects_clip(4)
    monkeypatch.setattr(codec.container, "VERSION", (6, 0))
    old, old_stats = encode(tmp_path / "v6.zvc69", frames, quality=3)
    monkeypatch.setattr(codec.container, "VERSION", (7, 0))
    new, new_stats = encode(tmp_path / "v7.zvc69", frames, quality=3)
    for name, recons in (("v6", old), ("v7", new)):
        with StreamDecoder(tmp_path / f"{name}.zvc69", codecs=shared_codecs("cpu")) as dec:
            assert dec.header.version_major == int(name[1])
            for i, (frame, _) in enumerate(dec.frames()):
                assert np.array_equal(frame, recons[i]), f"{name} frame {i} differs"

    def motion(stats):
        return [s.bits["motion"] for s in stats[1:]]

    assert sum(motion(new_stats)) < sum(motion(old_stats)), (motion(new_stats), motion(old_stats))


def test_random_access_matches_sequential(tmp_path):
    frames = pan_clip(7, 64, 64, step=1)
    recons, _ = encode(tmp_path / "s.zvc69", frames, gop=3)
    with StreamDecoder(tmp_path / "s.zvc69", codecs=shared_codecs("cpu")) as dec:
        for n in (5, 2, 6, 0, 4, 4, 1):
            frame, st = dec.decode(n)
            assert st.index == n
            assert np.array_equal(frame, recons[n])
        assert dec.keyframe_before(5) == 3


@pytest.mark.parametrize("clip", [static_clip, pan_clip])
def test_p_frames_much_smaller_than_i_frames(tmp_path, clip):
    _, stats = encode(tmp_path / "c.zvc69", clip(4, 64, 96), bframes=0)
    i_size = stats[0].size_bytes
    p_sizes = [s.size_bytes for s in stats[1:]]
    assert all(s.frame_type == "P" for s in stats[1:])
    assert max(p_sizes) < 0.5 * i_size, (i_size, p_sizes)


def test_static_content_is_skipped_and_predicted_exactly(tmp_path):
    recons, stats = encode(tmp_path / "st.zvc69", static_clip(4, 64, 96), quality=3)
    for i, st in enumerate(stats[1:], 1):
        # at most sub-pixel vectors: against a coded (softened) reference the interpolation
        # of a fractional vector can predict the detailed source better than zero does
        assert np.abs(st.mv).max() <= 1.5, st.mv
        # a skipped block whose vector and neighbours' vectors (OBMC blends them) are zero is
        # an exact copy of the reference
        moving = np.pad(np.any(st.mv != 0, axis=-1), 1)
        near = np.zeros(st.skip.shape, bool)
        for dr in range(3):
            for dc in range(3):
                near |= moving[dr : dr + near.shape[0], dc : dc + near.shape[1]]
        still = st.skip & ~near
        for r, c in zip(*np.nonzero(still), strict=True):
            blk = np.s_[16 * r : 16 * r + 16, 16 * c : 16 * c + 16]
            assert np.array_equal(recons[i][blk], recons[i - 1][blk])
    assert stats[-1].skip.mean() > 0.8, [s.skip.mean() for s in stats[1:]]
    header = 32  # the frame header, the same for both types
    assert stats[-1].size_bytes - header < 0.1 * (stats[0].size_bytes - header)


def test_moving_object_gets_vectors_background_skipped(tmp_path):
    bg = static_clip(1, 96, 128)[0]
    obj = pan_clip(1, 32, 32, seed=7)[0]
    frames = []
    for i in range(3):
        f = bg.copy()
        f[32:64, 16 + 8 * i : 48 + 8 * i] = obj
        frames.append(f)
    _, stats = encode(tmp_path / "o.zvc69", frames, quality=3)
    st = stats[2]
    assert st.mv is not None and st.mv_block == 16
    assert np.abs(st.mv[2:4, :]).max() >= 4, st.mv[..., 0]  # rows with the object
    assert np.abs(st.mv[[0, 5], :]).max() <= 1.5  # background rows: sub-pixel at most
    # Mostly skipped: some background blocks still take residual that sharpens the I-frame's
    # reconstruction (RD-chosen), so not all of them.
    assert st.skip[[0, 5], :].mean() > 0.6, st.skip


def test_bitrate_rises_monotonically_with_quality(tmp_path):
    frames = pan_clip(3, 64, 96)
    sizes = []
    for q in range(1, 9):
        _, stats = encode(tmp_path / f"q{q}.zvc69", frames, quality=q)
        sizes.append(sum(s.size_bytes for s in stats))
    assert all(a < b for a, b in zip(sizes, sizes[1:], strict=False)), sizes


def test_stream_from_other_model_set_is_refused(tmp_path):
    p = tmp_path / "m.zvc69"
    encode(p, static_clip(1, 32, 32))
    data = bytearray(p.read_bytes())
    data[28] ^= 0xFF  # model hash, FORMAT.md
    p.write_bytes(bytes(data))
    with pytest.raises(ModelMismatchError, match="model set"):
        StreamDecoder(p, codecs=shared_codecs("cpu"))


def test_cut_off_stream_keeps_every_complete_frame(tmp_path):
    p = tmp_path / "cut.zvc69"
    recons, stats = encode(p, pan_clip(4, 64, 64), bframes=0)
    data = p.read_bytes()
    end_of_frame_2 = 64 + sum(s.size_bytes for s in stats[:3])
    p.write_bytes(data[: end_of_frame_2 + 10])  # index and most of frame 3 gone
    with StreamDecoder(p, codecs=shared_codecs("cpu")) as dec:
        assert dec.num_frames == 3
        assert dec.damage
        for i, (frame, _) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i])


def test_scan_reads_side_information_without_networks(tmp_path):
    p = tmp_path / "scan.zvc69"
    _, stats = encode(p, pan_clip(3, 64, 96), bframes=0)
    with StreamDecoder(p, codecs=shared_codecs("cpu")) as dec:
        scanned = dec.scan()
    assert [s.frame_type for s in scanned] == ["I", "P", "P"]
    for a, b in zip(scanned[1:], stats[1:], strict=True):
        assert np.array_equal(a.mv, b.mv)
        assert np.array_equal(a.skip, b.skip)
        assert a.bits["motion"] == b.bits["motion"]


def test_scene_cut_forces_keyframe_but_fade_does_not(tmp_path):
    a = pan_clip(3, 64, 96, seed=2)
    b = [(f * 0.3).astype(np.uint8) for f in pan_clip(3, 64, 96, seed=11)]  # a dark scene
    _, stats = encode(tmp_path / "cut.zvc69", a + b, bframes=0)
    assert [s.frame_type for s in stats] == ["I", "P", "P", "I", "P", "P"]
    assert stats[3].scene_cut and not stats[4].scene_cut
    base = static_clip(1, 64, 96)[0].astype(np.float32)
    fade = [np.clip(base * k, 0, 255).astype(np.uint8) for k in (0.5, 0.53, 0.56, 0.59)]
    _, stats = encode(tmp_path / "fade.zvc69", fade, bframes=0)
    assert [s.frame_type for s in stats] == ["I", "P", "P", "P"]


def test_motion_field_choice_prefers_cheap_fields_on_noise(tmp_path):
    """On a flat static scene under fresh sensor noise, sub-pel vectors only chase the noise:
    of the fields tried at several rate weights (medium: 1x and 4x), the encoder keeps one
    that costs far fewer motion bits than the single-weight field for a similar prediction."""
    from dataclasses import replace

    from codec.api import StreamEncoder
    from codec.motion import estimate_motion, luma
    from codec.mvcoding import encode_mvs
    from codec.profiler import Profiler
    from codec.warp import warp
    from tests.codec_helpers import texture

    rng = np.random.default_rng(0)
    base = texture(96, 128, seed=5).astype(np.float32) * 0.1 + 100
    ref, cur = (np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
                for _ in range(2))
    with StreamEncoder(tmp_path / "n.zvc69", 128, 96, 25, quality=2, preset="medium",
                       codecs=shared_codecs("cpu")) as enc:
        p = enc.motion_preset
        assert len(p.mv_trials) > 1
        mv, pred = enc._motion(cur, ref, Profiler())
    single = estimate_motion(luma(cur), luma(ref), replace(p, mv_trials=(1.0,)))
    bits = len(encode_mvs(mv, p.subpel))
    single_bits = len(encode_mvs(single, p.subpel))
    assert bits * 4 < single_bits
    err = np.mean((pred - cur) ** 2)
    err_single = np.mean((warp(ref, single, p.block) - cur) ** 2)
    assert err <= err_single * 1.05


def test_whole_frame_skip_when_the_residual_is_not_worth_its_bits(tmp_path):
    """Noise on a static scene at Q1: a few blocks pass the per-block test (measured: 4 %),
    but their residual does not pay for the frame's fixed costs (z, skip map), so nothing but
    the motion is sent; an object that appears from nowhere at Q5 is coded (by the learned
    residual coder or the detail layer, whichever costs less)."""
    rng = np.random.default_rng(1)
    still = static_clip(1, 64, 96)[0].astype(np.float32)
    noisy = [np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8)
             for _ in range(3)]
    recons, stats = encode(tmp_path / "n.zvc69", noisy, quality=1)
    for st in stats[1:]:
        assert st.skip.all() and st.bits["residual"] == 0 and st.bits["hyperprior"] == 0, st.bits
    with StreamDecoder(tmp_path / "n.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, _) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i])
    new = noisy[0].copy()
    new[16:48, 32:64] = pan_clip(1, 32, 32, seed=9)[0]
    _, stats = encode(tmp_path / "o.zvc69", [noisy[0], new], quality=5)
    assert stats[1].bits["residual"] + stats[1].bits["detail"] > 0, stats[1].bits
    assert stats[1].psnr > 30, stats[1].psnr


def test_keyframe_level_is_carried_per_frame(tmp_path):
    """Video I-frames take the boosted level I_LEVEL (a better reference for the GOP) in their
    detail layer and code their intra latents KEY_INTRA_DOWN levels below it, P-frames the
    stream's level; each payload and detail section carries its level and the decoder reports
    both. A one-frame stream (a still) keeps the quality asked for."""
    from codec.api import encode_file
    from codec.encoder import I_LEVEL, KEY_INTRA_DOWN

    assert I_LEVEL[3] == 5 and KEY_INTRA_DOWN == 2
    _, stats = encode(tmp_path / "k.zvc69", pan_clip(3, 64, 96), quality=4, bframes=0)
    assert [s.quality for s in stats] == [3, 4, 4]
    assert stats[0].detail_quality == 5  # the keyframe's detail layer at I_LEVEL
    with StreamDecoder(tmp_path / "k.zvc69", codecs=shared_codecs("cpu")) as dec:
        scanned = dec.scan()
        assert [s.quality for s in scanned] == [3, 4, 4]
        assert [s.detail_quality for s in scanned] == [s.detail_quality for s in stats]
        assert dec.header.quality == 4
        offsets = [dec.reader.read_frame_header(n).qp_offset for n in range(3)]
        assert offsets == [-1, 0, 0]  # the intra level's offset (FORMAT.md)
    encode_file("demo:96x64", tmp_path / "one.zvc69", quality=2, frames=1, device="cpu")
    with StreamDecoder(tmp_path / "one.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert dec.scan()[0].quality == 2 and dec.header.gop_size == 1


def test_every_fourth_p_frame_is_coded_a_level_up(tmp_path):
    """Quality cascading (encoder.ANCHOR_EVERY): P-frames 4, 8, ... of a GOP take level Q+1
    (capped at 8), the decoder reads each level from its payload and decodes exactly."""
    from codec.encoder import ANCHOR_EVERY, I_LEVEL, KEY_INTRA_DOWN

    assert ANCHOR_EVERY == 4
    frames = pan_clip(7, 64, 96)
    recons, stats = encode(tmp_path / "a.zvc69", frames, quality=3, gop=6, bframes=0)
    key = I_LEVEL[2] - KEY_INTRA_DOWN
    assert [s.quality for s in stats] == [key, 3, 3, 3, 4, 3, key]
    with StreamDecoder(tmp_path / "a.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert [s.quality for s in dec.scan()] == [s.quality for s in stats]
        for i, (frame, _) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i])
    _, top = encode(tmp_path / "t.zvc69", frames[:5], quality=8, bframes=0)
    assert [s.quality for s in top[1:]] == [8, 8, 8, 8]


@pytest.mark.parametrize("channel", [1, 2])
def test_p_frame_residual_restores_each_colour_channel(tmp_path, channel):
    """A change in one colour channel alone (a green or blue patch appearing on a static
    texture) is carried by the P-frame residual into that channel, not into the others."""
    base = static_clip(1, 64, 96, seed=5)[0]
    changed = base.copy()
    patch = changed[16:48, 32:64].astype(np.int16)
    patch[..., channel] += 60
    changed[16:48, 32:64] = np.clip(patch, 0, 255).astype(np.uint8)
    recons, stats = encode(tmp_path / "c.zvc69", [base, changed], quality=8, preset="medium")
    assert stats[1].frame_type == "P"
    region = (slice(16, 48), slice(32, 64))
    err = np.abs(recons[1][region].astype(np.int16) - changed[region].astype(np.int16))
    before = np.abs(recons[0][region].astype(np.int16) - changed[region].astype(np.int16))
    others = [c for c in range(3) if c != channel]
    # The changed channel moves most of the way to the source; the others stay put.
    assert err[..., channel].mean() < 0.4 * before[..., channel].mean()
    assert err[..., others].mean() < before[..., others].mean() + 4


def fog_clip(n: int, h: int = 64, w: int = 96, amp: float = 6.0) -> list[np.ndarray]:
    """Drifting fog: a smooth field to which each frame adds another smooth field. Smooth
    residuals, on which the learned residual coder wins on some frames (as on sintel's fog)."""
    def smooth(seed: int) -> np.ndarray:  # unit-variance noise upsampled 32x, bicubic
        g = np.random.default_rng(seed).normal(0, 1, (h // 32 + 2, w // 32 + 2, 3))
        size = ((w // 32 + 2) * 32, (h // 32 + 2) * 32)
        return np.stack([np.asarray(Image.fromarray(g[..., c].astype(np.float32), mode="F")
                                    .resize(size, Image.BICUBIC)) for c in range(3)], -1)[:h, :w]

    x = 128 + 30 * smooth(0)
    out = []
    for t in range(n):
        out.append(np.clip(x, 0, 255).astype(np.uint8))
        x = x + amp * smooth(t + 1)
    return out


@pytest.mark.parametrize("clip", ["objects", "fog"])
def test_learned_residual_is_probed_after_it_loses(tmp_path, monkeypatch, clip):
    """After a P-frame on which the learned residual lost to the detail layer alone (or was
    dropped), the encoder tries it again on every LEARNED_PROBE-th frame of the GOP only; after
    a win, on the next frame too. Either way the decoder reproduces the encoder exactly.
    objects: the learned residual never wins, so trials are saved; fog: it wins on some
    frames, and the frame after each win tries it again."""
    from fractions import Fraction

    from codec.api import StreamEncoder
    from codec.encoder import LEARNED_PROBE
    from codec.residual import ResidualCodec

    calls: list[int] = []
    real = ResidualCodec.encode

    def counted(self, *args, **kw):  # the real coder, counted
        calls.append(1)
        return real(self, *args, **kw)

    monkeypatch.setattr(ResidualCodec, "encode", counted)
    frames = objects_clip(10, 64, 96) if clip == "objects" else fog_clip(10)
    tried, sent, recons = [], [], []
    with StreamEncoder(tmp_path / "p.zvc69", 96, 64, Fraction(25), 2, "medium", 32,
                       scene_cut=False, codecs=shared_codecs("cpu"), bframes=0) as enc:
        for f in frames:
            before = len(calls)
            ((r, st),) = enc.encode(f)
            recons.append(r)
            tried.append(len(calls) > before)
            sent.append(st.bits["hyperprior"] > 0)
    assert not tried[0] and tried[1]
    for k in range(2, len(frames)):
        assert tried[k] == (sent[k - 1] or k % LEARNED_PROBE == 0), (k, tried, sent)
    if clip == "objects":
        assert not all(tried[1:])  # the policy saved some trials on this clip
    else:
        assert any(sent[1:-1]) and not all(sent[1:]), sent  # wins and losses
    with StreamDecoder(tmp_path / "p.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, _) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i]), f"frame {i} differs"


@pytest.mark.parametrize("quality", [2, 6])
def test_keyframe_takes_the_cheaper_intra_level(tmp_path, quality):
    """A GOP's keyframe codes its detail layer at I_LEVEL and its intra latents at I_LEVEL or
    KEY_INTRA_DOWN below, whichever costs less (bits + the detail layer's price of luma SSE,
    `luma_cost`); the stream decodes to the reconstruction chosen, and the decoder reports
    both levels."""
    from codec.encoder import (
        DETAIL_WEIGHT_I,
        I_LEVEL,
        KEY_INTRA_DOWN,
        KEY_TRIAL_LUMA,
        StreamEncoder,
        luma255,
        luma_cost,
    )
    from codec.profiler import Profiler
    from codec.quant import LAMBDAS

    frame = pan_clip(1, 64, 96)[0]
    top = I_LEVEL[quality - 1]
    with StreamEncoder(tmp_path / "t.zvc69", 96, 64, quality=quality, gop=8,
                       codecs=shared_codecs("cpu")) as enc:
        tries = {lv: enc._code_intra(frame, 0, lv, 0, top, Profiler())
                 for lv in (top - KEY_INTRA_DOWN, top)}
    lam = DETAIL_WEIGHT_I * LAMBDAS[top - 1] / 3.0
    assert KEY_TRIAL_LUMA
    cost = {lv: luma_cost(8 * len(t[0]), t[1], luma255(frame), lam) for lv, t in tries.items()}
    assert len({t[0] for t in tries.values()}) == 2  # two different codings were weighed
    recons, stats = encode(tmp_path / "k.zvc69", [frame], quality=quality, gop=8)
    chosen = min(cost, key=cost.get)
    assert stats[0].quality == chosen and stats[0].detail_quality in (0, top)
    assert np.array_equal(recons[0], tries[chosen][1])
    with StreamDecoder(tmp_path / "k.zvc69", codecs=shared_codecs("cpu")) as dec:
        got, st = dec.decode(0)
        assert np.array_equal(got, recons[0])
        assert (st.quality, st.detail_quality) == (stats[0].quality, stats[0].detail_quality)


def test_luma_cost_prices_luma_alone():
    """`luma_cost` (the keyframe trial's measure) charges an error along the chroma plane
    nothing and a grey error what `rd_cost` charges it: 3 x its luma SSE."""
    from codec.encoder import luma255, luma_cost, rd_cost

    rng = np.random.default_rng(3)
    src = rng.uniform(40, 200, (16, 24, 3))
    ys = luma255(src)
    chroma = np.array([0.587, -0.299, 0.0])  # no luma: 0.299 * 0.587 - 0.587 * 0.299 = 0
    assert luma_cost(100, src + 30 * chroma, ys, 0.01) == pytest.approx(100)
    assert rd_cost(100, src + 30 * chroma, src, 0.01) > 150
    grey = src + 5.0
    assert luma_cost(7, grey, ys, 0.01) == pytest.approx(rd_cost(7, grey, src, 0.01))
    assert luma_cost(7, grey, ys, 0.01) == pytest.approx(7 + 0.01 * 3 * 25 * 16 * 24)

