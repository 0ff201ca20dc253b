"""The encoder's wide motion search: fields beyond the preset's range where motion goes there."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from codec import encoder, presets
from codec.api import shared_codecs
from codec.decoder import StreamDecoder
from codec.encoder import StreamEncoder, _ac_sse
from codec.motion import highpass, luma
from tests.codec_helpers import encode, smooth_rgb


def test_ac_sse_ignores_each_blocks_mean() -> None:
    flat = np.full((16, 24, 3), 51.0, np.float32)  # 0.2 on the 0..1 scale everywhere
    assert _ac_sse(flat) < 1e-9
    board = np.indices((16, 24)).sum(axis=0) % 2 * np.float32(2 * 25.5) - np.float32(25.5)
    err = np.repeat(board[..., None], 3, axis=2)  # +-0.1, zero mean in every 8x8 block
    assert abs(_ac_sse(err) - 16 * 24 * 3 * 0.01) < 1e-6
    assert abs(_ac_sse(err + flat) - _ac_sse(err)) < 1e-6
    assert _ac_sse(np.ones((7, 7, 3), np.float32)) == 0.0  # no whole 8x8 block


def _fast_pan(step: float, n: int = 2) -> list[np.ndarray]:
    """Frames of a smooth texture panned `step` pixels a frame (cur(x) = prev(x + step))."""
    return [smooth_rgb(96, 256, (step * i, 0.0), seed=4, blur=2.0) for i in range(n)]


def test_fast_pan_takes_wide_vectors_and_decodes_exactly(tmp_path, monkeypatch) -> None:
    # every field triggers the wide search here (the trigger itself: tests/test_motion.py);
    # what is tested is the choice by the 8x8-AC measure, the coding and the decoding
    monkeypatch.setattr(presets, "WIDE_TRIGGER", 0.0)
    frames = _fast_pan(72.0)
    path = tmp_path / "wide.zvc69"
    recs, stats = encode(path, frames, quality=3, bframes=0)
    assert [st.frame_type for st in stats] == ["I", "P"]
    dx = stats[1].mv[..., 0]
    inside = dx[:, : -(-(256 - 72) // stats[1].mv_block) - 1]  # blocks whose match is inside
    assert np.mean(inside == 72.0) >= 0.9, np.unique(inside)
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        for i, (frame, _st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recs[i]), i
    # without the wide search the 32-pixel range cannot follow: more bits, more error
    medium = presets.PRESETS["medium"]
    monkeypatch.setitem(presets.PRESETS, "medium", dataclasses.replace(medium, wide_range=0))
    narrow, nstats = encode(tmp_path / "narrow.zvc69", frames, quality=3, bframes=0)
    assert np.abs(nstats[1].mv).max() <= medium.search_range
    err = [float(np.mean((r.astype(float) - frames[1]) ** 2)) for r in (recs[1], narrow[1])]
    assert stats[1].bits_total * err[0] < nstats[1].bits_total * err[1], (
        stats[1].bits_total, nstats[1].bits_total, err)


def test_searched_luma_is_computed_once_per_image(tmp_path) -> None:
    frames = _fast_pan(3.0, n=3)
    enc = StreamEncoder(tmp_path / "s.zvc69", 256, 96, codecs=shared_codecs("cpu"))
    try:
        first = enc._search_luma(frames[0])
        assert np.array_equal(first, highpass(luma(frames[0]), encoder.MOTION_HIGHPASS))
        assert enc._search_luma(frames[0]) is first  # kept: not computed again
        copy = frames[0].copy()
        assert enc._search_luma(copy) is not first  # keyed by identity, not by content
        for i in range(encoder.SEARCHED_KEPT):
            enc._search_luma(np.full_like(frames[1], i))
        assert enc._search_luma(frames[0]) is not first  # pushed out by newer images
        assert len(enc._searched) == encoder.SEARCHED_KEPT
    finally:
        enc.abort(keep=False)


def test_a_reused_frame_buffer_codes_like_fresh_frames(tmp_path) -> None:
    # the encoder holds frames for B-frame groups and keys cached planes by identity: a caller
    # that fills one buffer for every frame must get the stream of separate arrays
    frames = _fast_pan(3.0, n=5)
    fresh, _ = encode(tmp_path / "fresh.zvc69", frames, quality=3)
    buf = np.empty_like(frames[0])
    with StreamEncoder(tmp_path / "reused.zvc69", 256, 96, Fraction(25), 3, "medium", 32,
                       codecs=shared_codecs("cpu")) as enc:
        for f in frames:
            buf[...] = f
            enc.encode(buf)
    a, b = (tmp_path / "fresh.zvc69").read_bytes(), (tmp_path / "reused.zvc69").read_bytes()
    assert a == b
    assert len(fresh) == 5
