"""Format 10 B-frame side section (codec.bside): mode map and both motion fields in one
entropy-coded section, without the vectors a block's mode does not use."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import codec.container
from codec.api import StreamDecoder, shared_codecs
from codec.bipred import BACKWARD, BOTH, FORWARD, encode_modes, fill_unused
from codec.bside import decode_bside, encode_bside
from codec.container import ContainerReader
from codec.errors import ZVC69FormatError
from codec.inter import InterPayload
from codec.mvcoding import differences, encode_mvs, field_from_differences
from tests.codec_helpers import encode, objects_clip


def _random_side(rng: np.random.Generator, rows: int, cols: int, scale: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A mode map and two quarter-pel fields whose unused vectors equal their prediction."""
    modes = rng.choice(3, (rows, cols), p=rng.dirichlet([1, 1, 1])).astype(np.uint8)
    fields = []
    for unused in (modes == BACKWARD, modes == FORWARD):
        mv = np.rint(rng.laplace(0, scale, (rows, cols, 2)) * 4) / 4
        fields.append(fill_unused(mv, unused))
    return modes, fields[0], fields[1]


def test_side_section_round_trips_any_field():
    rng = np.random.default_rng(7)
    for t in range(200):
        rows, cols = (int(x) for x in rng.integers(1, 14, 2))
        modes, mv_f, mv_b = _random_side(rng, rows, cols, [0.02, 1, 6, 400][t % 4])
        if t % 7 == 0:
            modes[:] = BOTH
        d_f, d_b = differences(mv_f, 4), differences(mv_b, 4)
        data = encode_bside(d_f, d_b, modes)
        g_f, g_b, g_modes = decode_bside(data, rows, cols)
        assert np.array_equal(g_modes, modes), t
        assert np.array_equal(field_from_differences(g_f, 4), mv_f), t
        assert np.array_equal(field_from_differences(g_b, 4), mv_b), t
    still = np.zeros((3, 4, 2), np.int64)
    assert encode_bside(still, still, np.full((3, 4), BOTH, np.uint8)) == b"\x00"


def test_side_section_is_smaller_than_format_9_sections():
    rng = np.random.default_rng(3)
    for rows, cols in ((5, 6), (9, 11), (45, 80)):
        modes, mv_f, mv_b = _random_side(rng, rows, cols, 0.5)
        old = len(encode_mvs(mv_f)) + len(encode_mvs(mv_b)) + len(encode_modes(modes))
        new = len(encode_bside(differences(mv_f, 4), differences(mv_b, 4), modes))
        assert new <= old - 20, (rows, cols, new, old)  # headers, stream ends, unused vectors


def test_side_section_refusals():
    modes = np.array([[FORWARD, BOTH]], np.uint8)
    d = np.zeros((1, 2, 2), np.int64)
    back = d.copy()
    back[0, 0] = (1, 0)  # a backward vector on a forward-only block
    with pytest.raises(ValueError, match="does not use"):
        encode_bside(d, back, modes)
    rng = np.random.default_rng(5)
    modes, mv_f, mv_b = _random_side(rng, 6, 7, 2.0)
    data = encode_bside(differences(mv_f, 4), differences(mv_b, 4), modes)
    with pytest.raises(ZVC69FormatError, match="unknown flags"):
        decode_bside(b"\x08" + data[1:], 6, 7)
    for n in (0, 1, 3, len(data) - 1):
        with pytest.raises(ZVC69FormatError):
            decode_bside(data[:n], 6, 7)
    for _ in range(100):  # damaged bytes decode to something or are named, never crash
        bad = bytearray(data)
        bad[int(rng.integers(len(bad)))] ^= 1 << int(rng.integers(8))
        try:
            decode_bside(bytes(bad), 6, 7)
        except ZVC69FormatError:
            pass


def test_format_10_payload_carries_one_side_section():
    side = b"\x01side"
    p = InterPayload(3, 32, 4, side, b"s", b"z", b"y", True, b"detail", layout=10,
                     refs=(1, 3), temporal=True)
    q = InterPayload.unpack(p.pack(), 10, bidir=True)
    assert (q.mv_bytes, q.refs, q.mv_block, q.temporal, q.detail_bytes) == (
        side, (1, 3), 32, True, b"detail")
    assert len(p.pack()) == len(InterPayload.unpack(p.pack(), 10, True).pack())
    assert p.bits()["motion"] == 8 * len(side)
    with pytest.raises(ValueError, match="side section"):
        replace(p, mode_bytes=b"modes").pack()


def test_format_9_b_streams_still_decode(tmp_path, monkeypatch):
    frames = objects_clip(8, 64, 96)
    monkeypatch.setattr(codec.container, "VERSION", (9, 0))
    old = tmp_path / "v9.zvc69"
    recons, stats = encode(old, frames, quality=3, gop=8, bframes=3, b_adapt=False)
    monkeypatch.undo()
    new = tmp_path / "v10.zvc69"
    recons10, stats10 = encode(new, frames, quality=3, gop=8, bframes=3, b_adapt=False)
    assert "B" in "".join(s.frame_type for s in stats)
    for path, want, major in ((old, recons, 9), (new, recons10, codec.container.VERSION[0])):
        with ContainerReader(path) as r:
            assert r.header.version_major == major
        with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
            for n, (frame, _) in enumerate(dec.frames()):
                assert np.array_equal(frame, want[n]), (major, n)
    b9 = sum(s.bits["motion"] for s in stats if s.frame_type == "B")
    b10 = sum(s.bits["motion"] for s in stats10 if s.frame_type == "B")
    assert b10 < b9


def test_time_limit_of_the_compact_header_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(codec.container, "MAX_PTS", 2 * 3600)  # 25 fps: frames 0 and 1 fit
    from codec.errors import ZVC69Error

    with pytest.raises(ZVC69Error, match="frame 2 lies past the container's time limit"):
        encode(tmp_path / "long.zvc69", objects_clip(3, 48, 64), quality=3, gop=8, bframes=0)
