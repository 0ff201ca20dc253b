"""Flat bars around the picture (format 6): detection, I-frames inside them, damaged records."""

from __future__ import annotations

import numpy as np
import pytest

import codec.container
from codec.api import StreamDecoder, StreamEncoder, shared_codecs
from codec.bars import Bars, find_bars
from codec.errors import ZVC69FormatError
from codec.intra import IntraPayload
from codec.profiler import Profiler
from tests.codec_helpers import encode, frame_payload, pan_clip, texture


def letterboxed(frame: np.ndarray, top: int, bottom: int, left: int = 0, right: int = 0,
                colour: tuple[int, int, int] = (0, 0, 0), seed: int = 0) -> np.ndarray:
    """`frame` inside bars of `colour` with a little noise, as a compressed source has."""
    h, w = frame.shape[:2]
    out = np.empty((h + top + bottom, w + left + right, 3), np.uint8)
    noise = np.random.default_rng(seed).integers(0, 2, out.shape)
    out[:] = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
    out[top : top + h, left : left + w] = frame
    return out


def test_bars_are_found_on_each_side_and_not_in_a_picture():
    pic = texture(48, 64, seed=1)
    assert find_bars(pic) is None
    b = find_bars(letterboxed(pic, 12, 10, 9, 0, (16, 16, 16)))
    assert (b.top, b.bottom, b.left, b.right) == (12, 10, 9, 0)
    assert max(abs(c - 16) for c in b.colour) <= 1
    assert find_bars(letterboxed(pic, 5, 5)) is None  # thinner than MIN_BAR


def test_ringing_next_to_the_picture_joins_the_bar():
    """A compressed source's bar is not flat in its last lines before the picture; they join
    the bar (up to EDGE_LINES) so that the coded picture starts at its own edge."""
    from codec.bars import EDGE_LINES

    f = letterboxed(texture(48, 64, seed=4), 20, 20)
    f[18:20] = 9  # two lines of ringing above the picture
    f[20:22] = np.minimum(f[20:22], 40)  # the picture's first lines: dark, but a picture
    b = find_bars(f)
    assert b is not None and (b.top, b.bottom) == (20, 20)
    f[20 - EDGE_LINES - 1 : 20] = 9  # more ringing than EDGE_LINES: the bar stops before it
    assert find_bars(f).top == (20 - EDGE_LINES - 1) + EDGE_LINES  # flat lines + ringing


def test_a_letterboxed_keyframe_codes_only_the_picture_and_decodes_exactly(tmp_path):
    frames = [letterboxed(f, 16, 16, seed=i) for i, f in enumerate(pan_clip(3, 64, 96))]
    recons, stats = encode(tmp_path / "lb.zvc69", frames, quality=3)
    with StreamDecoder(tmp_path / "lb.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, r in enumerate(recons):
            frame, st = dec.decode(i)
            assert np.array_equal(frame, r)
            assert st.bars == ((16, 16, 0, 0) if i == 0 else None)  # what the analyzer shows
        payload = IntraPayload.unpack(frame_payload(dec.reader, 0), 96, 96)
    assert payload.bars is not None and payload.bars.top == 16 and payload.bars.bottom == 16
    assert stats[0].bars == (16, 16, 0, 0) and stats[1].bars is None
    assert (recons[0][:15] == recons[0][0, 0]).all()  # the bar is its one colour, but for
    # its line next to the picture, which the deblocking filter of the detail layer's blocks
    # on the edge may smooth (p0 only, by a few levels; the loop filter leaves bars alone)
    assert np.abs(recons[0][15].astype(int) - recons[0][0, 0]).max() <= 8
    assert stats[0].bits_per_block.shape == (6, 6)
    intra = shared_codecs("cpu").intra
    without = intra.encode(frames[0], stats[0].quality, Profiler(), bars=False)[0]
    assert len(payload.y_bytes) < len(without.y_bytes)


def test_format_5_streams_keep_coding_the_bars(tmp_path, monkeypatch):
    monkeypatch.setattr(codec.container, "VERSION", (5, 0))
    frames = [letterboxed(f, 16, 16) for f in pan_clip(2, 64, 96)]
    recons, _ = encode(tmp_path / "v5.zvc69", frames, quality=3)
    with StreamDecoder(tmp_path / "v5.zvc69", codecs=shared_codecs("cpu")) as dec:
        assert dec.header.version_major == 5
        assert IntraPayload.unpack(frame_payload(dec.reader, 0), 96, 96).bars is None
        assert np.array_equal(dec.decode(1)[0], recons[1])


def test_a_bars_record_in_a_format_5_stream_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(codec.container, "VERSION", (5, 0))
    frames = [letterboxed(texture(32, 48, seed=3), 16, 16)]
    with StreamEncoder(tmp_path / "odd.zvc69", 48, 64, codecs=shared_codecs("cpu")) as enc:
        enc.layout = 6  # an encoder that writes format 6 payloads under a 5.0 header
        enc.encode(frames[0])
    with StreamDecoder(tmp_path / "odd.zvc69", codecs=shared_codecs("cpu")) as dec:
        with pytest.raises(ZVC69FormatError, match="bars record in a format 5 stream"):
            dec.decode(0)


def test_bars_that_leave_no_picture_are_a_format_error():
    rec = Bars(10, 10, 0, 0, (0, 0, 0)).pack()
    assert Bars.unpack(rec, 21, 8).inner_shape(21, 8) == (1, 8)
    with pytest.raises(ZVC69FormatError, match="leave no picture"):
        Bars.unpack(rec, 20, 8)
    with pytest.raises(ZVC69FormatError, match="bars record"):
        Bars.unpack(rec[:-1], 20, 8)


def test_a_payload_whose_bars_do_not_fit_the_frame_is_refused():
    """The record is checked against the stream's frame size when the payload is parsed."""
    frame = letterboxed(texture(32, 48, seed=2), 16, 16)
    payload = shared_codecs("cpu").intra.encode(frame, 2, Profiler())[0]
    assert payload.bars is not None
    data = payload.pack()
    assert IntraPayload.unpack(data, 64, 48) == payload
    with pytest.raises(ZVC69FormatError, match="leave no picture"):
        IntraPayload.unpack(data, 32, 48)  # a 32-row frame has no room for 16 + 16 rows
    with pytest.raises(ZVC69FormatError):
        IntraPayload.unpack(data[:Bars.SIZE], 64, 48)


@pytest.mark.parametrize("flat", [30, 31, 32, 33, 70])
def test_bars_across_the_detection_chunks(flat):
    """Bars longer than one chunk of lines, with ringing on either side of a chunk boundary."""
    f = letterboxed(texture(40, 64, seed=6), flat + 3, flat + 3)
    f[flat : flat + 3] = 9
    f[-flat - 3 : -flat] = 9
    b = find_bars(f)
    assert b is not None and b.top == b.bottom == flat + 3
