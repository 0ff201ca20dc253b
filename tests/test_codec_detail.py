"""The transform-coded detail layer (codec/detail.py): exact integer reconstruction, its
section format, and what it adds to real streams."""

from __future__ import annotations

import numpy as np
import pytest

from codec import alf, entropy
from codec import detail as D
from codec.api import StreamDecoder, shared_codecs
from codec.errors import ZVC69FormatError
from codec.profiler import Profiler
from tests.codec_helpers import damaged_section_failures, encode, pan_clip, texture


def _inverse_exact(q: np.ndarray, steps16: tuple[int, int], matrix: np.ndarray = D._D_INT
                   ) -> np.ndarray:
    """The same fixed-point arithmetic with Python integers (no float anywhere)."""
    d = [[int(v) for v in row] for row in matrix]
    t = [[int(v) for v in row] for row in D._T_INT]
    out = np.zeros(q.shape, np.int64)
    for n in range(q.shape[0]):
        axes = []
        for a in range(3):
            st = steps16[0] if a == 0 else steps16[1]
            c = [[int(q[n, a, u, v]) * st for v in range(8)] for u in range(8)]
            x = [[sum(d[u][i] * c[u][v] * d[v][j] for u in range(8) for v in range(8))
                  for j in range(8)] for i in range(8)]
            axes.append([[(x[i][j] + (1 << 13)) >> 14 for j in range(8)] for i in range(8)])
        for ch in range(3):
            for i in range(8):
                for j in range(8):
                    v = sum(t[k][ch] * axes[k][i][j] for k in range(3))
                    out[n, ch, i, j] = (v + (1 << 25)) >> 26
    return out


def _cells4(frame: np.ndarray, seed: int = 0) -> np.ndarray:
    """frame with its top-left 4x4 cells (half of them) set to random flat colours: content
    that four 4x4 transforms code with four DCs where one 8x8 transform needs many."""
    rng = np.random.default_rng(seed)
    h, w = frame.shape[:2]
    cells = np.repeat(np.repeat(rng.integers(0, 256, (h // 4, w // 4, 3)), 4, 0), 4, 1)
    out = frame.copy()
    out[: h // 2, : w // 2] = cells[: h // 2, : w // 2]
    return out


def test_inverse_transform_is_exact_integer_arithmetic():
    rng = np.random.default_rng(3)
    q = rng.integers(-60, 61, (3, 3, 8, 8)).astype(np.int32)
    q[0] = 0
    q[0, 0, 0, 0] = 7  # a lone DC
    q[2] = rng.integers(-800, 801, (3, 8, 8))  # |q * step16| near the 2^16 a valid stream holds
    steps = (37, 74)
    assert np.array_equal(D.inverse(q, steps), _inverse_exact(q, steps))
    # Format 11's 4x4 blocks: the 4-point DCT on each quadrant, mixed with 8x8 blocks.
    split = np.array([True, False, True])
    d4 = np.kron(np.eye(2, dtype=np.int64), D._C4_INT)
    assert np.allclose(d4 @ d4.T, 4096**2 * np.eye(8), rtol=1e-3)  # orthonormal x 4096
    mixed = D.inverse(q, steps, split)
    assert np.array_equal(mixed[split], _inverse_exact(q[split], steps, d4))
    assert np.array_equal(mixed[~split], _inverse_exact(q[~split], steps))


def test_forward_then_inverse_recovers_the_residual_within_half_a_step():
    rng = np.random.default_rng(0)
    base = texture(40, 56, seed=2)
    frame = np.clip(base.astype(np.int32) + rng.integers(-40, 41, base.shape), 0, 255).astype(
        np.uint8)
    coded = D.encode_detail(frame, base, 8, Profiler())
    assert coded is not None
    err = np.abs(coded.recon.astype(np.int32) - frame.astype(np.int32))
    base_err = np.abs(base.astype(np.int32) - frame.astype(np.int32))
    assert err.mean() < 0.5 * base_err.mean(), (err.mean(), base_err.mean())


@pytest.mark.parametrize("version", [5, 11])
def test_decoder_side_rebuilds_the_encoders_frame_and_bits(version):
    rng = np.random.default_rng(1)
    base = texture(72, 88, seed=4)  # not a multiple of 8: partial blocks at the edges
    frame = np.clip(base.astype(np.float64) + rng.normal(0, 9, base.shape), 0, 255).astype(
        np.uint8)
    frame[10:40, 20:60] = texture(30, 40, seed=5)  # new content to code
    prof = Profiler()
    frame = _cells4(frame)  # where four 4x4 transforms beat one 8x8
    coded = D.encode_detail(frame, base, 6, prof, version)
    assert coded is not None
    assert (coded.split is not None) == (version >= D.TRANSFORM4_FROM)
    if coded.split is not None:
        assert coded.split[coded.keep].any() and not coded.split[~coded.keep].any()
        assert coded.split.sum() < coded.keep.sum()  # both kinds chosen
    section = D.DetailSection.unpack(coded.section.pack(), version)
    assert section.bits() == coded.section.bits()
    keep, q, split = D.decode_symbols(section, 72, 88, prof)
    assert keep.shape == D.grid(72, 88) == (9, 11)
    if coded.split is not None:
        assert np.array_equal(split, coded.split[keep])
    frame2, bits = D.reconstruct(section, keep, q, base, prof, split)
    assert np.array_equal(frame2, coded.recon)
    assert np.allclose(bits, coded.bits_map)
    assert keep[2:5, 3:7].all()  # the new content is coded
    assert bits.sum() <= 8 * len(section.coef_bytes) + 64


def test_nothing_to_code_sends_nothing():
    base = texture(32, 48)
    assert D.encode_detail(base, base, 8, Profiler()) is None
    tiny = base.copy()
    tiny[5, 5] ^= 1  # one LSB: never worth a section
    assert D.encode_detail(tiny, base, 8, Profiler()) is None


def test_step_follows_the_level_lambda():
    steps = [D.step_for_level(q) for q in range(1, 9)]
    assert all(a > b for a, b in zip(steps, steps[1:], strict=False))
    assert 5 < steps[-1] < 20 and 60 < steps[0] < 200


@pytest.mark.parametrize("cut", [0, 3, 10, 26, -1])
def test_truncated_section_is_a_format_error(cut):
    base = texture(32, 48)
    frame = _cells4(texture(32, 48, seed=7))  # 4x4 blocks in format 11
    coded = D.encode_detail(frame, base, 5, Profiler(), 11)
    assert coded is not None and coded.split is not None
    data = coded.section.pack()
    with pytest.raises(ZVC69FormatError):
        section = D.DetailSection.unpack(data[:cut], 11)
        D.decode_symbols(section, 32, 48, Profiler())


def test_bad_section_fields_are_named():
    """Format 3 sections (explicit steps, u32 map length)."""
    good = D.DetailSection((32, 64), np.zeros((3, D.NBANDS), np.uint8), b"\x00", b"").pack()
    zero_step = bytearray(good)
    zero_step[0:2] = b"\x00\x00"
    with pytest.raises(ZVC69FormatError, match="zero quantiser step"):
        D.DetailSection.unpack(bytes(zero_step), 3)
    bad_scale = bytearray(good)
    bad_scale[4] = 200
    with pytest.raises(ZVC69FormatError, match="scale index"):
        D.DetailSection.unpack(bytes(bad_scale), 3)
    long_map = bytearray(good)
    long_map[4 + 3 * D.NBANDS : 8 + 3 * D.NBANDS] = (1000).to_bytes(4, "little")
    with pytest.raises(ZVC69FormatError, match="block-flag map"):
        D.DetailSection.unpack(bytes(long_map), 3)


def test_format_4_section_is_compact_and_names_bad_fields():
    scales = np.arange(3 * D.NBANDS, dtype=np.uint8).reshape(3, D.NBANDS) * 3
    sec = D.DetailSection(D.STEPS16[4], scales, b"\x01\x02", b"abcd", 5)
    data = sec.pack()
    assert len(data) == 1 + 14 + 1 + 2 + 4  # level, 18 six-bit scales, varint, map, stream
    back = D.DetailSection.unpack(data)
    assert back.level == 5 and back.steps16 == D.STEPS16[4] and back.contexts
    assert np.array_equal(back.scales, scales)
    assert (back.flags_bytes, back.coef_bytes) == (b"\x01\x02", b"abcd")
    with pytest.raises(ZVC69FormatError, match="level byte 9"):
        D.DetailSection.unpack(bytes([9]) + data[1:])
    with pytest.raises(ZVC69FormatError, match="block-flag map"):
        D.DetailSection.unpack(data[:15] + bytes([100]) + data[16:])
    with pytest.raises(ZVC69FormatError, match="varint"):
        D.DetailSection.unpack(data[:15] + b"\xff" * 6)


def test_context_coding_round_trips_and_saves_bits():
    """Coefficients with context-dependent tables decode exactly, diagonal by diagonal, and
    on a textured residual cost fewer bits than the same scales without contexts."""
    rng = np.random.default_rng(3)
    # block energies that vary from block to block, decaying with frequency: as real residuals
    energy = rng.gamma(0.7, 2.0, (300, 1, 1, 1)) * np.exp(-0.35 * np.add.outer(
        np.arange(8), np.arange(8)))[None, None]
    q = np.round(rng.laplace(0, 1, (300, 3, 8, 8)) * energy * [[[[1.0]], [[0.5]], [[0.4]]]])
    q = q.astype(np.int32)
    q[5, 0, 0, 0] = 3000  # an escape
    q[6, 0, 0, 0] = -(2**31) + 1  # the extreme of int32 (a damaged stream can decode one)
    q[6, 0, 0, 1] = 2**31 - 1
    scales = D._fit_scales(q, D._offsets(q, True), D.coef_tables())
    data = D.encode_coefficients(q, scales)
    assert np.array_equal(D.decode_coefficients(data, len(q), scales), q)
    with pytest.raises(ZVC69FormatError):
        D.decode_coefficients(data[:-4], len(q), scales)
    plain_scales = D._fit_scales(q, D._offsets(q, False), D.coef_tables())
    plain = entropy.encode_gaussian(q, D.table_indexes(q, plain_scales, False), D.coef_tables())
    assert len(data) < 0.97 * len(plain), (len(data), len(plain))


def test_shipped_tables_are_what_the_builder_makes():
    shipped = D.coef_tables()
    built = D.build_tables()
    assert np.array_equal(shipped.pmf, built.pmf)
    assert np.array_equal(shipped.length, built.length)
    assert np.array_equal(shipped.offset, built.offset)
    for i in (0, 20, 63):
        assert entropy.verify_constriction_model(shipped, i)


def test_top_quality_streams_pass_the_learned_ceiling(tmp_path):
    """Q8 on a detailed pan: the learned coders alone stay near 31 dB here; with the detail
    layer I- and P-frames carry detail sections and the stream decodes exactly."""
    frames = pan_clip(4, 64, 96, step=3)
    recons, stats = encode(tmp_path / "d.zvc69", frames, quality=8, bframes=0)
    assert all(s.bits.get("detail", 0) > 0 for s in stats), [s.bits for s in stats]
    assert min(s.psnr for s in stats) > 36, [s.psnr for s in stats]
    low, low_stats = encode(tmp_path / "l.zvc69", frames, quality=2)
    assert sum(s.size_bytes for s in low_stats) < 0.5 * sum(s.size_bytes for s in stats)
    with StreamDecoder(tmp_path / "d.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i]), f"frame {i} differs"
            assert st.bits.get("detail", 0) == stats[i].bits["detail"]
            assert st.bits_per_block is not None and st.bits_per_block.sum() > 0
            assert st.residual_energy is not None
            if st.frame_type == "P":  # skip = no residual at all, the detail layer included
                assert np.array_equal(st.skip, stats[i].skip)
                assert not st.skip.all()
        assert all(np.array_equal(a.skip, b.skip) for a, b in zip(dec.scan()[1:], stats[1:],
                                                                   strict=True))


def _split_sections(path) -> list[bool]:
    """For every frame of a stream with a detail section: does it code 4x4 blocks?"""
    from codec.container import ContainerReader, FrameType
    from codec.inter import InterPayload
    from codec.intra import IntraPayload

    out = []
    with ContainerReader(path) as r:
        major = r.header.version_major
        for n in range(len(r)):
            fh, data = r.read_frame(n)
            data = alf.strip(data, fh.filtered)
            if fh.frame_type == FrameType.I:
                detail = IntraPayload.unpack(data, r.header.height, r.header.width).detail_bytes
            else:
                detail = InterPayload.unpack(data, major, fh.frame_type == FrameType.B).detail_bytes
            if detail:
                out.append(D.DetailSection.unpack(detail, major).scales4 is not None)
    return out


def test_format_11_streams_code_4x4_blocks_and_format_10_streams_still_decode(
        tmp_path, monkeypatch):
    """A pan over flat 4x4 cells: format 11 codes some blocks as 4x4 transforms, in I- and
    P-frames, and decodes exactly; the same clip written as format 10 has none and decodes
    exactly with today's reader."""
    import codec.container

    frames = [_cells4(f, seed=1) for f in pan_clip(4, 64, 96, step=2)]
    frames = [np.roll(frames[0], 2 * i, axis=1) for i in range(4)]
    monkeypatch.setattr(codec.container, "VERSION", (10, 0))
    old, _ = encode(tmp_path / "v10.zvc69", frames, quality=6, bframes=0)
    monkeypatch.undo()
    new, stats = encode(tmp_path / "v11.zvc69", frames, quality=6, bframes=0)
    assert not any(_split_sections(tmp_path / "v10.zvc69"))
    assert any(_split_sections(tmp_path / "v11.zvc69"))
    for name, want in (("v10", old), ("v11", new)):
        with StreamDecoder(tmp_path / f"{name}.zvc69", codecs=shared_codecs("cpu")) as dec:
            for i, (frame, st) in enumerate(dec.frames()):
                assert np.array_equal(frame, want[i]), (name, i)
                if name == "v11":  # the analyzer's map of transform sizes, as encoded
                    assert np.array_equal(st.detail_blocks, stats[i].detail_blocks), i
            if name == "v11":  # and from the side information alone
                scanned = [st.detail_blocks for st in dec.scan()]
                assert all(np.array_equal(a, b.detail_blocks) for a, b in zip(scanned, stats,
                                                                              strict=True))
                assert any((a == 2).any() for a in scanned) and any((a == 1).any()
                                                                    for a in scanned)
                assert stats[0].summary()["detail_4x4"] == int((scanned[0] == 2).sum())


@pytest.mark.parametrize("version", [5, 11])
def test_damaged_sections_fail_with_format_errors_only(version):
    """Flipped bytes and truncations anywhere in a section: decoding either succeeds (a valid
    but different section) or raises ZVC69FormatError, never anything else."""
    base, frame = texture(64, 96), _cells4(texture(64, 96, seed=3))  # 4x4 blocks in format 11
    coded = D.encode_detail(frame, base, 6, Profiler(), version)
    assert coded is not None and (coded.split is not None) == (version == 11)
    assert damaged_section_failures(coded.section.pack(), version, base, 150) > 30


def test_format_5_level_byte_selects_the_step_table():
    scales = np.zeros((3, D.NBANDS), np.uint8)
    for coarse, table in ((False, D.STEPS16), (True, D.STEPS16_V4)):
        sec = D.DetailSection(table[2], scales, b"\x01", b"", 3, coarse)
        data = sec.pack()
        assert data[0] == 3 + 16 * coarse
        back = D.DetailSection.unpack(data, 5)
        assert (back.level, back.coarse, back.steps16) == (3, coarse, table[2])
    assert D.STEPS16[2][0] < D.STEPS16_V4[2][0]
    with pytest.raises(ZVC69FormatError, match="level byte 19"):
        D.DetailSection.unpack(bytes([19]) + data[1:], 4)  # no table bit before format 5
    with pytest.raises(ZVC69FormatError, match="level byte 51"):
        D.DetailSection.unpack(bytes([51]) + data[1:], 5)
