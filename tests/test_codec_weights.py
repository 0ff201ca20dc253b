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
    wide = W.Weights((1, 64, 255), (255, -255, 3), (58, 58, 0, 2))
    assert len(wide.pack(7)) == 17 and W.Weights.unpack(wide.pack(7), 7, region=True) == wide
    with pytest.raises(ZVC69FormatError, match="offset"):
        W.Weights.unpack(bytes([64, 64, 64, 0, 1, 0, 0, 0, 0]), 7)
    with pytest.raises(ZVC69FormatError, match="need 17 bytes"):
        W.Weights.unpack(wide.pack(7)[:9], 7, region=True)
    for version in (6, 7):  # the region flag is format 7's; a format 6 reader refuses it
        p = InterPayload(3, 16, 4, b"m", b"\x01", b"", b"", False, b"", wide, layout=7)
        if version == 7:
            q = InterPayload.unpack(p.pack(), 7)
            assert q.weights == wide and q.bits()["header"] == 8 * (2 + 3 + 17)
        else:
            with pytest.raises(ZVC69FormatError, match="flags"):
                InterPayload.unpack(p.pack(), version)
    with pytest.raises(ZVC69FormatError, match="weight of zero"):
        W.Weights.unpack(bytes([0, 64, 64, 0, 0, 0]))
    p = InterPayload(3, 16, 4, b"m", b"\x01", b"", b"", False, b"", wts)
    q = InterPayload.unpack(p.pack())
    assert q.weights == wts and q.mv_bytes == b"m" and q.bits()["header"] == 8 * (2 + 3 + 6)
    old = InterPayload.unpack(p.pack_v3(), 3)
    assert old.weights == wts and old.mv_bytes == b"m" and old.bits()["header"] == 8 * (16 + 6)


def decoded_exactly(path, recons):
    """Asserts the stream decodes to `recons` in the current format; returns its P-frame
    payloads and the analyzer's scan."""
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        assert dec.header.version_major == container.VERSION[0]
        for i, (frame, _) in enumerate(dec.frames()):
            assert np.array_equal(frame, recons[i]), f"frame {i} differs"
        payloads = [InterPayload.unpack(dec.reader.read_frame(n)[1], container.VERSION[0])
                    for n in range(1, len(recons))]
        return payloads, dec.scan()


def test_fade_costs_less_with_weights_and_decodes_exactly(tmp_path, monkeypatch):
    """A pan fading to 60 %: with weighted prediction the P-frames carry weights, cost less,
    and the decoder reproduces the encoder's frames."""
    import codec.encoder

    frames = [np.round(f * (1.0 - 0.08 * i)).astype(np.uint8)
              for i, f in enumerate(pan_clip(5, 64, 96))]
    recons, stats = encode(tmp_path / "w.zvc69", frames, quality=4, bframes=0)
    payloads, _ = decoded_exactly(tmp_path / "w.zvc69", recons)
    assert all(p.weights is not None for p in payloads)
    monkeypatch.setattr(codec.encoder, "estimate_weights_v7", lambda frame, pred, region: None)
    _, plain = encode(tmp_path / "p.zvc69", frames, quality=4, bframes=0)
    with_w = sum(s.size_bytes for s in stats[1:])
    without = sum(s.size_bytes for s in plain[1:])
    assert with_w < 0.8 * without, (with_w, without)


def test_region_leaving_no_picture_is_refused():
    ref = np.zeros((32, 48, 3), np.uint8)
    with pytest.raises(ZVC69FormatError, match="region"):
        W.apply(ref, W.Weights((64, 64, 64), (5, 5, 5), (16, 16, 0, 0)))
    out = W.apply(ref, W.Weights((64, 64, 64), (5, 5, 5), (8, 8, 0, 40)))
    assert out[8:24, :8].min() == 5 and out[:8].max() == 0 and out[8:24, 8:].max() == 0


def _letterboxed_fade_to_grey(n: int) -> list[np.ndarray]:
    """A 96x128 picture between 16-line black bars, fading towards a light grey (as sintel's
    opening fog): each frame is a * picture + (1 - a) * grey, the bars stay black."""
    picture = pan_clip(1, 96, 128)[0].astype(np.float64)
    frames = []
    for i in range(n):
        a = 1.0 - 0.2 * i
        f = np.zeros((128, 128, 3), np.uint8)
        f[16:112] = np.round(a * picture + (1 - a) * 190.0).astype(np.uint8)
        frames.append(f)
    return frames


def test_letterboxed_fade_is_weighted_inside_the_bars(tmp_path, monkeypatch):
    """Format 7: the weights' region keeps the bars plain while the picture fades to grey, which
    a whole-frame gain and offset cannot do; cheaper than format 6 and decoded exactly."""
    frames = _letterboxed_fade_to_grey(4)
    recons, stats = encode(tmp_path / "w7.zvc69", frames, quality=4)
    payloads, scanned = decoded_exactly(tmp_path / "w7.zvc69", recons)
    assert [s.weights for s in scanned] == [s.weights for s in stats]  # the analyzer's view
    regions = [p.weights.region if p.weights else None for p in payloads]
    assert all(r is not None and r[0] >= 8 and r[1] >= 8 for r in regions), regions
    assert all(p.weights.o[0] > 20 for p in payloads)  # an offset towards the grey
    monkeypatch.setattr(container, "VERSION", (6, 0))
    _, old = encode(tmp_path / "w6.zvc69", frames, quality=4)
    new_bits = sum(s.size_bytes for s in stats[1:])
    old_bits = sum(s.size_bytes for s in old[1:])
    assert new_bits < 0.7 * old_bits, (new_bits, old_bits)
