"""Zero-copy DWARF sections: pyelftools reads them through a window on the mapped ELF.

pyelftools copies every debug section into a BytesIO before parsing it, so a big
ESP-IDF app (tens of MB of DWARF) would stay resident after the first lookup. A window
on the file mapping gives it the same seek/read/tell interface; only the pages it
touches are read, and the kernel can drop them again. Compressed sections and
relocatable objects keep pyelftools' own path.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

__all__ = ["SectionWindow", "map_dwarf_sections"]


class SectionWindow:
    """Read-only file-like view of ``size`` bytes at ``start`` of a mapping."""

    def __init__(self, buf: mmap.mmap, start: int, size: int) -> None:
        self.buf, self.start, self.size = buf, start, size
        self._pos = 0

    def read(self, n: int | None = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self._pos + n)
        data = self.buf[self.start + self._pos:self.start + end] if end > self._pos else b""
        self._pos = max(self._pos, end)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def getvalue(self) -> bytes:
        return self.buf[self.start:self.start + self.size]


def map_dwarf_sections(elffile: Any, buf: mmap.mmap) -> None:
    """Make ``elffile.get_dwarf_info()`` read plain debug sections through windows on ``buf``."""
    from elftools.dwarf.dwarfinfo import DebugSectionDescriptor

    original = elffile._read_dwarf_section
    if elffile["e_type"] == "ET_REL" or elffile.has_phantom_bytes():
        return  # relocations or odd byte layouts: pyelftools' copy is needed

    def read(section: Any, relocate: bool) -> Any:
        if section.compressed or section["sh_type"] == "SHT_NOBITS":
            return original(section, relocate)
        offset, size = section["sh_offset"], section["sh_size"]
        window = SectionWindow(buf, offset, min(size, max(0, len(buf) - offset)))
        return DebugSectionDescriptor(stream=window, name=section.name, global_offset=offset,
                                      size=window.size, address=section["sh_addr"])

    elffile._read_dwarf_section = read
