"""Format 17: a detail section's 64x64 regions may be coded as one transform."""

from __future__ import annotations

import numpy as np
import pytest

import codec.container
from codec import detail as D
from codec import regions as R
from codec.api import StreamDecoder, shared_codecs
from codec.profiler import Profiler
from tests.codec_helpers import damaged_section_failures, encode, texture
from tests.test_codec_region_transforms import _inverse_region_exact


def _smooth_error(h: int = 128, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(frame, base): base off the frame by a slow wave, a residual of a few frequencies of a
    64x64 transform."""
    frame = texture(h, w, seed=4)
    yy, xx = np.mgrid[:h, :w]
    wave = 4 * np.sin(xx / 15.0) + 4 * np.cos(yy / 19.0)
    return frame, np.clip(frame + wave[..., None], 0, 255).astype(np.uint8)


def test_64_point_inverse_is_exact_integer_arithmetic():
    m = R.D64_INT
    assert m[0].tolist() == [512] * 64 and np.abs(m @ m.T / 4096**2 - np.eye(64)).max() < 1e-3
    rng = np.random.default_rng(6)
    q = rng.integers(-20, 21, (65, 3, 8, 8)).astype(np.int32)
    q[1, :, 0, 0] = rng.integers(-3000, 3001, 3)  # the region's strong DC
    kinds = np.array([0, *range(R.KIND_64, R.KIND_64 + 64)], np.uint8)
    steps = (37, 74)
    out = D.inverse(q, steps, kinds)
    assert np.array_equal(out[1:], _inverse_region_exact(q[1:], steps, R.D64_INT))
    assert np.array_equal(out[:1], D.inverse(q[:1], steps, kinds[:1]))


@pytest.mark.parametrize("level", [3, 6])
def test_smooth_residual_takes_64x64_regions_and_decodes_exactly(level):
    frame, base = _smooth_error()
    costs = {}
    for version in (16, 17):
        coded = D.encode_detail(frame, base, level, Profiler(), version)
        assert coded is not None
        tm = coded.transforms()
        assert (tm == 5).any() == (version == 17) and (tm == 5).sum() % 64 == 0
        data = coded.section.pack()
        if version == 17:  # level - 1 in bits 0-2, bit 3: 64x64 regions
            assert data[0] & 7 == level - 1 and data[0] & R.WIDE64
        section = D.DetailSection.unpack(data, version)
        assert section.bits() == coded.section.bits()
        keep, q, kinds = D.decode_symbols(section, 128, 128, Profiler())
        recon, bits = D.reconstruct(section, keep, q, base, Profiler(), kinds)
        assert np.array_equal(recon, coded.recon) and np.allclose(bits, coded.bits_map)
        assert np.array_equal(D.transform_map(keep, D.split_grid(keep, kinds)), tm)
        sse = float(((coded.recon.astype(np.float64) - frame) ** 2).sum())
        costs[version] = section.bits() + D._bits_per_sse(level) * sse
    assert costs[17] < costs[16], costs  # the encoder's measure
    assert damaged_section_failures(data, 17, base, 90) > 20


def test_format_17_level_byte_without_regions():
    frame = texture(32, 48, seed=2)
    base = np.clip(frame.astype(int) + np.random.default_rng(1).integers(-9, 10, frame.shape),
                   0, 255).astype(np.uint8)
    coded = D.encode_detail(frame, base, 8, Profiler(), 17)
    assert coded is not None and coded.section.scales64 is None
    data = coded.section.pack()
    assert data[0] & 0x0F == 7  # level 8 as 7, no 64x64 flag
    assert D.DetailSection.unpack(data, 17).level == 8


def test_streams_code_64x64_regions_and_the_analyzer_sees_them(tmp_path, monkeypatch):
    base = texture(128, 192, seed=3).astype(np.float64)
    yy, xx = np.mgrid[:128, :192]
    frames = [np.clip(base + (1.5 * i * np.sin(xx / 16.0 + i) * np.cos(yy / 20.0))[..., None],
                      0, 255).astype(np.uint8) for i in range(3)]
    monkeypatch.setattr(codec.container, "VERSION", (16, 0))
    _, old = encode(tmp_path / "v16.zvc69", frames, quality=6, bframes=0)
    monkeypatch.undo()
    recs, stats = encode(tmp_path / "v17.zvc69", frames, quality=6, bframes=0)
    assert not any(s.detail_blocks is not None and (s.detail_blocks == 5).any() for s in old)
    with StreamDecoder(tmp_path / "v17.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recs[i]), i
            if st.detail_blocks is not None:
                assert np.array_equal(st.detail_blocks, stats[i].detail_blocks), i
        wide = [st.summary()["detail_64x64"] or 0 for st in dec.scan()]
    assert sum(wide) > 0, wide
