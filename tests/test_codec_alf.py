"""The adaptive loop filter (format 12): integer filtering, fitting, records, streams."""

from __future__ import annotations

import numpy as np
import pytest

from codec import alf
from codec.api import shared_codecs
from codec.container import ContainerReader, FrameHeader, FrameType
from codec.decoder import StreamDecoder
from codec.errors import ZVC69FormatError
from codec.info import describe
from codec.metrics import psnr_rgb
from tests.codec_helpers import encode, pan_clip, texture


def _classes(frame: np.ndarray, thresholds: tuple[int, ...]) -> list[list[int]]:
    """Each pixel's activity class, from the docstring's definition in Python integers."""
    h, w, _ = frame.shape
    x = frame.astype(int).tolist()
    y = [[(77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8 for p in row] for row in x]

    def at(i: int, j: int) -> int:
        return y[min(max(i, 0), h - 1)][min(max(j, 0), w - 1)]

    act: dict[tuple[int, int], int] = {}
    for i in range(h):
        for j in range(w):
            lap = abs(4 * y[i][j] - at(i - 1, j) - at(i + 1, j) - at(i, j - 1) - at(i, j + 1))
            act[i // 4, j // 4] = act.get((i // 4, j // 4), 0) + lap
    return [[sum(act[i // 4, j // 4] >= t for t in thresholds) for j in range(w)]
            for i in range(h)]


def _reference(frame: np.ndarray, filt: alf.LoopFilter) -> np.ndarray:
    """The module docstring's formula, pixel by pixel in Python integers."""
    h, w, _ = frame.shape
    x = frame.astype(int).tolist()
    clip = filt.clip_value
    cls = _classes(frame, filt.thresholds)
    out = np.empty_like(frame)

    def at(y: int, c: int, ch: int) -> int:
        return x[min(max(y, 0), h - 1)][min(max(c, 0), w - 1)][ch]

    for i in range(h):
        for j in range(w):
            for ch in range(3):
                centre = x[i][j][ch]
                acc = 0
                taps = filt.coeffs[cls[i][j]]
                for (dy, dx), c in zip(alf.OFFSETS, taps, strict=True):
                    a = max(-clip, min(clip, at(i + dy, j + dx, ch) - centre))
                    b = max(-clip, min(clip, at(i - dy, j - dx, ch) - centre))
                    acc += c * (a + b)
                out[i, j, ch] = max(0, min(255, centre + ((acc + 64) >> 7)))
    return out


@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (7, 3), (13, 11)])
def test_apply_is_the_integer_formula_for_every_clip(shape):
    rng = np.random.default_rng(sum(shape))
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert len(alf.OFFSETS) == 12 and len(set(alf.OFFSETS)) == 12
    for clip in range(len(alf.CLIPS)):
        n = 1 + clip % alf.MAX_CLASSES
        thresholds = tuple(sorted(int(t) for t in rng.choice(3000, n - 1, replace=False)))
        taps = tuple(tuple(int(c) for c in rng.integers(-128, 128, 12)) for _ in range(n))
        filt = alf.LoopFilter(clip, taps, thresholds)
        assert alf.LoopFilter.unpack(filt.pack()) == filt and len(filt.pack()) == filt.size
        assert np.array_equal(alf.apply(frame, filt), _reference(frame, filt)), clip


def test_apply_in_bands_equals_one_pass(monkeypatch):
    frame = texture(150, 40)
    filt = alf.LoopFilter(3, ((20, -5, 3, 7, -9, 11, 2, -1, 0, 5, -7, 4),
                              (2, 5, -3, 7, 9, -11, 2, 1, 0, 5, 7, -4)), (200,))
    whole = alf.apply(frame, filt)
    monkeypatch.setattr(alf, "_BAND", 7)
    assert np.array_equal(alf.apply(frame, filt), whole)


def test_bars_keep_their_colour():
    frame = texture(40, 30)
    frame[:6], frame[-4:] = 16, 16
    filt = alf.LoopFilter(7, ((30, -5, 3, 7, -9, 11, 2, -1, 0, 5, -7, 4),))
    whole, kept = alf.apply(frame, filt), alf.apply(frame, filt, bars=(6, 4, 0, 2))
    assert (kept[:6] == 16).all() and (kept[-4:] == 16).all()
    assert np.array_equal(kept[:, -2:], frame[:, -2:])
    assert np.array_equal(kept[6:-4, :-2], whole[6:-4, :-2]) and not np.array_equal(kept, whole)


def _degraded(frame: np.ndarray) -> np.ndarray:
    x = frame.astype(np.float32)
    blur = (x + np.roll(x, 1, 0) + np.roll(x, -1, 0) + np.roll(x, 1, 1) + np.roll(x, -1, 1)) / 5
    noise = np.random.default_rng(1).normal(0, 3, x.shape)
    return np.clip(np.round(blur + noise), 0, 255).astype(np.uint8)


def test_fit_restores_a_blurred_noisy_frame_and_declines_when_it_does_not_pay():
    src = texture(96, 128)
    rec = _degraded(src)
    found = alf.fit(rec, src, bits_per_sse=0.01)
    assert found is not None
    filt, out = found
    assert np.array_equal(out, alf.apply(rec, filt))
    assert psnr_rgb(out, src) > psnr_rgb(rec, src) + 0.5
    assert alf.LoopFilter.unpack(filt.pack()) == filt and len(filt.pack()) == filt.size
    assert alf.LoopFilter.of(filt.stats()) == filt
    # the same gain priced at almost nothing does not pay for 13 bytes
    assert alf.fit(rec, src, bits_per_sse=1e-7) is None
    # nothing to restore: the source itself
    assert alf.fit(src, src, bits_per_sse=1.0) is None


def test_activity_classes_pay_where_parts_of_a_frame_differ():
    """Blurred texture beside a flat area with noise: one filter must compromise, two
    classes (by activity) restore both; the encoder's check on other rows sees it."""
    src = texture(128, 128, seed=5)
    src[:, 64:] = 120
    rec = _degraded(src)
    x = rec.astype(np.int16)
    x[:, 64:] += np.random.default_rng(2).integers(-6, 7, x[:, 64:].shape).astype(np.int16)
    rec = np.clip(x, 0, 255).astype(np.uint8)
    one = alf.fit(rec, src, bits_per_sse=0.05)
    more = alf.fit(rec, src, bits_per_sse=0.05, classes=(1, 2, 4))
    assert one is not None and more is not None
    assert len(one[0].coeffs) == 1 and len(more[0].coeffs) > 1
    assert psnr_rgb(more[1], src) > psnr_rgb(one[1], src) + 0.1
    assert np.array_equal(more[1], alf.apply(rec, more[0]))
    tiny = alf.fit(rec[:40], src[:40], bits_per_sse=0.05, classes=(1, 2, 4))
    assert tiny is not None and len(tiny[0].coeffs) == 1  # too few rows to check on


def test_records_with_reserved_bits_or_cut_short_are_format_errors():
    good = alf.LoopFilter(2, (tuple(range(-6, 6)),)).pack()
    with pytest.raises(ZVC69FormatError, match="reserved bits"):
        alf.LoopFilter.unpack(good[:-1] + bytes([0x20 | good[-1]]))
    with pytest.raises(ZVC69FormatError, match="too short"):
        alf.split(good[:5])
    with pytest.raises(ZVC69FormatError, match="too short"):  # says two classes: 27 bytes
        alf.split(good[:-1] + bytes([0x08 | good[-1]]))
    payload, filt = alf.split(b"abc" + good)
    assert payload == b"abc" and filt.clip == 2
    two = alf.LoopFilter(1, (tuple(range(12)), tuple(range(12))), (500,))
    assert alf.split(b"x" + two.pack()) == (b"x", two) and two.size == 27
    down = alf.LoopFilter(1, (tuple(range(12)),) * 3, (500, 400)).pack()
    with pytest.raises(ZVC69FormatError, match="do not ascend"):
        alf.split(down)
    with pytest.raises(ZVC69FormatError, match=r"reserved bits set \(at byte offset 15\)$"):
        alf.split(b"abc" + good[:-1] + b"\x80")


def test_frame_header_filtered_bit_is_format_12_only():
    fh = FrameHeader(frame_type=FrameType.P, payload_size=20, crc=7, filtered=True)
    assert FrameHeader.unpack(fh.pack(12), 0, 12).filtered
    assert not FrameHeader.unpack(FrameHeader(frame_type=FrameType.P, payload_size=20, crc=7)
                                  .pack(12), 0, 12).filtered
    for major in (9, 11):
        with pytest.raises(ValueError, match="no loop filter"):
            fh.pack(major)


def _filtered_flags(path) -> list[bool]:
    with ContainerReader(path) as r:
        return [r.read_frame_header(n).filtered for n in range(len(r))]


def test_streams_filter_in_the_loop_and_decode_exactly(tmp_path, monkeypatch):
    """A pan with B-frames: format 12 filters some frames (records in the payload, the
    header bit set), the decoder reproduces every frame and reports the encoder's filters,
    also from the side information alone; the same clip as format 11 has no filter."""
    import codec.container

    frames = [_degraded(f) for f in pan_clip(9, 64, 96, step=3)]
    recs, stats = encode(tmp_path / "v12.zvc69", frames, quality=3, bframes=3)
    flags = _filtered_flags(tmp_path / "v12.zvc69")
    assert any(flags) and sum(flags) == sum(st.loop_filter is not None for st in stats)
    assert [f["filtered"] for f in describe(tmp_path / "v12.zvc69")["index"]] == flags
    with StreamDecoder(tmp_path / "v12.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, recs[i]), i
            assert st.loop_filter == stats[i].loop_filter, i
            assert st.bits.get("filter", 0) == stats[i].bits.get("filter", 0), i
        assert [st.loop_filter for st in dec.scan()] == [st.loop_filter for st in stats]
    assert stats[0].summary()["loop_filter"] == (None if stats[0].loop_filter is None
                                                 else stats[0].loop_filter[0])
    monkeypatch.setattr(codec.container, "VERSION", (11, 0))
    old, _ = encode(tmp_path / "v11.zvc69", frames, quality=3, bframes=3)
    monkeypatch.undo()
    assert not any(_filtered_flags(tmp_path / "v11.zvc69"))
    with StreamDecoder(tmp_path / "v11.zvc69", codecs=shared_codecs("cpu")) as dec:
        for i, (frame, st) in enumerate(dec.frames()):
            assert np.array_equal(frame, old[i]) and st.loop_filter is None, i


def test_a_filter_bit_in_a_format_11_stream_is_refused_by_name(tmp_path, monkeypatch):
    """Format 11 has no loop filter: a frame header with the bit set (a damaged or forged
    file whose header check byte was recomputed) fails with an error that says so."""
    import codec.container

    monkeypatch.setattr(codec.container, "VERSION", (11, 0))
    path = tmp_path / "v11.zvc69"
    encode(path, [texture(32, 48)], quality=2, gop=1)
    monkeypatch.undo()
    with ContainerReader(path) as r:
        at = r.index[0].offset
        fh = r.read_frame_header(0)
    data = bytearray(path.read_bytes())
    data[at : at + 16] = FrameHeader(frame_type=fh.frame_type, payload_size=fh.payload_size,
                                     pts=fh.pts, qp_offset=fh.qp_offset, crc=fh.crc,
                                     filtered=True).pack(12)
    path.write_bytes(bytes(data))
    with StreamDecoder(path, codecs=shared_codecs("cpu")) as dec:
        with pytest.raises(ZVC69FormatError, match="loop filter record in a format 11"):
            dec.decode(0)
