"""Format 13: P- and B-frames may be predicted with the 8-tap interpolation filter."""

from __future__ import annotations

import numpy as np
import pytest

from codec import encoder
from codec.api import shared_codecs
from codec.decoder import StreamDecoder
from codec.errors import ZVC69FormatError
from codec.inter import SHARP, InterPayload
from tests.codec_helpers import encode, smooth_rgb


def _subpel_pan(n: int, h: int = 64, w: int = 96, step: float = 1.125) -> list[np.ndarray]:
    """Detailed band-limited noise panned `step` pixels a frame (exact sub-pel shifts)."""
    return [smooth_rgb(h, w, (step * i, 0.0), seed=4, blur=0.8) for i in range(n)]


def test_sharp_predictions_are_chosen_signalled_and_decoded_exactly(tmp_path, monkeypatch):
    """A sub-pel pan of fine detail: some P- and B-frames take the 8-tap filter, the decoder
    reads the bit (also from the side information alone) and reproduces every frame; with
    the choice off (or in format 12) no frame has it."""
    import codec.container

    frames = _subpel_pan(9)
    path = tmp_path / "v13.zvc69"
    recs, stats = encode(path, frames, quality=5, bframes=3)
    assert any(st.sharp_mc for st in stats if st.frame_type == "P")
    assert any(st.sharp_mc for st in stats if st.frame_type == "B")
    assert not any(st.sharp_mc for st in stats if st.frame_type == "I")
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recs[i]), i
            assert st.sharp_mc == stats[i].sharp_mc, i
        assert [st.sharp_mc for st in dec.scan()] == [st.sharp_mc for st in stats]
    assert stats[1].summary()["sharp_mc"] == stats[1].sharp_mc
    monkeypatch.setattr(encoder, "SHARP_MC", False)
    off, off_stats = encode(tmp_path / "off.zvc69", frames, quality=5, bframes=3)
    assert not any(st.sharp_mc for st in off_stats)
    # the choice is worth it here: the sharp stream's predictions are closer to the source
    err = [np.mean((r.astype(float) - f) ** 2) for r, f in zip(recs, frames, strict=True)]
    err_off = [np.mean((r.astype(float) - f) ** 2) for r, f in zip(off, frames, strict=True)]
    size = (path.stat().st_size, (tmp_path / "off.zvc69").stat().st_size)
    assert sum(err) * size[0] < sum(err_off) * size[1], (sum(err), sum(err_off), size)
    monkeypatch.undo()
    monkeypatch.setattr(codec.container, "VERSION", (12, 0))
    _, old_stats = encode(tmp_path / "v12.zvc69", frames, quality=5, bframes=3)
    assert not any(st.sharp_mc for st in old_stats)


def test_sharp_bit_is_format_13_only():
    p = InterPayload(3, 16, 4, b"\x00", b"", b"", b"", False, layout=13, sharp=True)
    data = p.pack()
    assert data[1] & SHARP
    assert InterPayload.unpack(data, 13).sharp
    with pytest.raises(ZVC69FormatError, match="8-tap filter bit of format 13 in a format 12"):
        InterPayload.unpack(data, 12)
    with pytest.raises(ValueError, match="format 13"):
        InterPayload(3, 16, 4, b"\x00", b"", b"", b"", False, layout=12, sharp=True).pack()
    b = InterPayload(3, 32, 4, b"\x00", b"", b"", b"", False, layout=13, refs=(1, 2),
                     temporal=True, sharp=True)
    back = InterPayload.unpack(b.pack(), 13, bidir=True)
    assert back.sharp and back.temporal and back.mv_block == 32
