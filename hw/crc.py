"""CRC-16/CCITT-FALSE over a byte stream, one byte per clock (``docs/protocol.md``).

Golden twin: ``fewmul.golden.crc``. :func:`crc16_next` builds the combinational byte update
(a flat XOR per bit, derived from the golden byte update);
:class:`CRC16` registers it.
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fewmul.golden.crc import INIT, crc16_update

__all__ = ["crc16_next", "CRC16"]


def _update_masks():
    """Per output bit, the CRC bits and data bits it is the XOR of (the update is linear)."""
    masks = []
    for bit in range(16):
        crc_mask = sum(1 << i for i in range(16) if crc16_update(1 << i, 0) >> bit & 1)
        data_mask = sum(1 << i for i in range(8) if crc16_update(0, 1 << i) >> bit & 1)
        masks.append((crc_mask, data_mask))
    return tuple(masks)


_MASKS = _update_masks()


def crc16_next(crc, byte):
    """Expression for the CRC after ``byte`` (8 bits) given the CRC ``crc`` (16 bits).

    Each output bit is a flat XOR of input bits (the byte update is linear over GF(2)), derived
    from the golden model's update so the two cannot disagree on the polynomial.
    """
    return Cat(*((crc & crc_mask).xor() ^ (byte & data_mask).xor()
                 for crc_mask, data_mask in _MASKS))


class CRC16(wiring.Component):
    """Registered CRC-16/CCITT-FALSE of the bytes strobed in since the last ``clear``.

    Ports
    -----
    clear : In(1)
        Restart at the initial value 0xFFFF (wins over ``valid``).
    valid : In(1)
        Absorb ``data`` this cycle.
    data : In(8)
    value : Out(16)
        CRC of the absorbed bytes; updated one cycle after ``valid`` (latency 1).
    next_value : Out(16)
        Combinational: what ``value`` becomes if ``data`` is absorbed this cycle.
    """

    latency = 1

    clear: In(1)
    valid: In(1)
    data: In(8)
    value: Out(16, init=INIT)
    next_value: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.next_value.eq(crc16_next(self.value, self.data))
        with m.If(self.clear):
            m.d.sync += self.value.eq(INIT)
        with m.Elif(self.valid):
            m.d.sync += self.value.eq(self.next_value)
        return m
