"""CRC-16/CCITT-FALSE: polynomial 0x1021, init 0xFFFF, not reflected, no final XOR."""

from __future__ import annotations

import binascii

CRC16_INIT = 0xFFFF


def crc16(data: bytes | bytearray | memoryview, crc: int = CRC16_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data``; pass a previous result as ``crc`` to continue over chunks.

    ``binascii.crc_hqx`` is exactly this CRC given the 0xFFFF start value; it is table-driven C
    (hundreds of MB/s), so megabyte payloads cost about a millisecond.
    """
    return binascii.crc_hqx(data, crc)
