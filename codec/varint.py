"""Unsigned LEB128 varints: the section lengths of format 4 payloads (1 byte below 128)."""

from __future__ import annotations

from .errors import ZVC69FormatError

MAX_BYTES = 5  # values below 2^35; payload lengths are below 2^32


def pack_uvarint(n: int) -> bytes:
    """n >= 0 as 7-bit groups, least significant first, high bit set on all but the last."""
    if n < 0 or n >= 1 << (7 * MAX_BYTES):
        raise ValueError(f"varint value {n} out of range")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_uvarint(data: bytes, pos: int, what: str = "length") -> tuple[int, int]:
    """(value, position after it) of the varint at data[pos]; ZVC69FormatError naming `what`
    if it is truncated or longer than MAX_BYTES."""
    n = shift = 0
    for i in range(MAX_BYTES):
        if pos + i >= len(data):
            raise ZVC69FormatError(f"{what}: varint runs past the end of the data", pos)
        b = data[pos + i]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos + i + 1
    raise ZVC69FormatError(f"{what}: varint longer than {MAX_BYTES} bytes", pos)
