"""Helpers over python-snap7 1.x's public API (and its bundled native Snap7 client).

python-snap7 1.3's `read_area`/`write_area` always use byte (or timer/counter) word length,
so bit access goes through `read_multi_vars`/`write_multi_vars` with `S7WLBit` items, which
Snap7 sends as single-item requests with transport size BIT. `write_multi_vars` in 1.3 drops
the per-item results, so `write_items` calls the same native entry point (`Cli_WriteMultiVars`)
on the same client handle to see them.
"""

import ctypes

from snap7.types import (
    S7AreaCT,
    S7AreaDB,
    S7AreaMK,
    S7AreaPA,
    S7AreaPE,
    S7AreaTM,
    S7DataItem,
    S7WLBit,
    S7WLByte,
    S7WLCounter,
    S7WLTimer,
)

# Snap7 client error codes for the S7 item return codes (snap7 s7_micro_client.h).
ERR_ADDRESS_OUT_OF_RANGE = 0x00900000  # item code 0x05
ERR_DATA_SIZE_MISMATCH = 0x00B00000  # item code 0x07
ERR_ITEM_NOT_AVAILABLE = 0x00C00000  # item code 0x0A
ERR_SIZE_OVER_PDU = 0x00700000  # header error 0x8500 on the whole job
ERR_FUNCTION_REFUSED = 0x02300000  # any other item code, e.g. 0x03 access denied

AREAS = {"PE": S7AreaPE, "PA": S7AreaPA, "MK": S7AreaMK, "DB": S7AreaDB, "CT": S7AreaCT, "TM": S7AreaTM}
ELEMENT_BYTES = {S7WLBit: 1, S7WLByte: 1, S7WLCounter: 2, S7WLTimer: 2}


class Items:
    """A ctypes S7DataItem array plus the buffers its pData pointers refer to."""

    def __init__(self, specs):
        """specs: (area, db, start, amount, wordlen[, data bytes to write])."""
        self.array = (S7DataItem * len(specs))()
        self.buffers = []
        for item, spec in zip(self.array, specs):
            area, db, start, amount, wordlen = spec[:5]
            size = amount * ELEMENT_BYTES[wordlen]
            buf = (ctypes.c_uint8 * size)()
            if len(spec) > 5:
                assert len(spec[5]) == size, spec
                buf[:] = list(spec[5])
            self.buffers.append(buf)
            item.Area = area
            item.WordLen = wordlen
            item.DBNumber = db
            item.Start = start
            item.Amount = amount
            item.Result = -1
            item.pData = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))

    def results(self):
        return [item.Result for item in self.array]

    def data(self, i):
        return bytes(self.buffers[i])


def read_items(client, specs):
    """read_multi_vars on `specs`; returns (per-item Snap7 results, per-item bytes)."""
    items = Items(specs)
    code, _ = client.read_multi_vars(items.array)
    assert code == 0
    return items.results(), [items.data(i) for i in range(len(specs))]


def write_items(client, specs):
    """Writes `specs` in one WriteMultiVars job; returns (job result, per-item results)."""
    items = Items(specs)
    code = client._library.Cli_WriteMultiVars(
        client._pointer, ctypes.byref(items.array), ctypes.c_int32(len(specs))
    )
    return code, items.results()


def write_bit(client, area, db, byte, bit, value):
    """One BIT write through the public write_multi_vars API."""
    items = Items([(area, db, byte * 8 + bit, 1, S7WLBit, bytes([1 if value else 0]))])
    assert client.write_multi_vars(list(items.array)) == 0


def read_bit(client, area, db, byte, bit):
    results, data = read_items(client, [(area, db, byte * 8 + bit, 1, S7WLBit)])
    assert results == [0]
    return data[0][0]
