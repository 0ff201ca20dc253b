"""Grey frames (format 16): a luma-only detail layer and a grey reconstruction."""

from __future__ import annotations

import numpy as np
import pytest

import codec.container
from codec import detail as D
from codec.api import StreamDecoder, shared_codecs
from codec.container import ContainerReader, FrameHeader, FrameType
from codec.errors import ZVC69FormatError
from codec.grey import greyify, is_grey
from codec.metrics import psnr_yuv420, rgb_to_yuv420
from codec.profiler import Profiler
from tests.codec_helpers import damaged_section_failures, encode, pan_clip, texture


def grey_of(frame: np.ndarray) -> np.ndarray:
    """A colour frame's grey version (R = G = B = its rounded mean), as a grey source has."""
    g = np.round(frame.mean(-1)).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def test_greyify_values_and_grey_frames_unchanged():
    f = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]], np.uint8)
    g = greyify(f)
    assert is_grey(g) and not is_grey(f)
    assert g[0, :, 0].tolist() == [76, 150, 29, 124]  # (1225 R + 2404 G + 467 B + 2048) >> 12
    grey = grey_of(texture(16, 24))
    assert is_grey(grey) and np.array_equal(greyify(grey), grey)


def test_grey_section_codes_luma_alone_and_round_trips():
    frame = grey_of(texture(64, 96, seed=3))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :96]
    wave = 10 * np.sin(xx / 5.0) * np.cos(yy / 7.0)  # a luma error, and colour noise on it
    base = np.clip(frame + wave[..., None] + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
    grey = D.encode_detail(frame, base, 6, Profiler(), 16, grey=True)
    colour = D.encode_detail(frame, base, 6, Profiler(), 16)
    assert grey is not None and colour is not None and grey.section.grey
    data = grey.section.pack()
    assert len(data) < 0.8 * len(colour.section.pack())  # no chroma scales nor coefficients
    section = D.DetailSection.unpack(data, 16, grey=True)
    keep, q, kinds = D.decode_symbols(section, 64, 96, Profiler())
    assert np.array_equal(keep, grey.keep) and not q[:, 1:].any() and q[:, 0].any()
    recon, _ = D.reconstruct(section, keep, q, base, Profiler(), kinds)
    assert np.array_equal(recon, grey.recon)
    # made grey, the luma-only layer leaves less error than the colour base had
    assert np.mean((greyify(recon).astype(float) - frame) ** 2) < np.mean(
        (greyify(base).astype(float) - frame) ** 2)
    assert damaged_section_failures(data, 16, base, 90, grey=True) > 20


def test_grey_frames_in_a_stream(tmp_path):
    """A clip that starts grey and turns to colour: the grey frames are flagged, decode exactly
    to the encoder's grey reconstruction (chroma planes exact: 128), the colour ones are not."""
    clip = pan_clip(6, seed=4)
    frames = [grey_of(f) for f in clip[:4]] + clip[4:]
    recs, stats = encode(tmp_path / "g.zvc69", frames, quality=5, bframes=0)
    assert [st.grey for st in stats] == [True] * 4 + [False] * 2
    with ContainerReader(tmp_path / "g.zvc69") as r:
        assert [r.read_frame_header(i).grey for i in range(6)] == [True] * 4 + [False] * 2
    with StreamDecoder(tmp_path / "g.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recs[i]) and st.grey == stats[i].grey, i
            assert st.summary()["grey"] == stats[i].grey
            if i < 4:
                assert is_grey(frame)
                p = psnr_yuv420(frames[i], frame)
                assert p["u"] == p["v"] == np.inf and p["y"] > 30, p
                assert (rgb_to_yuv420(frame)[1] == 128).all()
            else:
                assert not is_grey(frame)


def test_format_15_streams_have_no_grey_frames(tmp_path, monkeypatch):
    frames = [grey_of(f) for f in pan_clip(3)]
    monkeypatch.setattr(codec.container, "VERSION", (15, 0))
    recs, stats = encode(tmp_path / "v15.zvc69", frames, quality=5, bframes=0)
    assert not any(st.grey for st in stats)
    assert psnr_yuv420(frames[0], recs[0])["u"] < 100  # colour errors stay: no grey flag


def test_grey_bit_is_reserved_before_format_16():
    head = FrameHeader(frame_type=FrameType.P, payload_size=10, crc=0, grey=True).pack(16)
    assert FrameHeader.unpack(head, 0, 16).grey
    with pytest.raises(ZVC69FormatError, match="reserved bits"):
        FrameHeader.unpack(head, 0, 15)
    with pytest.raises(ValueError, match="no grey frames"):
        FrameHeader(frame_type=FrameType.P, payload_size=10, crc=0, grey=True).pack(15)
