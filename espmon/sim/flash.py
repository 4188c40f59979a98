"""The board's SPI NOR flash chip: contents in memory, JEDEC id, SFDP table, modes.

Writes behave like NOR flash: programming can only clear bits, so data written over a
region that was not erased comes out as the AND of old and new (an erased byte is 0xFF).
"""

from __future__ import annotations

import hashlib

__all__ = ["FlashChip", "FLASH_SIZES", "parse_size", "SECTOR"]

SECTOR = 0x1000
MANUFACTURER_WINBOND = 0xEF
FLASH_SIZES = {f"{n}MB": n << 20 for n in (1, 2, 4, 8, 16, 32)}

# A minimal JEDEC SFDP table: signature, revision 1.6, one parameter header.
_SFDP = bytes.fromhex("53464450" "06010001" "00060110" "300000ff") + b"\xff" * 16


def parse_size(text: str) -> int:
    """``4MB``, ``4M``, ``0x400000`` or ``4194304`` -> bytes."""
    value = text.strip().upper().removesuffix("B")
    if value.endswith("M"):
        size = int(value[:-1]) << 20
    elif value.endswith("K"):
        size = int(value[:-1]) << 10
    else:
        size = int(value, 0)
    if size < 0x10000 or size & (size - 1):
        raise ValueError(f"flash size must be a power of two of at least 64 KB, got {text!r}")
    return size


class FlashChip:
    """``size`` bytes of NOR flash, erased (0xFF) at power-up unless ``image`` is given."""

    def __init__(self, size: int = 4 << 20, *, modes: tuple[str, ...] = ("qio", "qout", "dio", "dout")):
        self.size = size
        self.modes = modes  # SPI modes the chip (and its wiring) supports
        self.data = bytearray(b"\xff" * size)
        self.writes = 0  # program operations so far (for tests and faults)

    @property
    def jedec_id(self) -> int:
        """RDID as esptool reads it: manufacturer in bits 0-7, capacity (log2) in 16-23."""
        capacity = self.size.bit_length() - 1
        return MANUFACTURER_WINBOND | (0x40 << 8) | (capacity << 16)

    def supports(self, mode: str) -> bool:
        return mode.lower() in self.modes

    def load(self, offset: int, blob: bytes) -> None:
        """Preload contents (as if flashed in the factory), no erase semantics."""
        end = min(self.size, offset + len(blob))
        self.data[offset:end] = blob[: end - offset]

    def erase(self, offset: int, size: int) -> None:
        """Erase the sectors covering [offset, offset+size)."""
        start = offset - offset % SECTOR
        end = min(self.size, -(-(offset + size) // SECTOR) * SECTOR)
        if end > start:
            self.data[start:end] = b"\xff" * (end - start)

    def erase_all(self) -> None:
        self.data[:] = b"\xff" * self.size

    def write(self, offset: int, blob: bytes) -> bool:
        """Program ``blob`` at ``offset`` (NOR semantics). False if it runs past the end."""
        if offset < 0 or offset + len(blob) > self.size:
            return False
        if not blob:
            return True
        old = int.from_bytes(self.data[offset:offset + len(blob)], "little")
        new = int.from_bytes(blob, "little")
        self.data[offset:offset + len(blob)] = (old & new).to_bytes(len(blob), "little")
        self.writes += 1
        return True

    def read(self, offset: int, size: int) -> bytes:
        """Reads past the end wrap around, as the address lines of a real chip do."""
        offset %= self.size
        out = bytes(self.data[offset:offset + size])
        while len(out) < size:
            out += bytes(self.data[: size - len(out)])
        return out

    def md5(self, offset: int, size: int) -> bytes:
        return hashlib.md5(self.read(offset, size)).digest()

    def sfdp(self, address: int, nbytes: int) -> int:
        chunk = (_SFDP + b"\xff" * 256)[address:address + nbytes]
        return int.from_bytes(chunk.ljust(nbytes, b"\xff"), "little")
