"""The .zvc69 container: file header, frame headers, index; streaming writer, recovering reader.

docs/FORMAT.md is the specification; all integers are little-endian. Reading errors are
ZVC69FormatError (or TruncatedError, CRCMismatchError) naming the byte offset; writing with bad
arguments raises ValueError.
"""

from __future__ import annotations

import enum
import os
import struct
from bisect import bisect_right
from dataclasses import astuple, dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from codec.crc import crc16
from codec.errors import CRCMismatchError, TruncatedError, ZVC69FormatError

MAGIC = b"ZVC69\0"
# 2.0: P-frames predicted with cubic sampling (codec.warp); layout as 1.0. 3.0: P-frames may
# carry a detail layer (codec.detail, flag bit 1 of the P-frame payload). 4.0: compact P-frame
# and detail-section headers (varint lengths), detail coefficients with context modelling.
# 5.0: in-loop deblocking after the detail layer (codec.deblock), finer detail steps. 6.0:
# I-frames may code only the picture inside flat bars (codec.bars, bit 5 of their level byte).
# 7.0: motion vectors may use context modelling and Exp-Golomb escapes (codec.mvcoding mode 2);
# wider prediction weights with an optional region (codec.weights). 8.0: I-frame latents may be
# coded as differences from a spatial prediction (codec.latent_prediction, bit 4 of the level
# byte). 9.0: B-frames (frame type 2; codec.bipred), stored in decode order. 10.0: a B-frame's
# mode map and motion fields in one section (codec.bside); 16-byte frame headers (no dts: decode
# order is file order) and 8-byte index entries (no frame number: it is the entry's position).
# 11.0: a detail section's blocks may be coded as four 4x4 transforms (codec.detail). 12.0: an
# adaptive loop filter may end a frame's payload (codec.alf; frame header byte 0 bit 5). 13.0:
# P- and B-frames may be predicted with an 8-tap interpolation filter (codec.warp.SHARP8; bit 6
# of the motion byte, codec.inter). 14.0: P-frames may have 32x32 motion blocks (bit 5 of the
# motion byte, as B-frames). 15.0: a detail section's 16x16 and 32x32 regions may each be coded
# as one transform (codec.detail, codec.regions; bits 6 and 7 of its level byte). 16.0: grey
# frames (codec.grey; frame header byte 0 bit 6): luma-only detail layer, grey reconstruction.
# 17.0: a detail section's 64x64 regions may be coded as one transform (codec.regions; its level
# byte holds level - 1 in bits 0-2 and bit 3 flags them). 18.0: the file header flag YCC_AXES
# puts the detail layer's colour axes along Y, Cb and Cr (codec.detail.AXES_YCC).
VERSION = (18, 0)
READABLE_MAJORS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
FILE_HEADER_SIZE = 64
FRAME_HEADER_SIZE = 32  # formats 1-9
INDEX_ENTRY_SIZE = 16
COMPACT_FROM = 10  # the major version with 16-byte frame headers and 8-byte index entries
FILTERED = 0x20  # frame header byte 0: the payload ends with a loop filter record (codec.alf)
FILTERED_FROM = 12  # the major version with that bit
GREY = 0x40  # frame header byte 0: a grey frame (codec.grey)
GREY_FROM = 16  # the major version with that bit
# Majors whose frames the newest of them reads as they were meant (each one only adds to the
# one before): a damaged version byte that hides one of them is read as the newest.
UPWARD_READABLE = (10, 11, 12, 13, 14, 15, 16, 17, 18)
MAX_PTS = 1 << 40  # format 10 stores 40-bit pts (90 kHz: about 141 days)
MAX_DIMENSION = 16384
MAX_CHANNELS = 4096

HAS_INDEX = 1  # file header flags
HAS_B_FRAMES = 2
YCC_AXES = 4  # format 18: detail sections code Y, Cb, Cr axes (a format 10-17 file lacks it)
IS_KEYFRAME = 1  # index entry flags
IS_REFERENCE = 2

FRAME_TYPE_LABELS = ("I", "P", "B", "b")  # same as codec.stats.FRAME_TYPES
COLOUR_SPACES = ("YUV420", "YUV444", "RGB")

_FILE = struct.Struct("<6sBBIHHHHIBBBB4sQII16s")
_FRAME = struct.Struct("<BBHIQQhH4s")
_ENTRY = struct.Struct("<IQI")
# format 10: type | layer << 2, qp offset, ref flags, payload size, pts low 32 and high 8 bits,
# header check (`_header_check`), payload CRC
_FRAME10 = struct.Struct("<BbHIIBBH")
_ENTRY10 = struct.Struct("<IHH")  # offset low 32, high 16, flags


def _header_check(head: bytes) -> int:
    """Format 10's check byte of a frame header: the low 8 bits of the CRC-16 of its first 13
    bytes (a scan of a damaged file then takes 1 in 2048 random 16 bytes for a header; the
    payload CRC after it is checked against the payload)."""
    return crc16(bytes(head[:13])) & 0xFF


def frame_header_size(major: int) -> int:
    """Bytes of a frame header in a format `major` file."""
    return FRAME_HEADER_SIZE if major < COMPACT_FROM else _FRAME10.size


def index_entry_size(major: int) -> int:
    """Bytes of an index entry in a format `major` file."""
    return INDEX_ENTRY_SIZE if major < COMPACT_FROM else _ENTRY10.size

Problem = tuple[str, int]  # message, offset relative to the structure's start


def number_of(pts: int, fps: Fraction) -> int:
    """The frame number (display order) of a pts (90 kHz ticks) at the stream's frame rate."""
    return round(pts * fps / 90000)


class FrameType(enum.IntEnum):
    """Frame types stored in the frame header."""

    I = 0  # noqa: E741
    P = 1
    B = 2
    B_BI = 3

    @property
    def label(self) -> str:
        return FRAME_TYPE_LABELS[self]


@dataclass(frozen=True, kw_only=True)
class FileHeader:
    """The 64-byte file header (FORMAT.md section 3); fields in file order."""

    version_major: int = VERSION[0]
    version_minor: int = VERSION[1]
    flags: int = 0
    width: int
    height: int
    fps_num: int = 30
    fps_den: int = 1
    total_frames: int = 0
    gop_size: int = 0
    quality: int = 4
    colour_space: int = 0
    bit_depth: int = 8
    model_hash: bytes = bytes(4)
    index_offset: int = 0
    latent_channels: int = 0
    hyperprior_channels: int = 0

    @property
    def fps(self) -> float:
        return self.fps_num / self.fps_den

    def problem(self) -> Problem | None:
        """The first rule of FORMAT.md section 3 this header breaks, or None."""
        if self.version_major not in READABLE_MAJORS:
            v = f"{self.version_major}.{self.version_minor}"
            names = [f"{m}.x" for m in READABLE_MAJORS]
            known = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
            return f"unsupported version {v} (this reader knows {known})", 6
        for name, value, lo, hi, at in (
            ("width", self.width, 1, MAX_DIMENSION, 12),
            ("height", self.height, 1, MAX_DIMENSION, 14),
            ("frame-rate numerator", self.fps_num, 1, 0xFFFF, 16),
            ("frame-rate denominator", self.fps_den, 1, 0xFFFF, 18),
            ("quality level", self.quality, 1, 8, 25),
            ("colour space", self.colour_space, 0, len(COLOUR_SPACES) - 1, 26),
            ("bit depth", self.bit_depth, 1, 16, 27),
            ("latent channels", self.latent_channels, 0, MAX_CHANNELS, 40),
            ("hyperprior channels", self.hyperprior_channels, 0, MAX_CHANNELS, 44),
        ):
            if not lo <= value <= hi:
                return f"{name} {value} outside {lo}..{hi}", at
        if not isinstance(self.model_hash, bytes) or len(self.model_hash) != 4:
            return f"model hash must be 4 bytes, got {self.model_hash!r}", 28
        return None

    def pack(self) -> bytes:
        """The 64 header bytes; ValueError if a field is out of range."""
        problem = self.problem()
        if problem is not None:
            raise ValueError(f"invalid file header: {problem[0]}")
        try:
            return _FILE.pack(MAGIC, *astuple(self), bytes(16))
        except struct.error as e:
            raise ValueError(f"invalid file header: {e}") from None

    @classmethod
    def unpack(cls, data: bytes) -> FileHeader:
        """Parse and check the header at the start of ``data``."""
        if data[: len(MAGIC)] != MAGIC[: len(data)]:
            raise ZVC69FormatError(f"not a ZVC69 file: magic is {bytes(data[:6])!r}", 0)
        if len(data) < FILE_HEADER_SIZE:
            raise TruncatedError(f"file header needs 64 bytes, the file has {len(data)}", 0)
        values = _FILE.unpack_from(data)[1:-1]
        header = cls(**dict(zip(_FIELD_NAMES, values, strict=True)))
        problem = header.problem()
        if problem is not None:
            raise ZVC69FormatError(f"bad file header: {problem[0]}", problem[1])
        return header


@dataclass(frozen=True, kw_only=True)
class FrameHeader:
    """The 32-byte header in front of every frame payload (FORMAT.md section 4)."""

    frame_type: FrameType
    temporal_layer: int = 0
    ref_flags: int = 0
    payload_size: int
    pts: int = 0
    dts: int = 0
    qp_offset: int = 0
    crc: int
    filtered: bool = False  # format 12: the payload ends with a loop filter record (codec.alf)
    grey: bool = False  # format 16: a grey frame (codec.grey)

    @property
    def label(self) -> str:
        return FRAME_TYPE_LABELS[self.frame_type]

    def pack(self, major: int = VERSION[0]) -> bytes:
        """The header bytes of a format `major` file (32, or 16 from format 10, which has no
        dts); ValueError if a field is out of range."""
        try:
            if self.filtered and major < FILTERED_FROM:
                raise struct.error(f"format {major} has no loop filter records")
            if self.grey and major < GREY_FROM:
                raise struct.error(f"format {major} has no grey frames")
            if major < COMPACT_FROM:
                return _FRAME.pack(FrameType(self.frame_type), *astuple(self)[1:-2], bytes(4))
            if not 0 <= self.temporal_layer < 8 or not 0 <= self.pts < MAX_PTS:
                raise struct.error("temporal layer or pts out of range")
            head = bytearray(_FRAME10.pack(
                FrameType(self.frame_type) | self.temporal_layer << 2
                | FILTERED * self.filtered | GREY * self.grey, self.qp_offset,
                self.ref_flags, self.payload_size, self.pts & 0xFFFFFFFF, self.pts >> 32, 0,
                self.crc))
            head[13] = _header_check(head)
            return bytes(head)
        except struct.error as e:
            raise ValueError(f"invalid frame header: {e}") from None

    @staticmethod
    def problem(data: bytes, major: int = VERSION[0]) -> Problem | None:
        """Why these bytes are not a well formed frame header of format `major`, or None."""
        size = frame_header_size(major)
        if len(data) < size:
            return f"incomplete frame header ({len(data)} of {size} bytes)", 0
        if major >= COMPACT_FROM:
            # (bit 5, FILTERED, is the decoder's to refuse before format 12)
            if data[0] >> (7 if major >= GREY_FROM else 6):
                return f"non-zero reserved bits in frame header byte {data[0]:#04x}", 0
            if data[13] != _header_check(data):
                return "frame header fails its check byte", 13
            return None
        if data[0] >= len(FrameType):
            return f"bad frame type {data[0]}", 0
        if any(data[28:32]):
            return f"non-zero reserved bytes {bytes(data[28:32]).hex()} in frame header", 28
        return None

    @classmethod
    def unpack(cls, data: bytes, offset: int, major: int = VERSION[0]) -> FrameHeader:
        """Parse a format `major` frame header found at file ``offset`` (used in error
        messages); format 10 headers have dts 0 (`ContainerReader` fills it in)."""
        problem = cls.problem(data, major)
        if problem is not None:
            error = TruncatedError if len(data) < frame_header_size(major) else ZVC69FormatError
            raise error(problem[0], offset + problem[1])
        if major >= COMPACT_FROM:
            tl, qp, refs, size, lo, hi, _, crc = _FRAME10.unpack_from(data)
            return cls(frame_type=FrameType(tl & 3), temporal_layer=tl >> 2 & 7, ref_flags=refs,
                       payload_size=size, pts=lo | hi << 32, qp_offset=qp, crc=crc,
                       filtered=bool(tl & FILTERED), grey=bool(tl & GREY))
        t, *values, _ = _FRAME.unpack_from(data)
        return cls(frame_type=FrameType(t), **dict(zip(_FRAME_FIELDS, values, strict=True)))


_FIELD_NAMES = tuple(f.name for f in fields(FileHeader))
_FRAME_FIELDS = tuple(f.name for f in fields(FrameHeader))[1:-2]  # (not filtered, grey)


@dataclass(frozen=True)
class IndexEntry:
    """One 16-byte index entry (FORMAT.md section 5)."""

    frame_number: int
    offset: int
    flags: int = 0

    @property
    def keyframe(self) -> bool:
        return bool(self.flags & IS_KEYFRAME)

    @property
    def reference(self) -> bool:
        return bool(self.flags & IS_REFERENCE)


def _pack_entry(e: IndexEntry, major: int) -> bytes:
    if major < COMPACT_FROM:
        return _ENTRY.pack(e.frame_number, e.offset, e.flags)
    return _ENTRY10.pack(e.offset & 0xFFFFFFFF, e.offset >> 32, e.flags)


class ContainerWriter:
    """Streams frames to ``<path>.partial``; ``close()`` adds the index and renames atomically.

    As a context manager, an exception in the block (KeyboardInterrupt included) finalises the
    frames written so far and is then re-raised.
    """

    def __init__(self, path: str | os.PathLike[str], header: FileHeader) -> None:
        self.path = Path(path)
        self.partial_path = self.path.with_name(self.path.name + ".partial")
        self._header = replace(
            header,
            version_major=VERSION[0],
            version_minor=VERSION[1],
            flags=header.flags & ~HAS_INDEX,
            total_frames=0,
            index_offset=0,
        )
        first = self._header.pack()  # validate before touching the disk
        self._flags = self._header.flags
        self._index: list[IndexEntry] = []
        self._pos = FILE_HEADER_SIZE
        self._done = False
        self._file: BinaryIO | None = open(self.partial_path, "wb")  # noqa: SIM115
        self._file.write(first)

    @property
    def frame_header_size(self) -> int:
        return frame_header_size(self._header.version_major)

    @property
    def frames_written(self) -> int:
        return len(self._index)

    def write_frame(
        self,
        frame_type: int,
        payload: bytes | bytearray | memoryview,
        pts: int,
        dts: int,
        keyframe: bool,
        reference: bool = True,
        temporal_layer: int = 0,
        ref_flags: int = 0,
        qp_offset: int = 0,
        filtered: bool = False,
        grey: bool = False,
    ) -> int:
        """Append one frame; returns its frame number. filtered: the payload ends with a loop
        filter record (format 12, codec.alf); grey: a grey frame (format 16, codec.grey)."""
        if self._file is None:
            raise ValueError(f"{self.partial_path}: writer is closed")
        if frame_type not in tuple(FrameType):
            raise ValueError(f"bad frame type {frame_type!r}")
        if keyframe and frame_type != FrameType.I:
            raise ValueError("only I frames can be keyframes")
        size = memoryview(payload).nbytes
        fh = FrameHeader(
            frame_type=FrameType(frame_type),
            temporal_layer=temporal_layer,
            ref_flags=ref_flags,
            payload_size=size,
            pts=pts,
            dts=dts,
            qp_offset=qp_offset,
            crc=crc16(payload),
            filtered=filtered,
            grey=grey,
        )
        head = fh.pack(self._header.version_major)
        self._file.write(head)
        self._file.write(payload)
        n = len(self._index)
        flags = (IS_KEYFRAME if keyframe else 0) | (IS_REFERENCE if reference else 0)
        self._index.append(IndexEntry(n, self._pos, flags))
        self._pos += len(head) + size
        if frame_type in (FrameType.B, FrameType.B_BI):
            self._flags |= HAS_B_FRAMES
        return n

    def flush(self) -> None:
        """Push written frames to the OS, so that readers of the ``.partial`` file see them."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> Path:
        """Write the index, patch the file header, rename onto the final name; idempotent."""
        if self._done:
            return self.path
        f = self._file
        if f is None:
            raise ValueError(f"{self.partial_path}: writer was aborted")
        try:
            f.seek(self._pos)  # drop a frame cut short by an exception inside write_frame
            f.truncate()
            f.write(b"".join(_pack_entry(e, self._header.version_major) for e in self._index))
            header = replace(
                self._header,
                flags=self._flags | HAS_INDEX,
                total_frames=len(self._index),
                index_offset=self._pos,
            )
            f.seek(0)
            f.write(header.pack())
            f.flush()
            os.fsync(f.fileno())
        finally:
            f.close()
            self._file = None
        os.replace(self.partial_path, self.path)
        self._done = True
        return self.path

    def abort(self, keep: bool = False) -> None:
        """Stop writing: keep=True finalises the frames so far (if any), keep=False discards.

        If finalising fails, the ``.partial`` file is left for a reader to recover.
        """
        if self._done:
            return
        if keep and self._index:
            if self._file is not None:
                self.close()
            return
        if self._file is not None:
            self._file.close()
            self._file = None
        self.partial_path.unlink(missing_ok=True)

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(keep=True)


@dataclass
class _Chain:
    """Result of following frame headers from offset 64."""

    offsets: list[int]
    types: list[FrameType]
    stop: int  # where the scan ended
    reason: str | None  # why it ended early (None: at the index offset or end of file)
    pts: list[int] = field(default_factory=list)


def _text(message: str, offset: int | None) -> str:
    """How ZVC69FormatError words a problem."""
    return str(ZVC69FormatError(message, offset))


class ContainerReader:
    """Random access to the frames of a .zvc69 file, recovering a missing or damaged index.

    ``damage`` says what was wrong (None for an intact file) and ``index_rebuilt`` whether the
    index was rebuilt by scanning; with ``strict=True`` any damage raises instead.
    """

    header: FileHeader
    index: list[IndexEntry]
    file_size: int

    def __init__(self, path: str | os.PathLike[str], strict: bool = False) -> None:
        self.path = Path(path)
        self.index_rebuilt = False
        self.damage: str | None = None
        self._file: BinaryIO = open(self.path, "rb", buffering=0)  # noqa: SIM115
        try:
            self._open(strict)
        except BaseException:
            self._file.close()
            raise

    def _read_at(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        chunks = []
        while size > 0:
            chunk = self._file.read(size)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _open(self, strict: bool) -> None:
        self.file_size = size = os.fstat(self._file.fileno()).st_size
        if size == 0:
            raise TruncatedError("empty file, no ZVC69 file header", 0)
        self.header = FileHeader.unpack(self._read_at(0, FILE_HEADER_SIZE))
        major = self.header.version_major
        self.frame_header_size = frame_header_size(major)
        self._entry_size = index_entry_size(major)
        index, index_problem = self._load_index()
        chain = self._scan()
        # every frame's type and pts, when the header chain covers exactly the frames in use
        self.scanned: tuple[list[FrameType], list[int]] | None = None
        problems: list[tuple[str, int | None]] = []  # (what, offset): the first one for strict
        notes: list[str] = []  # for self.damage
        if index is None and not chain.offsets and size > FILE_HEADER_SIZE:
            layout = self._other_layout()
            if layout is not None:
                index, index_problem, chain, note = layout
                problems.append((note, 6))
                notes.append(_text(note, 6))
        if (
            index is not None
            and chain.reason is None
            and chain.offsets == [e.offset for e in index]
        ):
            self._use(index, self.header.index_offset)
            self.scanned = chain.types, chain.pts
        elif index is not None and chain.reason is not None:
            self._use(index, self.header.index_offset)
            problems.append((f"frame header chain broken by {chain.reason}", chain.stop))
            notes.append(f"{_text(*problems[0])}; using the index")
        else:
            if index_problem is None:
                assert index is not None
                index_problem = self._mismatch(index, chain.offsets)
            problems.append(index_problem)
            n = len(chain.offsets)
            notes.append(f"{_text(*index_problem)}: rebuilt by scanning {n} frame headers")
            if chain.reason is not None:
                trailing = f"trailing {size - chain.stop} bytes of {chain.reason} ignored"
                problems.append((trailing, chain.stop))
                notes.append(_text(trailing, chain.stop))
            self._rebuild(chain)
            self.scanned = chain.types, chain.pts
        if problems and strict:
            raise ZVC69FormatError(*problems[0])
        self.damage = "; ".join(notes) or None

    def _other_layout(self) -> tuple[list[IndexEntry] | None, tuple[str, int | None] | None,
                                     _Chain, str] | None:
        """Nothing reads with the frame layout the version byte names: when the other layout
        (format 10's 16-byte frame headers, or formats 1-9's 32-byte ones) reads frames, the
        version byte is damaged. The compact layout's majors (10, 11) are read as the newest,
        which reads the older's frames alike (returned: index, its problem, chain and a note);
        formats 1-9's cannot say which: ZVC69FormatError. None when the other layout reads
        nothing either."""
        h = self.header
        said = f"{h.version_major}.{h.version_minor}"
        compact = h.version_major < COMPACT_FROM  # the layout to try
        majors = [m for m in READABLE_MAJORS if (m >= COMPACT_FROM) == compact]
        layout = "16-byte" if compact else "32-byte"
        saved = self.header, self.frame_header_size, self._entry_size
        self.header = replace(h, version_major=majors[-1])
        self.frame_header_size = frame_header_size(majors[-1])
        self._entry_size = index_entry_size(majors[-1])
        index, problem = self._load_index()
        chain = self._scan()
        if not chain.offsets:
            self.header, self.frame_header_size, self._entry_size = saved
            return None
        names = f"format {majors[0]}" if len(majors) == 1 else f"formats {majors[0]}-{majors[-1]}"
        what = (f"the file header says version {said}, but the frames are laid out as {names} "
                f"({layout} frame headers): the version byte is damaged")
        if not set(majors) <= set(UPWARD_READABLE):
            raise ZVC69FormatError(what, 6)
        return index, problem, chain, f"{what}; read as {majors[-1]}.{h.version_minor}"

    def _load_index(self) -> tuple[list[IndexEntry] | None, tuple[str, int | None] | None]:
        """The index if it passes rules 1-4 of FORMAT.md section 5, else why not."""
        h, size = self.header, self.file_size
        x, n = h.index_offset, h.total_frames
        if not h.flags & HAS_INDEX:
            if x == 0:
                return None, ("index missing", None)
            return None, (f"index offset {x} set but HAS_INDEX flag clear", 8)
        es, fs = self._entry_size, self.frame_header_size
        if x < FILE_HEADER_SIZE or x + es * n != size:
            end = x + es * n
            return None, (f"index of {n} entries at {x} would end at {end}, file has {size}", 32)
        if n == 0 and x != FILE_HEADER_SIZE:
            return None, (f"empty index but frame data from 64 to {x}", 32)
        raw = self._read_at(x, es * n)
        entries: list[IndexEntry] = []
        lowest = FILE_HEADER_SIZE
        compact = fs < FRAME_HEADER_SIZE
        rows = ((i, lo | hi << 32, fl) for i, (lo, hi, fl) in enumerate(_ENTRY10.iter_unpack(raw))
                ) if compact else _ENTRY.iter_unpack(raw)
        at_off = 0 if compact else 4  # where an entry's offset field starts
        for i, (num, off, flags) in enumerate(rows):
            at = x + es * i
            if num != i:
                return None, (f"index entry {i} has frame number {num}", at)
            if (i == 0 and off != FILE_HEADER_SIZE) or off < lowest:
                return None, (f"index entry {i} offset {off} out of order", at + at_off)
            if off + fs > x:
                return None, (f"index entry {i} offset {off} points past the frames",
                              at + at_off)
            lowest = off + fs
            entries.append(IndexEntry(num, off, flags))
        return entries, None

    def _scan(self) -> _Chain:
        """Follow frame headers from offset 64 (FORMAT.md section 8)."""
        pos, end, stop_at = FILE_HEADER_SIZE, self.file_size, self.header.index_offset
        major, fs = self.header.version_major, self.frame_header_size
        chain = _Chain([], [], pos, None)
        while pos < end and pos != stop_at:
            raw = self._read_at(pos, fs)
            problem = FrameHeader.problem(raw, major)
            if problem is not None:
                chain.reason = (
                    problem[0]
                    if len(raw) < fs
                    else (f"data that is not a frame header ({problem[0]})")
                )
                break
            size = int.from_bytes(raw[4:8], "little")
            if pos + fs + size > end:
                chain.reason = f"an incomplete frame (payload of {size} bytes)"
                break
            chain.offsets.append(pos)
            chain.types.append(FrameType(raw[0] & 3 if fs < FRAME_HEADER_SIZE else raw[0]))
            chain.pts.append(int.from_bytes(raw[8:13] if fs < FRAME_HEADER_SIZE else raw[8:16],
                                            "little"))
            pos += fs + size
        chain.stop = pos
        return chain

    def _mismatch(self, index: list[IndexEntry], offsets: list[int]) -> tuple[str, int]:
        x = self.header.index_offset
        for i, (entry, off) in enumerate(zip(index, offsets, strict=False)):
            if entry.offset != off:
                return f"index entry {i} offset {entry.offset} disagrees with frame headers", (
                    x + self._entry_size * i + (4 if self._entry_size == INDEX_ENTRY_SIZE else 0)
                )
        return f"index lists {len(index)} frames, frame headers {len(offsets)}", 20

    def _use(self, index: list[IndexEntry], data_end: int) -> None:
        self.index = index
        self._ends = [e.offset for e in index[1:]] + [data_end] if index else []
        self._keyframes = [e.frame_number for e in index if e.keyframe]

    def _rebuild(self, chain: _Chain) -> None:
        flags = [IS_REFERENCE | (IS_KEYFRAME if t == FrameType.I else 0) for t in chain.types]
        self.index_rebuilt = True
        self._use(
            [
                IndexEntry(i, o, f)
                for i, (o, f) in enumerate(zip(chain.offsets, flags, strict=True))
            ],
            chain.stop,
        )

    def __len__(self) -> int:
        return len(self.index)

    def _entry(self, n: int) -> IndexEntry:
        if not 0 <= n < len(self.index):
            raise IndexError(f"frame {n} out of range: the file has {len(self.index)} frames")
        return self.index[n]

    def read_frame_header(self, n: int) -> FrameHeader:
        """Header of frame ``n`` (checked against the index), without reading the payload."""
        entry = self._entry(n)
        major, fs = self.header.version_major, self.frame_header_size
        fh = FrameHeader.unpack(self._read_at(entry.offset, fs), entry.offset, major)
        if major >= COMPACT_FROM:  # not stored: decode order is file order
            fh = replace(fh, dts=round(Fraction(n * 90000 * self.header.fps_den,
                                                self.header.fps_num)))
        end = entry.offset + fs + fh.payload_size
        if end != self._ends[n]:
            raise ZVC69FormatError(
                f"frame {n}: payload size {fh.payload_size} ends at {end}, "
                f"the next structure starts at {self._ends[n]}",
                entry.offset + 4,
            )
        return fh

    def read_frame(self, n: int) -> tuple[FrameHeader, bytes]:
        """Header and payload of frame ``n``; CRCMismatchError if the payload is damaged."""
        fh = self.read_frame_header(n)
        at = self.index[n].offset + self.frame_header_size
        payload = self._read_at(at, fh.payload_size)
        if len(payload) != fh.payload_size:
            raise TruncatedError(f"frame {n}: payload cut short", at + len(payload))
        crc = crc16(payload)
        if crc != fh.crc:
            raise CRCMismatchError(
                f"frame {n}: payload CRC-16 {crc:04x} does not match {fh.crc:04x}", at
            )
        return fh, payload

    def keyframe_before(self, n: int) -> int:
        """The last keyframe at or before frame ``n``."""
        entry = self._entry(n)
        i = bisect_right(self._keyframes, n)
        if i == 0:
            raise ZVC69FormatError(f"no keyframe at or before frame {n}", entry.offset)
        return self._keyframes[i - 1]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
