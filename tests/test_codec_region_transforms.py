"""Format 15: a detail section's 16x16 and 32x32 regions may be coded as one transform."""

from __future__ import annotations

import numpy as np
import pytest

from codec import detail as D
from codec import regions as R
from codec.api import StreamDecoder, shared_codecs
from codec.deblock import deblock
from codec.errors import ZVC69FormatError
from codec.profiler import Profiler
from tests.codec_helpers import damaged_section_failures, encode, texture


def _smooth_error(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(frame, base): base off the frame by a smooth low-amplitude wave, the residual a 16x16
    transform codes with a few low frequencies where 8x8 blocks each need their own."""
    frame = texture(h, w, seed=4)
    yy, xx = np.mgrid[:h, :w]
    wave = 4 * np.sin(xx / 7.0) + 4 * np.cos(yy / 9.0)
    return frame, np.clip(frame + wave[..., None], 0, 255).astype(np.uint8)


def _inverse_region_exact(q: np.ndarray, steps16: tuple[int, int], matrix: np.ndarray
                          ) -> np.ndarray:
    """One region's n * n blocks (n * n, 3, 8, 8) through the (8n)x(8n) fixed-point inverse,
    with Python integers only."""
    size = len(matrix)
    n = size // 8
    d = [[int(v) for v in row] for row in matrix]
    t = [[int(v) for v in row] for row in D._T_INT]
    out = np.zeros(q.shape, np.int64)
    axes = []
    for a in range(3):
        st = steps16[0] if a == 0 else steps16[1]
        c = [[int(q[n * (u // 8) + v // 8, a, u % 8, v % 8]) * st for v in range(size)]
             for u in range(size)]
        cd = [[sum(c[u][v] * d[v][j] for v in range(size)) for j in range(size)]
              for u in range(size)]  # (C D)[u][j]; X = D^T (C D)
        x = [[sum(d[u][i] * cd[u][j] for u in range(size)) for j in range(size)]
             for i in range(size)]
        axes.append([[(x[i][j] + (1 << 13)) >> 14 for j in range(size)] for i in range(size)])
    for ch in range(3):
        for i in range(size):
            for j in range(size):
                v = sum(t[k][ch] * axes[k][i][j] for k in range(3))
                out[n * (i // 8) + j // 8, ch, i % 8, j % 8] = (v + (1 << 25)) >> 26
    return out


def test_region_inverses_are_exact_integer_arithmetic_beside_other_kinds():
    for m in (R.D16_INT, R.D32_INT):  # orthonormal x 4096 (rounded)
        assert np.abs(m @ m.T / 4096**2 - np.eye(len(m))).max() < 1e-3
    rng = np.random.default_rng(5)
    q = rng.integers(-40, 41, (23, 3, 8, 8)).astype(np.int32)
    q[3:7, :, 0, 0] = rng.integers(-300, 301, (4, 3))  # strong DCs of the regions
    q[7, :, 0, 0] = rng.integers(-900, 901, 3)
    # blocks: 8x8, 4x4, 8x8, one 16x16 region's four blocks, one 32x32 region's sixteen
    kinds = np.array([0, 1, 0, 2, 3, 4, 5, *range(6, 22)], np.uint8)
    steps = (37, 74)
    out = D.inverse(q, steps, kinds)
    assert np.array_equal(out[3:7], _inverse_region_exact(q[3:7], steps, R.D16_INT))
    assert np.array_equal(out[7:], _inverse_region_exact(q[7:], steps, R.D32_INT))
    assert np.array_equal(out[:3], D.inverse(q[:3], steps, kinds[:3]))


@pytest.mark.parametrize("level", [3, 6])
def test_smooth_residual_takes_region_transforms_and_decodes_exactly(level):
    frame, base = _smooth_error()
    h, w = frame.shape[:2]
    costs = {}
    for version in (11, 15):
        coded = D.encode_detail(frame, base, level, Profiler(), version)
        assert coded is not None
        tm = coded.transforms()
        assert ((tm >= 3).any()) == (version == 15)
        if version == 15:  # whole regions only
            assert (tm == 3).sum() % 4 == 0 and (tm == 4).sum() % 16 == 0
            assert (coded.section.scales16 is None) == (not (tm == 3).any())
            assert (coded.section.scales32 is None) == (not (tm == 4).any())
        section = D.DetailSection.unpack(coded.section.pack(), version)
        assert section.bits() == coded.section.bits()
        keep, q, kinds = D.decode_symbols(section, h, w, Profiler())
        frame2, bits = D.reconstruct(section, keep, q, base, Profiler(), kinds)
        assert np.array_equal(frame2, coded.recon)
        assert np.allclose(bits, coded.bits_map)
        assert np.array_equal(D.transform_map(keep, D.split_grid(keep, kinds)), tm)
        sse = float(((coded.recon.astype(np.float64) - frame) ** 2).sum())
        costs[version] = section.bits() + D._bits_per_sse(level) * sse
    assert costs[15] < (0.9 if level == 6 else 1.0) * costs[11], costs  # the encoder's measure


@pytest.mark.parametrize("level", [3, 6])
def test_region_bits_are_format_15_only_and_damage_is_a_format_error(level):
    frame, base = _smooth_error()  # level 3: 16x16 regions, level 6: 32x32 ones
    coded = D.encode_detail(frame, base, level, Profiler(), 15)
    assert coded is not None
    assert (coded.section.scales16 if level == 3 else coded.section.scales32) is not None
    data = coded.section.pack()
    assert data[0] & (D.WIDE | D.WIDE32)
    with pytest.raises(ZVC69FormatError, match="not 1..8"):
        D.DetailSection.unpack(data, 14)
    assert damaged_section_failures(data, 15, base, 120) > 20


def test_deblocking_leaves_the_inside_of_a_region_alone():
    f = np.full((32, 48, 3), 100, np.uint8)
    f[:, 8:16] = 104  # small steps at x = 8, 16 (inside a 32x32 region) and x = 32 (its edge)
    f[:, 32:40] = 108
    keep = np.ones((4, 6), bool)
    plain = deblock(f, keep, 3)
    assert not np.array_equal(plain[:, 6:10], f[:, 6:10])  # 8x8 blocks: the edge is filtered
    kinds = np.zeros((4, 6), np.uint8)
    kinds[:, :4] = np.arange(6, 22).reshape(4, 4)
    kinds[:2, 4:] = ((2, 3), (4, 5))  # and a 16x16 region right of it
    wide = deblock(f, keep, 3, kinds)
    assert np.array_equal(wide[:, 5:19], f[:, 5:19])  # inside the 32x32 region: untouched
    assert np.array_equal(wide[:14, 37:43], f[:14, 37:43])  # inside the 16x16 one too
    assert np.array_equal(wide[:, 29:35], plain[:, 29:35])  # the region's edge as before


def test_streams_code_16x16_regions_and_the_analyzer_sees_them(tmp_path, monkeypatch):
    """A static textured scene whose brightness drifts smoothly: the P-frames' residual is a
    low-amplitude wave that format 15 codes with region transforms, decoded exactly; format 14
    writes none."""
    import codec.container

    base = texture(64, 96, seed=3).astype(np.float64)
    yy, xx = np.mgrid[:64, :96]
    frames = [np.clip(base + (1.5 * i * np.sin(xx / 8.0 + i) * np.cos(yy / 10.0))[..., None],
                      0, 255).astype(np.uint8) for i in range(4)]
    monkeypatch.setattr(codec.container, "VERSION", (14, 0))
    encode(tmp_path / "v14.zvc69", frames, quality=6, bframes=0)
    monkeypatch.undo()
    recs, stats = encode(tmp_path / "v15.zvc69", frames, quality=6, bframes=0)
    with StreamDecoder(tmp_path / "v14.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert not any(st.detail_blocks is not None and (st.detail_blocks >= 3).any()
                       for st in dec.scan())
    with StreamDecoder(tmp_path / "v15.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert dec.header.version_major == codec.container.VERSION[0]
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recs[i]), i
            if st.detail_blocks is not None:
                assert np.array_equal(st.detail_blocks, stats[i].detail_blocks), i
        scanned = dec.scan()
    wide = [(st.summary()["detail_16x16"] or 0) + (st.summary()["detail_32x32"] or 0)
            for st in scanned]
    assert sum(wide) > 0, wide
    data = bytearray((tmp_path / "v15.zvc69").read_bytes())
    data[6] = 14  # the same frames in a file that says format 14: the region bits are refused
    (tmp_path / "forged.zvc69").write_bytes(bytes(data))
    first = next(i for i, n in enumerate(wide) if n)
    with StreamDecoder(tmp_path / "forged.zvc69", codecs=shared_codecs("cpu")) as dec:
        with pytest.raises(ZVC69FormatError, match=rf"frame {first}: detail section level "
                           "byte .* from format 15"):
            dec.scan()
    for key in ("detail_16x16", "detail_32x32"):
        assert [st.summary()[key] for st in stats] == [st.summary()[key] for st in scanned]
