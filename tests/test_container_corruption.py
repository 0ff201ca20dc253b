"""Damaged files: only ZVC69FormatError comes out, and every intact frame stays readable."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codec.container
from codec.container import (
    ContainerReader,
    ContainerWriter,
    FileHeader,
    FrameHeader,
    FrameType,
    frame_header_size,
    index_entry_size,
)
from codec.errors import CRCMismatchError, TruncatedError, ZVC69FormatError
from codec.info import describe

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TYPES = [FrameType.I, FrameType.P, FrameType.B, FrameType.B_BI, FrameType.I, FrameType.P]
PAYLOADS = [bytes([0x11 * (n + 1)]) * (3 * n + 1) for n in range(len(TYPES))]


@pytest.fixture(scope="module", params=[9, 11], ids=["format9", "format11"])
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small valid file: 6 frames of every type, 1..16-byte payloads, with an index; in
    format 9's layout (32-byte frame headers, 16-byte index entries) and format 11's (16, 8)."""
    path = tmp_path_factory.mktemp("clip") / "clip.zvc69"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codec.container, "VERSION", (request.param, 0))
        with ContainerWriter(path, FileHeader(width=64, height=48, gop_size=4)) as w:
            for n, (t, p) in enumerate(zip(TYPES, PAYLOADS, strict=True)):
                w.write_frame(t, p, 100 * n, 100 * n, keyframe=t == FrameType.I)
    return path.read_bytes()


def head(clip: bytes) -> int:
    """Frame header size of the clip's format (its major version is byte 6)."""
    return frame_header_size(clip[6])


def spans(clip: bytes) -> list[tuple[int, int]]:
    """(start, end) of each frame in ``clip``: header plus payload."""
    out, pos = [], 64
    for p in PAYLOADS:
        out.append((pos, pos + head(clip) + len(p)))
        pos += head(clip) + len(p)
    return out


def read_all(path: Path, strict: bool = False) -> dict[int, bytes | ZVC69FormatError]:
    """Open and read every frame; any exception other than ZVC69FormatError fails the test."""
    with ContainerReader(path, strict=strict) as r:
        out: dict[int, bytes | ZVC69FormatError] = {}
        for n in range(len(r)):
            try:
                out[n] = r.read_frame(n)[1]
                r.read_frame_header(n)
                r.keyframe_before(n)
            except ZVC69FormatError as e:
                out.setdefault(n, e)
        return out


def put(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "damaged.zvc69"
    path.write_bytes(data)
    return path


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "error", "message"),
    [
        (0, "<B", ord("X"), ZVC69FormatError, "not a ZVC69 file"),
        (6, "<B", 19, ZVC69FormatError, "unsupported version 19.0 .this reader knows 1.x, 2.x"),
        (12, "<H", 0, ZVC69FormatError, "width 0"),
        (14, "<H", 16385, ZVC69FormatError, "height 16385"),
        (16, "<H", 0, ZVC69FormatError, "frame-rate numerator 0"),
        (18, "<H", 0, ZVC69FormatError, "frame-rate denominator 0"),
        (25, "<B", 9, ZVC69FormatError, "quality level 9"),
        (26, "<B", 3, ZVC69FormatError, "colour space 3"),
        (27, "<B", 0, ZVC69FormatError, "bit depth 0"),
        (40, "<I", 2**32 - 1, ZVC69FormatError, "latent channels"),
    ],
)
def test_bad_file_header_names_field_and_offset(
    tmp_path: Path, clip: bytes, offset: int, fmt: str, value: int, error: type, message: str
) -> None:
    with pytest.raises(error, match=message) as e:
        ContainerReader(put(tmp_path, patch(clip, offset, fmt, value)))
    assert e.value.offset == offset
    assert f"at byte offset {offset}" in str(e.value)


def test_empty_and_short_files(tmp_path: Path, clip: bytes) -> None:
    with pytest.raises(TruncatedError, match="empty file"):
        ContainerReader(put(tmp_path, b""))
    with pytest.raises(TruncatedError, match="needs 64 bytes, the file has 10"):
        ContainerReader(put(tmp_path, clip[:10]))
    with pytest.raises(ZVC69FormatError, match="not a ZVC69 file"):
        ContainerReader(put(tmp_path, b"hello"))


def test_truncation_at_every_position(tmp_path: Path, clip: bytes) -> None:
    """Every complete frame before the cut is read back exactly; nothing else is listed."""
    index_at = spans(clip)[-1][1]
    path = put(tmp_path, clip)
    with open(path, "r+b", buffering=0) as f:
        for cut in range(len(clip), -1, -1):
            f.truncate(cut)
            if cut < 64:
                with pytest.raises(ZVC69FormatError):
                    ContainerReader(path)
                continue
            frames = read_all(path)
            complete = sum(end <= min(cut, index_at) for _, end in spans(clip))
            assert frames == dict(enumerate(PAYLOADS[:complete])), cut
            with ContainerReader(path) as r:
                assert (r.damage is None) == (cut == len(clip))
                assert r.index_rebuilt == (cut < len(clip))


def test_every_single_bit_flip(tmp_path: Path, clip: bytes) -> None:
    """A flipped bit costs at most the frame that holds it (or the file, in the file header)."""
    frame_of = {b: n for n, (s, e) in enumerate(spans(clip)) for b in range(s, e)}
    path = put(tmp_path, clip)
    with open(path, "r+b", buffering=0) as f:  # patch in place: truncating files is slow
        for bit in range(8 * len(clip)):
            f.seek(bit // 8)
            f.write(bytes([clip[bit // 8] ^ (1 << (bit % 8))]))
            try:
                frames = read_all(path)
            except ZVC69FormatError:
                assert bit < 8 * 64, f"bit {bit}: only a damaged file header may refuse the file"
                continue
            finally:
                f.seek(bit // 8)
                f.write(clip[bit // 8 : bit // 8 + 1])
            hit = frame_of.get(bit // 8)
            for n, payload in enumerate(PAYLOADS):
                if n != hit:
                    assert frames[n] == payload, f"bit {bit}, frame {n}"
            if hit is not None and bit // 8 >= spans(clip)[hit][0] + head(clip):  # payload
                assert isinstance(frames[hit], CRCMismatchError), bit


def test_damaged_version_byte_is_named(tmp_path: Path, clip: bytes) -> None:
    """A version byte naming the other frame layout (10-18 <-> 1-9) is named, not read as a
    file without frames: compact frames are read as 18.0 (which reads format 10's to 17's
    frames alike); 32-byte ones cannot be placed."""
    if clip[6] >= 10:
        path = put(tmp_path, patch(clip, 6, "<B", 8))
        assert read_all(path) == dict(enumerate(PAYLOADS))
        with ContainerReader(path) as r:
            assert r.header.version_major == 18 and not r.index_rebuilt
            assert "says version 8.0, but the frames are laid out as formats 10-18" in r.damage
            assert "read as 18.0" in r.damage
        with pytest.raises(ZVC69FormatError, match="version byte is damaged") as e:
            ContainerReader(path, strict=True)
    else:
        with pytest.raises(ZVC69FormatError, match="says version 10.0, but the frames are "
                           "laid out as formats 1-9") as e:
            ContainerReader(put(tmp_path, patch(clip, 6, "<B", 10)))
    assert e.value.offset == 6


def test_damaged_frame_header_costs_one_frame(tmp_path: Path, clip: bytes) -> None:
    start = spans(clip)[2][0]
    bad, message = (9, "bad frame type 9") if clip[6] < 10 else (0xE2, "reserved bits")
    path = put(tmp_path, patch(clip, start, "<B", bad))
    frames = read_all(path)
    assert isinstance(frames[2], ZVC69FormatError) and frames[2].offset == start
    assert message in str(frames[2])
    assert {n: p for n, p in frames.items() if n != 2} == {
        n: p for n, p in enumerate(PAYLOADS) if n != 2
    }
    with ContainerReader(path) as r:
        assert not r.index_rebuilt
        assert r.damage is not None and "using the index" in r.damage
    with pytest.raises(ZVC69FormatError, match="frame header chain broken"):
        ContainerReader(path, strict=True)


def _index_at(clip: bytes, n: int) -> int:
    return len(clip) - index_entry_size(clip[6]) * (len(PAYLOADS) - n)


def _patch_offset(data: bytes, clip: bytes, n: int, offset: int) -> bytes:
    """Index entry n's frame offset set to `offset` (format 9: u64 at +4; 10: u48 at +0)."""
    at = _index_at(clip, n)
    if clip[6] < 10:
        return patch(data, at + 4, "<Q", offset)
    return patch(patch(data, at, "<I", offset & 0xFFFFFFFF), at + 4, "<H", offset >> 32)


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("swap", "index entry 2 offset .* out of order"),
        ("outside", "index entry 3 offset 1099511627776 points past the frames"),
        ("number", "index entry 1 has frame number 7"),
        ("shifted", "index entry 4 offset .* disagrees with frame headers"),
        ("index_offset", "would end at"),
        ("total_frames", "would end at"),
        ("garbage", "file has"),
        ("no_flag", "HAS_INDEX flag clear"),
    ],
)
def test_damaged_index_is_rebuilt(tmp_path: Path, clip: bytes, what: str, message: str) -> None:
    data = clip
    if what == "number" and clip[6] >= 10:
        pytest.skip("format 10 index entries have no frame number")
    if what == "swap":
        data = _patch_offset(_patch_offset(data, clip, 1, spans(clip)[2][0]), clip, 2,
                             spans(clip)[1][0])
    elif what == "outside":
        data = _patch_offset(data, clip, 3, 2**40)
    elif what == "number":
        data = patch(data, _index_at(clip, 1), "<I", 7)
    elif what == "shifted":
        data = _patch_offset(data, clip, 4, spans(clip)[4][0] + 1)
    elif what == "index_offset":
        data = patch(data, 32, "<Q", 10**12)
    elif what == "total_frames":
        data = patch(data, 20, "<I", 2**32 - 1)
    elif what == "garbage":
        data = clip + b"\0" * 7
    elif what == "no_flag":
        data = patch(data, 8, "<I", 0)
    path = put(tmp_path, data)
    with pytest.raises(ZVC69FormatError, match=message) as e:
        ContainerReader(path, strict=True)
    assert e.value.offset is not None
    assert read_all(path) == dict(enumerate(PAYLOADS))
    with ContainerReader(path) as r:
        assert r.index_rebuilt
        assert r.damage is not None and "rebuilt by scanning 6 frame headers" in r.damage
        assert [e.keyframe for e in r.index] == [t == FrameType.I for t in TYPES]


def test_crc_mismatch_names_frame_and_offset(tmp_path: Path, clip: bytes) -> None:
    start = spans(clip)[3][0]
    crc_at = 26 if clip[6] < 10 else 14  # stored CRC field
    path = put(tmp_path, patch(clip, start + crc_at, "<H", 0))
    with ContainerReader(path) as r:
        assert r.damage is None
        with pytest.raises(CRCMismatchError, match="frame 3: payload CRC-16") as e:
            r.read_frame(3)
        assert e.value.offset == start + head(clip)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_format_errors(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = put(Path(tmp), data)
        try:
            read_all(path)
            describe(path, verify=True)
        except ZVC69FormatError:
            pass


@FAST
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
    tail=st.binary(max_size=40),
)
def test_mutated_files_raise_only_format_errors(
    tmp_path: Path, clip: bytes, edits: list[tuple[int, int]], cut: int | None, tail: bytes
) -> None:
    data = bytearray(clip)
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = put(tmp_path, bytes(data) + tail)
    try:
        frames = read_all(path)
        d = describe(path, verify=True)
    except ZVC69FormatError:
        return
    assert d["frames"] == len(frames)
    assert len(d["errors"]) == sum(isinstance(v, ZVC69FormatError) for v in frames.values())


def test_frame_header_claiming_huge_payload(tmp_path: Path, clip: bytes) -> None:
    """A 4 GiB payload size in the last frame is refused without reading or allocating it."""
    start, fs, major = spans(clip)[5][0], head(clip), clip[6]
    fh = FrameHeader.unpack(clip[start : start + fs], start, major)
    data = clip[:start] + replace(fh, payload_size=2**32 - 1).pack(major) + clip[start + fs :]
    frames = read_all(put(tmp_path, data))
    assert isinstance(frames[5], ZVC69FormatError) and frames[5].offset == start + 4
    assert [frames[n] for n in range(5)] == PAYLOADS[:5]
    partial = data[: spans(clip)[5][1]]  # no index: the scan must stop at the bad size
    with ContainerReader(put(tmp_path, partial)) as r:
        assert len(r) == 5 and r.damage is not None and "incomplete frame" in r.damage
        fh = FrameHeader.unpack(data[start : start + head(clip)], start, clip[6])
        assert fh.payload_size == 2**32 - 1
