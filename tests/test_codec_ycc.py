"""Format 18: the detail layer's colour axes along Y, Cb and Cr (file header flag YCC_AXES)."""

from __future__ import annotations

import numpy as np
import pytest

import codec.container
from codec import detail as D
from codec.api import StreamDecoder, shared_codecs
from codec.container import YCC_AXES, ContainerReader
from codec.grey import WEIGHTS
from codec.metrics import rgb_to_yuv420
from codec.profiler import Profiler
from tests.codec_helpers import encode, pan_clip, texture


def test_ycc_axes_change_luma_or_chroma_alone():
    """A luma coefficient adds grey (R = G = B exactly), a chroma one leaves luma as it was
    (within the rounding of the integer rows), and the Gram matrix prices RGB SSE."""
    rng = np.random.default_rng(3)
    q = np.zeros((6, 3, 8, 8), np.int32)
    q[:, 0] = rng.integers(-30, 31, (6, 8, 8))
    grey = D.inverse(q, (554, 1107), None, ycc=True)
    assert grey.any() and (grey[:, 0] == grey[:, 1]).all() and (grey[:, 1] == grey[:, 2]).all()
    old = D.inverse(q, (554, 1107), None, ycc=False)
    assert not (old[:, 0] == old[:, 2]).all()  # format 17's luma axis tints
    q = np.zeros((6, 3, 8, 8), np.int32)
    q[:, 1:] = rng.integers(-30, 31, (6, 2, 8, 8))
    colour = D.inverse(q, (554, 1107), None, ycc=True).astype(np.float64)
    luma = np.tensordot(np.array(WEIGHTS) / 4096, colour, axes=(0, 1))  # BT.601 luma
    assert np.abs(colour).max() > 20 and np.abs(luma).max() <= 1.0
    c = rng.normal(0, 10, (5, 3, 8, 8))
    rgb = np.tensordot(D.AXES_YCC.rows.T / 4096, c, axes=(1, 1))  # the decoder's rows, in float
    assert np.allclose(D._sse(c, D.AXES_YCC.gram), (rgb**2).sum((0, 2, 3)))


@pytest.mark.parametrize("level", [3, 6])
def test_luma_error_is_corrected_without_tinting_chroma(level):
    """A near-grey frame whose base is off by a grey wave: format 18 corrects luma and keeps
    the chroma planes as they were; format 17's luma corrections tinted them."""
    rng = np.random.default_rng(level)
    g = texture(64, 96, seed=7).mean(-1, keepdims=True)
    frame = np.clip(g + rng.normal(0, 0.6, (64, 96, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:64, :96]
    wave = 9 * np.sin(xx / 6.0) * np.cos(yy / 9.0)
    base = np.clip(frame + wave[..., None], 0, 255).astype(np.uint8)
    src = rgb_to_yuv420(frame)
    err, bits = {}, {}
    for version in (17, 18):
        coded = D.encode_detail(frame, base, level, Profiler(), version)
        assert coded is not None and coded.section.ycc == (version == 18)
        bits[version] = coded.section.bits()
        planes = rgb_to_yuv420(coded.recon)
        err[version] = [float(np.mean((p.astype(float) - s) ** 2))
                        for p, s in zip(planes, src, strict=True)]
        section = D.DetailSection.unpack(coded.section.pack(), version, ycc=version == 18)
        keep, q, kinds = D.decode_symbols(section, 64, 96, Profiler())
        recon, _ = D.reconstruct(section, keep, q, base, Profiler(), kinds)
        assert np.array_equal(recon, coded.recon)
    chroma = {v: err[v][1] + err[v][2] for v in err}
    assert chroma[18] < 0.5 * chroma[17], err
    assert err[18][0] < err[17][0] and bits[18] <= bits[17], (err, bits)


def test_streams_carry_the_flag_and_old_ones_still_decode(tmp_path, monkeypatch):
    frames = pan_clip(3, seed=2)
    monkeypatch.setattr(codec.container, "VERSION", (17, 0))
    old, _ = encode(tmp_path / "v17.zvc69", frames, quality=4, bframes=0)
    monkeypatch.undo()
    new, _ = encode(tmp_path / "v18.zvc69", frames, quality=4, bframes=0)
    for name, recons, major, flag in (("v17", old, 17, 0), ("v18", new, 18, YCC_AXES)):
        with ContainerReader(tmp_path / f"{name}.zvc69") as r:
            assert r.header.version_major == major and r.header.flags & YCC_AXES == flag
        with StreamDecoder(tmp_path / f"{name}.zvc69", codecs=shared_codecs("cpu")) as dec:
            for i, (frame, _) in enumerate(dec.frames()):
                assert np.array_equal(frame, recons[i]), (name, i)
