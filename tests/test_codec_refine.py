"""I-frame refinement: the residual coder's pass over the intra reconstruction (refine.py)."""

from __future__ import annotations

import numpy as np
import pytest

from codec.api import StreamDecoder, shared_codecs
from codec.errors import ZVC69FormatError
from codec.intra import HAS_REFINEMENT, IntraPayload, RefineSection
from codec.metrics import psnr_rgb
from codec.profiler import Profiler
from codec.refine import REFINING_PLAN as INTRA_PLAN
from tests.codec_helpers import encode, texture


@pytest.fixture(autouse=True)
def _refining_plan(monkeypatch):
    """The encoder no longer refines stills (refine.py); these tests use the plan that did."""
    import codec.encoder

    monkeypatch.setattr(codec.encoder, "INTRA_PLAN", INTRA_PLAN)


def _noisy(h: int, w: int, seed: int) -> np.ndarray:
    """Texture with fine grain: detail the intra transforms lose and the refinement codes."""
    rng = np.random.default_rng(seed)
    img = texture(h, w, seed).astype(np.float64) + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_payload_round_trips_with_and_without_refinement():
    plain = IntraPayload(5, b"zz", b"yyy")
    assert IntraPayload.unpack(plain.pack()) == plain
    assert plain.pack()[0] == 5  # the 1.0 layout, unchanged
    refined = IntraPayload(3, b"z", b"yy", RefineSection(6, b"sk", b"rz", b"ryyy"))
    data = refined.pack()
    assert data[0] == 3 | HAS_REFINEMENT
    assert IntraPayload.unpack(data) == refined
    bits = refined.bits()
    assert bits["skip"] == 16 and bits["residual"] == 32 and bits["latent"] == 16


@pytest.mark.parametrize("cut", [6, 9, 12, 14, 17])
def test_truncated_refinement_is_a_format_error(cut):
    data = IntraPayload(3, b"z", b"yy", RefineSection(6, b"sk", b"rz", b"ryyy")).pack()
    with pytest.raises(ZVC69FormatError):
        IntraPayload.unpack(data[:cut])


def test_bad_refinement_level_is_a_format_error():
    data = bytearray(IntraPayload(3, b"z", b"yy", RefineSection(6, b"", b"", b"")).pack())
    data[5 + 1 + 4 + 2] = 9  # the refinement's level byte
    with pytest.raises(ZVC69FormatError, match="refinement level 9"):
        IntraPayload.unpack(bytes(data))


def test_refined_still_decodes_exactly_and_beats_its_intra_level(tmp_path):
    img = _noisy(96, 128, seed=5)
    q = 8
    level, refine_level = INTRA_PLAN[q - 1]
    assert refine_level > 0
    recons, stats = encode(tmp_path / "r.zvc69", [img], quality=q, gop=1)
    st = stats[0]
    assert st.quality == level and st.bits.get("residual", 0) > 0  # the pass was kept
    assert st.refine_quality == refine_level
    assert st.skip is not None and st.residual_energy is not None
    with StreamDecoder(tmp_path / "r.zvc69", codecs=shared_codecs("cpu")) as dec:
        frame, dst = dec.decode(0)
        side = dec.scan()[0]
    assert np.array_equal(frame, recons[0])
    assert dst.bits == st.bits and np.array_equal(side.skip, st.skip)
    assert dst.refine_quality == side.refine_quality == refine_level
    np.testing.assert_allclose(dst.residual_energy, st.residual_energy, rtol=1e-5)
    _, intra_only, _ = shared_codecs("cpu").intra.encode(img, level, Profiler())
    assert psnr_rgb(img, recons[0]) > psnr_rgb(img, intra_only) + 0.3


def test_all_intra_stream_is_refined_and_seeks_exactly(tmp_path):
    frames = [_noisy(64, 96, seed=s) for s in (2, 3, 4)]
    recons, stats = encode(tmp_path / "v.zvc69", frames, quality=7, gop=1)
    assert all(s.frame_type == "I" and s.bits.get("residual", 0) > 0 for s in stats)
    with StreamDecoder(tmp_path / "v.zvc69", codecs=shared_codecs("cpu")) as dec:
        for n in (2, 0, 1):
            assert np.array_equal(dec.decode(n)[0], recons[n])


def test_gop_keyframes_are_not_refined(tmp_path):
    """Refining a GOP's keyframe bought chroma, not luma (A/B in encoder.py): not done."""
    from codec.encoder import I_LEVEL, KEY_INTRA_DOWN

    _, stats = encode(tmp_path / "g.zvc69", [_noisy(64, 96, seed=2)] * 2, quality=6, gop=8)
    assert stats[0].quality == I_LEVEL[5] - KEY_INTRA_DOWN and "residual" not in stats[0].bits
    assert stats[0].detail_quality == I_LEVEL[5]


def test_flat_source_falls_back_to_intra_at_the_quality_itself(tmp_path):
    """A refinement that does not pay is left out, and the I-frame is then coded at the
    quality's own intra level, so the rate still rises with the quality."""
    img = np.full((64, 64, 3), 128, np.uint8)
    for q, (_, refine_level) in enumerate(INTRA_PLAN, 1):
        if refine_level:
            _, stats = encode(tmp_path / f"f{q}.zvc69", [img], quality=q, gop=1)
            assert "residual" not in stats[0].bits and stats[0].quality == q

