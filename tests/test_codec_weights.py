"""Weighted prediction (codec/weights.py): fades are predicted, not re-coded."""

from __future__ import annotations

import numpy as np
import pytest

from codec import container
from codec import weights as W
from codec.api import StreamDecoder, shared_codecs
from codec.errors import ZVC69FormatError
from codec.inter import InterPayload
from tests.codec_helpers import encode, pan_clip, static_clip


def test_apply_is_integer_arithmetic_and_clips():
    ref = np.array([[[0, 100, 255], [3, 64, 200]]], np.uint8)
    out = W.apply(ref, W.Weights((32, 64, 96), (1, -5, 10)))
    # (x * w + 32) >> 6, plus the offset, clipped
    assert out.tolist() == [[[1, 95, 255], [3, 59, 255]]]


def test_estimate_finds_a_fade_and_ignores_a_still():
    frame = static_clip(1, 64, 96)[0]
    darker = np.round(frame * 0.8).astype(np.uint8)
    wts = W.estimate(darker, frame)
    assert wts is not None and all(48 <= w <= 54 for w in wts.w), wts
    err = np.abs(W.apply(frame, wts).astype(int) - darker).mean()
    assert err < 0.25 * np.abs(frame.astype(int) - darker).mean()
    assert W.estimate(frame, frame) is None


def test_weights_section_round_trips_and_rejects_zero():
    wts = W.Weights((70, 64, 1), (-128, 0, 127))
    assert W.Weights.unpack(wts.pack()) == wts
    with pytest.raises(ZVC69FormatError, match="weight of zero"):
        W.Weights.unpack(bytes([0, 64, 64, 0, 0, 0]))
    p = InterPayload(3, 16, 4, b"m", b"\x01", b"", b"", False, b"", wts)
    q = InterPayload.unpack(p.pack())
    assert q.weights == wts and q.mv_bytes == b"m" and q.bits()["header"] == 8 * (2 + 3 + 6)
    old = InterPayload.unpack(p.pack_v3(), 3)
    assert old.weights == wts and old.mv_bytes == b"m" and old.bits()["header"] == 8 * (16 + 6)


def test_fade_costs_less_with_weights_and_decodes_exactly(tmp_path, monkeypatch):
    """A pan fading to 60 %: with weighted prediction the P-frames carry weights, cost less,
    and the decoder reproduces the encoder's frames."""
    import codec.encoder

    frames = [np.round(f * (1.0 - 0.08 * i)).astype(np.uint8)
              for i, f in enumerate(pan_clip(5, 64, 96))]
    recons, stats = encode(tmp_path / "w.zvc69", frames, quality=4)
    with StreamDecoder(tmp_path / "w.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, _) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i]), f"frame {i} differs"
        payloads = [InterPayload.unpack(dec.reader.read_frame(n)[1]) for n in range(1, 5)]
        assert dec.header.version_major == container.VERSION[0]
    assert all(p.weights is not None for p in payloads)
    monkeypatch.setattr(codec.encoder, "estimate_weights", lambda frame, ref: None)
    _, plain = encode(tmp_path / "p.zvc69", frames, quality=4)
    with_w = sum(s.size_bytes for s in stats[1:])
    without = sum(s.size_bytes for s in plain[1:])
    assert with_w < 0.8 * without, (with_w, without)
