"""Container round trips: CRC, header layouts, writer/reader, atomic writes, .partial recovery."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec.container import (
    FRAME_TYPE_LABELS,
    HAS_B_FRAMES,
    HAS_INDEX,
    IS_KEYFRAME,
    IS_REFERENCE,
    ContainerReader,
    ContainerWriter,
    FileHeader,
    FrameHeader,
    FrameType,
)
from codec.crc import crc16
from codec.errors import CRCMismatchError, ZVC69FormatError
from codec.stats import FRAME_TYPES

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HEADER = FileHeader(width=320, height=240, fps_num=25, quality=4, gop_size=4)


def u(bits: int) -> st.SearchStrategy[int]:
    return st.integers(0, 2**bits - 1)


def crc16_bitwise(data: bytes) -> int:
    """Textbook CRC-16/CCITT-FALSE, one bit at a time."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def write(path: Path, frames: list[tuple[int, bytes]], header: FileHeader = HEADER) -> Path:
    """Write (frame type, payload) pairs; I frames are keyframes; pts = dts = 3600 * n."""
    with ContainerWriter(path, header) as w:
        for n, (t, payload) in enumerate(frames):
            w.write_frame(t, payload, 3600 * n, 3600 * n, keyframe=t == FrameType.I)
    return path


def test_crc16_check_values_and_chunks() -> None:
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF
    assert crc16(b"56789", crc16(b"1234")) == 0x29B1
    assert crc16(memoryview(b"123456789")) == 0x29B1


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=200))
def test_crc16_matches_bitwise_reference(data: bytes) -> None:
    assert crc16(data) == crc16_bitwise(data)


def test_frame_type_labels_match_stats() -> None:
    assert FRAME_TYPE_LABELS == FRAME_TYPES
    assert [t.label for t in FrameType] == list(FRAME_TYPES)


file_headers = st.builds(
    FileHeader,
    version_minor=u(8),
    flags=u(32),
    width=st.integers(1, 16384),
    height=st.integers(1, 16384),
    fps_num=st.integers(1, 65535),
    fps_den=st.integers(1, 65535),
    total_frames=u(32),
    gop_size=u(8),
    quality=st.integers(1, 8),
    colour_space=st.integers(0, 2),
    bit_depth=st.integers(1, 16),
    model_hash=st.binary(min_size=4, max_size=4),
    index_offset=u(64),
    latent_channels=st.integers(0, 4096),
    hyperprior_channels=st.integers(0, 4096),
)
frame_headers = st.builds(
    FrameHeader,
    frame_type=st.sampled_from(FrameType),
    temporal_layer=u(8),
    ref_flags=u(16),
    payload_size=u(32),
    pts=u(64),
    dts=u(64),
    qp_offset=st.integers(-(2**15), 2**15 - 1),
    crc=u(16),
)


@settings(max_examples=60, deadline=None)
@given(file_headers)
def test_file_header_round_trip(h: FileHeader) -> None:
    data = h.pack()
    assert len(data) == 64
    assert FileHeader.unpack(data) == h


@settings(max_examples=60, deadline=None)
@given(frame_headers)
def test_frame_header_round_trip(h: FrameHeader) -> None:
    data = h.pack(9)
    assert len(data) == 32
    assert FrameHeader.unpack(data, 0, 9) == h
    compact = replace(h, temporal_layer=h.temporal_layer % 8, pts=h.pts >> 24, dts=0,
                      qp_offset=h.qp_offset // 512)
    data = compact.pack(10)
    assert len(data) == 16
    assert FrameHeader.unpack(data, 0, 10) == compact
    with pytest.raises(ValueError, match="invalid frame header"):
        replace(compact, temporal_layer=8).pack(10)


def test_header_field_offsets() -> None:
    """Each field lands where FORMAT.md sections 3 and 4 say, independent of the struct format."""
    h = FileHeader(
        version_minor=7, flags=0x01020304, width=1920, height=1080, fps_num=30000, fps_den=1001,
        total_frames=0x0A0B0C0D, gop_size=32, quality=6, colour_space=2, bit_depth=10,
        model_hash=b"\xde\xad\xbe\xef", index_offset=0x1122334455667788, latent_channels=192,
        hyperprior_channels=128,
    )  # fmt: skip
    le = int.to_bytes
    expected = (
        b"ZVC69\0\x12\x07" + le(0x01020304, 4, "little") + le(1920, 2, "little")
        + le(1080, 2, "little") + le(30000, 2, "little") + le(1001, 2, "little")
        + le(0x0A0B0C0D, 4, "little") + bytes([32, 6, 2, 10]) + b"\xde\xad\xbe\xef"
        + le(0x1122334455667788, 8, "little") + le(192, 4, "little") + le(128, 4, "little")
        + bytes(16)
    )  # fmt: skip
    assert h.pack() == expected
    fh = FrameHeader(
        frame_type=FrameType.B, temporal_layer=3, ref_flags=0x0102, payload_size=0x01020304,
        pts=5, dts=0x0102030405060708, qp_offset=-2, crc=0xBEEF,
    )  # fmt: skip
    expected_frame = (
        bytes([2, 3]) + le(0x0102, 2, "little") + le(0x01020304, 4, "little")
        + le(5, 8, "little") + le(0x0102030405060708, 8, "little") + b"\xfe\xff"
        + le(0xBEEF, 2, "little") + bytes(4)
    )  # fmt: skip
    assert fh.pack(9) == expected_frame
    compact = (  # format 10: type | layer << 2, qp, refs, size, pts (40 bits), check, CRC
        bytes([2 | 3 << 2, 0xFE]) + le(0x0102, 2, "little") + le(0x01020304, 4, "little")
        + le(5, 5, "little")
    )  # fmt: skip
    compact += bytes([crc16(compact) & 0xFF]) + le(0xBEEF, 2, "little")
    assert fh.pack(10) == compact


def test_format_md_example_matches_writer(tmp_path: Path) -> None:
    """The hex dump in FORMAT.md section 10 is exactly what the writer produces."""
    text = (ROOT / "docs" / "FORMAT.md").read_text(encoding="utf-8")
    dump = text[text.index("## 10. Example") :]
    expected = bytearray()
    for m in re.finditer(r"^([0-9a-f]{4})  (.*)$", dump, re.MULTILINE):
        assert int(m.group(1), 16) == len(expected)
        expected += bytes.fromhex(re.split(r" {3,}", m.group(2))[0])
    assert len(expected) == 0x53 + 8
    header = FileHeader(width=320, height=240, fps_num=25, fps_den=1, quality=4)
    path = tmp_path / "example.zvc69"
    with ContainerWriter(path, header) as w:
        w.write_frame(FrameType.I, b"\x01\x02\x03", 0, 0, keyframe=True)
    assert path.read_bytes() == bytes(expected)


frame_specs = st.lists(
    st.tuples(
        st.sampled_from(FrameType),
        st.binary(max_size=48),
        u(40),  # format 10 pts
        u(64),
        st.booleans(),
        st.booleans(),
        st.integers(0, 7),  # format 10 temporal layers
        u(16),
        st.integers(-128, 127),
    ),
    max_size=10,
)


@FAST
@given(header=file_headers, specs=frame_specs)
def test_writer_reader_round_trip(tmp_path: Path, header: FileHeader, specs: list) -> None:
    path = tmp_path / "clip.zvc69"
    with ContainerWriter(path, header) as w:
        for n, (t, payload, pts, dts, key, ref, layer, flags, qp) in enumerate(specs):
            key = key and t == FrameType.I
            assert w.write_frame(t, payload, pts, dts, key, ref, layer, flags, qp) == n
    assert not w.partial_path.exists()
    size = path.stat().st_size
    with ContainerReader(path, strict=True) as r:
        assert r.damage is None and not r.index_rebuilt
        assert len(r) == len(specs)
        h = r.header
        assert h.total_frames == len(specs) and h.index_offset == size - 8 * len(specs)
        assert h.flags & HAS_INDEX
        assert bool(h.flags & HAS_B_FRAMES) == any(s[0] >= 2 for s in specs) or bool(
            header.flags & HAS_B_FRAMES
        )
        assert (h.width, h.height, h.fps_num, h.fps_den, h.quality, h.model_hash) == (
            header.width, header.height, header.fps_num, header.fps_den, header.quality,
            header.model_hash,
        )  # fmt: skip
        keyframes = []
        for n, (t, payload, pts, _dts, key, ref, layer, flags, qp) in enumerate(specs):
            fh, data = r.read_frame(n)
            assert data == payload
            assert (fh.frame_type, fh.pts, fh.temporal_layer, fh.ref_flags) == (
                t, pts, layer, flags,
            )  # fmt: skip
            assert fh.dts == round(Fraction(n * 90000 * h.fps_den, h.fps_num))  # not stored
            assert fh.qp_offset == qp and fh.payload_size == len(payload)
            assert r.read_frame_header(n) == fh
            entry = r.index[n]
            assert entry.frame_number == n
            assert entry.keyframe == (key and t == FrameType.I) and entry.reference == ref
            if entry.keyframe:
                keyframes.append(n)
            if keyframes:
                assert r.keyframe_before(n) == keyframes[-1]
            else:
                with pytest.raises(ZVC69FormatError, match="no keyframe"):
                    r.keyframe_before(n)


def test_zero_frame_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.zvc69"
    ContainerWriter(path, HEADER).close()
    assert path.stat().st_size == 64
    with ContainerReader(path, strict=True) as r:
        assert len(r) == 0 and r.damage is None and r.header.index_offset == 64
        with pytest.raises(IndexError):
            r.read_frame(0)


def test_large_payload_round_trip(tmp_path: Path) -> None:
    payload = os.urandom(3 << 20)
    path = write(tmp_path / "big.zvc69", [(0, b"x"), (1, payload), (1, b"")])
    with ContainerReader(path) as r:
        assert r.read_frame(1)[1] == payload
        assert r.read_frame(2) == (r.read_frame_header(2), b"")


def test_writer_rejects_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "bad.zvc69"
    for bad in (
        FileHeader(width=0, height=240),
        FileHeader(width=320, height=16385),
        FileHeader(width=320, height=240, quality=9),
        FileHeader(width=320, height=240, model_hash=b"abc"),
        FileHeader(width=320, height=240, gop_size=256),
    ):
        with pytest.raises(ValueError):
            ContainerWriter(path, bad)
    assert list(tmp_path.iterdir()) == []  # refused before touching the disk
    w = ContainerWriter(path, HEADER)
    with pytest.raises(ValueError, match="only I frames"):
        w.write_frame(FrameType.P, b"x", 0, 0, keyframe=True)
    with pytest.raises(ValueError, match="frame type"):
        w.write_frame(4, b"x", 0, 0, keyframe=False)
    with pytest.raises(ValueError):
        w.write_frame(FrameType.P, b"x", -1, 0, keyframe=False)
    assert w.write_frame(FrameType.I, b"ok", 0, 0, keyframe=True) == 0
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write_frame(FrameType.P, b"x", 0, 0, keyframe=False)
    with ContainerReader(path, strict=True) as r:
        assert len(r) == 1 and r.read_frame(0)[1] == b"ok"


def test_existing_output_survives_until_new_file_is_complete(tmp_path: Path) -> None:
    path = write(tmp_path / "out.zvc69", [(0, b"old")])
    old = path.read_bytes()
    w = ContainerWriter(path, HEADER)
    w.write_frame(FrameType.I, b"new", 0, 0, keyframe=True)
    w.flush()
    assert path.read_bytes() == old and w.partial_path.exists()
    w.abort(keep=False)
    assert path.read_bytes() == old and not w.partial_path.exists()
    w.abort(keep=False)  # idempotent
    with ContainerWriter(path, HEADER) as w2:
        w2.write_frame(FrameType.I, b"new", 0, 0, keyframe=True)
        assert path.read_bytes() == old
    with ContainerReader(path, strict=True) as r:
        assert r.read_frame(0)[1] == b"new"


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_exception_in_with_block_finalises_frames_so_far(tmp_path: Path, exc: type) -> None:
    path = write(tmp_path / "out.zvc69", [(0, b"old")])
    with pytest.raises(exc), ContainerWriter(path, HEADER) as w:
        for n in range(5):
            w.write_frame(FrameType.I if n == 0 else FrameType.P, bytes([n]) * 10, n, n, n == 0)
            if n == 2:
                raise exc()
    assert not w.partial_path.exists()
    with ContainerReader(path, strict=True) as r:
        assert len(r) == 3
        assert [r.read_frame(n)[1] for n in range(3)] == [bytes([n]) * 10 for n in range(3)]


def test_frame_cut_short_by_an_exception_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "out.zvc69"
    with pytest.raises(KeyboardInterrupt), ContainerWriter(path, HEADER) as w:
        w.write_frame(FrameType.I, b"one", 0, 0, keyframe=True)
        w.write_frame(FrameType.P, b"two", 1, 1, keyframe=False)
        assert w._file is not None
        w._file.write(b"\x01\x00\x00\x00half a frame")  # as if Ctrl-C hit inside write_frame
        raise KeyboardInterrupt
    with ContainerReader(path, strict=True) as r:
        assert [r.read_frame(n)[1] for n in range(len(r))] == [b"one", b"two"]


def test_exception_before_any_frame_keeps_existing_output(tmp_path: Path) -> None:
    path = write(tmp_path / "out.zvc69", [(0, b"old")])
    old = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), ContainerWriter(path, HEADER) as w:
        raise KeyboardInterrupt
    assert path.read_bytes() == old and not w.partial_path.exists()


def test_abort_keep_finalises(tmp_path: Path) -> None:
    path = tmp_path / "out.zvc69"
    w = ContainerWriter(path, HEADER)
    w.write_frame(FrameType.I, b"abc", 0, 0, keyframe=True)
    w.abort(keep=True)
    assert not w.partial_path.exists()
    with ContainerReader(path, strict=True) as r:
        assert len(r) == 1 and r.read_frame(0)[1] == b"abc"


def test_partial_file_is_recovered_while_writing(tmp_path: Path) -> None:
    payloads = [bytes([n]) * (10 + n) for n in range(6)]
    w = ContainerWriter(tmp_path / "live.zvc69", HEADER)
    for n, p in enumerate(payloads):
        w.write_frame(FrameType.I if n % 3 == 0 else FrameType.P, p, n, n, n % 3 == 0)
    w.flush()
    partial = w.partial_path
    with ContainerReader(partial) as r:
        assert r.index_rebuilt
        assert r.damage == "index missing: rebuilt by scanning 6 frame headers"
        assert [r.read_frame(n)[1] for n in range(len(r))] == payloads
        assert [e.flags for e in r.index] == [IS_KEYFRAME | IS_REFERENCE, 2, 2] * 2
        assert r.keyframe_before(5) == 3
    with pytest.raises(ZVC69FormatError, match="index missing"):
        ContainerReader(partial, strict=True)
    # a frame cut in the middle, as when the process dies mid-write
    cut = tmp_path / "cut.zvc69.partial"
    data = partial.read_bytes()
    frame = FrameHeader(frame_type=FrameType.P, payload_size=1000, crc=0).pack()
    cut.write_bytes(data + frame + bytes(497))
    with ContainerReader(cut) as r:
        assert len(r) == 6
        assert r.damage == (
            "index missing: rebuilt by scanning 6 frame headers; trailing 513 bytes of an "
            f"incomplete frame (payload of 1000 bytes) ignored (at byte offset {len(data)})"
        )
    w.abort(keep=False)


KILLED_WRITER = """
import os, signal, sys
from codec.container import ContainerWriter, FileHeader
w = ContainerWriter(sys.argv[1], FileHeader(width=64, height=64))
for n in range(4):
    w.write_frame(0 if n == 0 else 1, bytes([n]) * 100, n, n, n == 0)
w.flush()
w.write_frame(1, bytes(5000), 9, 9, False)  # still partly in the write buffer
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_writer_leaves_recoverable_partial(tmp_path: Path) -> None:
    path = write(tmp_path / "out.zvc69", [(0, b"old")])
    old = path.read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT, timeout=60)
    assert proc.returncode != 0
    assert path.read_bytes() == old
    with ContainerReader(tmp_path / "out.zvc69.partial") as r:
        assert r.index_rebuilt and r.damage is not None
        assert len(r) >= 4
        assert [r.read_frame(n)[1] for n in range(4)] == [bytes([n]) * 100 for n in range(4)]


def test_read_frame_header_skips_payload_crc(tmp_path: Path) -> None:
    path = write(tmp_path / "x.zvc69", [(0, b"a" * 50), (1, b"b" * 50), (1, b"c" * 50)])
    data = bytearray(path.read_bytes())
    payload_at = 64 + 66 + 16
    data[payload_at + 10] ^= 0x40
    path.write_bytes(data)
    with ContainerReader(path, strict=True) as r:
        assert r.read_frame_header(1).payload_size == 50
        with pytest.raises(CRCMismatchError) as e:
            r.read_frame(1)
        assert e.value.offset == payload_at
        assert r.read_frame(0)[1] == b"a" * 50 and r.read_frame(2)[1] == b"c" * 50


def test_out_of_range_frame_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "x.zvc69", [(0, b"a"), (1, b"b")])
    with ContainerReader(path) as r:
        for n in (-1, 2):
            with pytest.raises(IndexError):
                r.read_frame(n)
            with pytest.raises(IndexError):
                r.keyframe_before(n)
        assert r.keyframe_before(1) == 0
