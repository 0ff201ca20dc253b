"""Format 14: P-frames may have 32x32 motion blocks, chosen where they cost less."""

from __future__ import annotations

import numpy as np
import pytest

from codec import encoder
from codec.api import shared_codecs
from codec.decoder import StreamDecoder
from codec.errors import ZVC69FormatError
from codec.inter import BLOCK32, InterPayload
from tests.codec_helpers import encode, smooth_rgb


def _noisy_pan(n: int, h: int = 96, w: int = 128, sigma: float = 6.0) -> list[np.ndarray]:
    """A smooth texture panned (1, 0.5) pixels a frame under fresh noise every frame: a
    16x16 search follows the noise, one vector per 32x32 block is nearly as good."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        f = smooth_rgb(h, w, (1.0 * i, 0.5 * i), seed=2, blur=3.0).astype(np.float64)
        out.append(np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8))
    return out


def _err(recs: list[np.ndarray], frames: list[np.ndarray]) -> float:
    return float(sum(np.mean((r.astype(float) - f) ** 2) for r, f in zip(recs, frames,
                                                                         strict=True)))


def test_p_frames_take_32x32_blocks_where_cheaper_and_decode_exactly(tmp_path, monkeypatch):
    import codec.container

    frames = _noisy_pan(5)
    path = tmp_path / "v14.zvc69"
    recs, stats = encode(path, frames, quality=1, bframes=0)
    p_blocks = [st.mv_block for st in stats if st.frame_type == "P"]
    assert 32 in p_blocks, p_blocks
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recs[i]), i
            assert st.mv_block == stats[i].mv_block, i
            if st.frame_type == "P":
                assert st.mv.shape[:2] == (-(-96 // st.mv_block), -(-128 // st.mv_block)), i
        assert [st.mv_block for st in dec.scan()] == [st.mv_block for st in stats]
    # chosen because it pays: with 16x16 blocks only the stream costs more (bits x error)
    monkeypatch.setattr(encoder, "P_BLOCKS_TRIED", ())
    off, off_stats = encode(tmp_path / "off.zvc69", frames, quality=1, bframes=0)
    assert all(st.mv_block == 16 for st in off_stats)
    size = (path.stat().st_size, (tmp_path / "off.zvc69").stat().st_size)
    assert _err(recs, frames) * size[0] < _err(off, frames) * size[1], size
    monkeypatch.undo()
    monkeypatch.setattr(codec.container, "VERSION", (13, 0))
    _, old = encode(tmp_path / "v13.zvc69", frames, quality=1, bframes=0)
    assert all(st.mv_block == 16 for st in old if st.frame_type == "P")


def test_p_frame_32x32_bit_is_format_14_only():
    p = InterPayload(2, 32, 4, b"\x00", b"", b"", b"", False, layout=14)
    data = p.pack()
    assert data[1] & BLOCK32
    assert InterPayload.unpack(data, 14).mv_block == 32
    with pytest.raises(ZVC69FormatError, match="32x32 motion blocks, which P-frames have from "
                                                "format 14, in a format 13 stream"):
        InterPayload.unpack(data, 13)
    with pytest.raises(ValueError, match="need format 14"):
        InterPayload(2, 32, 4, b"\x00", b"", b"", b"", False, layout=13).pack()
    # B-frames had them before
    b = InterPayload(2, 32, 4, b"\x00", b"", b"", b"", False, layout=13, refs=(1, 2))
    assert InterPayload.unpack(b.pack(), 13, bidir=True).mv_block == 32
