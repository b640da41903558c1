"""CRC-16/CCITT-FALSE of the host link (``docs/protocol.md``); golden twin of ``fewmul.hw.crc``.

Polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR; check value
``crc16(b"123456789") == 0x29B1``. A frame carries its CRC most significant byte first, so the
CRC of the covered bytes followed by their CRC is 0 (:func:`crc16` returns 0 on a good frame).
"""

__all__ = ["POLY", "INIT", "CHECK", "crc16", "crc16_update"]

POLY = 0x1021
INIT = 0xFFFF
#: CRC of the ASCII bytes ``123456789`` (the catalogue's check value).
CHECK = 0x29B1


def _byte_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
        table.append(crc)
    return tuple(table)


_TABLE = _byte_table()


def crc16_update(crc, byte):
    """The CRC after one more byte (what the hardware computes in one clock)."""
    return ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]


def crc16(data, crc=INIT):
    """CRC-16/CCITT-FALSE of ``data`` (bytes or an iterable of ints in [0, 255])."""
    for byte in data:
        crc = crc16_update(crc, byte)
    return crc
