"""DWARF side of the symbolizer: address -> CU -> line row and inlined scope chain.

Everything is read lazily and kept: the CU index (from ``.debug_aranges`` when the ELF
has it, else from each CU's ranges), then per CU, on first use, its line table as sorted
arrays and its concrete subprograms' ranges. Only the subprogram that contains an
address is walked for inlined calls. Callers hold the ELF's lock.
"""

from __future__ import annotations

import bisect
import posixpath
from array import array
from typing import Any

from espmon.elf.line_table import decode_aranges, decode_rows

__all__ = ["DwarfIndex"]

_ADDRESS_FORMS = {"DW_FORM_addr", "DW_FORM_addrx", "DW_FORM_addrx1", "DW_FORM_addrx2",
                  "DW_FORM_addrx3", "DW_FORM_addrx4"}
_SCOPES = {"DW_TAG_inlined_subroutine", "DW_TAG_lexical_block", "DW_TAG_try_block",
           "DW_TAG_catch_block"}
_CONTAINERS = {"DW_TAG_namespace", "DW_TAG_module"}  # may hold concrete subprograms

Frame = tuple["str | None", "str | None", "int | None"]  # function, file, line
_GAP = 0xFFFFFFFF  # file index of a row that ends a sequence: no line there


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Unit:
    """One compilation unit's line rows and subprogram ranges, as sorted arrays.

    pyelftools caches every DIE it parses in its CU object; they are dropped after each
    use (``_trim``), so memory grows with the line tables kept here, not with the DIEs.
    """

    def __init__(self, info: Any, cu: Any, line_data: tuple[Any, int] | None) -> None:
        self.info = info
        self.cu = cu
        top = cu.get_top_DIE()
        low = top.attributes.get("DW_AT_low_pc")
        self.base = low.value if low is not None else 0
        self.lineprog = info.line_program_for_CU(cu)
        self._files: dict[int, str | None] = {}
        self.row_addrs: array = array("Q")
        self.row_files: array = array("I")
        self.row_lines: array = array("I")
        self._load_lines(line_data)
        subs: list[tuple[int, int, int]] = []  # (low, high, DIE offset)
        stack = list(top.iter_children())
        while stack:
            die = stack.pop()
            if die.tag == "DW_TAG_subprogram":
                subs.extend((lo, hi, die.offset) for lo, hi in die_ranges(info, die, self.base) if hi > lo)
            elif die.tag in _CONTAINERS:
                stack.extend(die.iter_children())
        subs.sort()
        self.sub_lows = [t[0] for t in subs]
        self.subs = subs
        self.trim()

    def trim(self) -> None:
        dies, offsets = getattr(self.cu, "_dielist", None), getattr(self.cu, "_diemap", None)
        if isinstance(dies, list) and isinstance(offsets, list) and len(dies) == len(offsets):
            del dies[1:], offsets[1:]  # keep the top DIE; the rest is parsed again on demand

    def _load_lines(self, line_data: tuple[Any, int] | None) -> None:
        if self.lineprog is None or line_data is None:
            return
        data, base = line_data
        rows = decode_rows(data, self.lineprog, self.info.config.little_endian, base)
        # At one address a sequence's end sorts before the next sequence's start, and
        # within a sequence the last row emitted for that address wins (as addr2line).
        rows.sort(key=lambda r: (r[0], r[1]))  # stable: emission order kept within a key
        addrs, files, lines = self.row_addrs, self.row_files, self.row_lines
        for address, kind, file, line in rows:
            if addrs and addrs[-1] == address:
                files[-1], lines[-1] = (file, line) if kind else (_GAP, 0)
            else:
                addrs.append(address)
                files.append(file if kind else _GAP)
                lines.append(line if kind else 0)

    def line_at(self, address: int) -> tuple[str | None, int | None] | None:
        i = bisect.bisect_right(self.row_addrs, address) - 1
        if i < 0 or self.row_files[i] == _GAP:
            return None
        return self.file_name(self.row_files[i]), self.row_lines[i] or None

    def file_name(self, index: int | None) -> str | None:
        if index is None or self.lineprog is None:
            return None
        if index not in self._files:
            self._files[index] = self._resolve_file(index)
        return self._files[index]

    def _resolve_file(self, index: int) -> str | None:
        header = self.lineprog.header
        files = header["file_entry"]
        dirs = header["include_directory"]
        v5 = header["version"] >= 5
        pos = index if v5 else index - 1
        if not 0 <= pos < len(files):
            return None
        entry = files[pos]
        name = _text(entry.name)
        dir_pos = entry.dir_index if v5 else entry.dir_index - 1
        if posixpath.isabs(name) or name.startswith("\\") or (v5 and dir_pos == 0) or dir_pos < 0:
            path = name  # relative to the compilation directory, as the line table says
        else:
            path = posixpath.join(_text(dirs[dir_pos]), name) if dir_pos < len(dirs) else name
        while path.startswith("./"):
            path = path[2:]
        return path

    def subprogram(self, address: int) -> Any | None:
        i = bisect.bisect_right(self.sub_lows, address) - 1
        best = None
        for j in range(i, max(i - 8, -1), -1):  # the innermost enclosing range wins
            lo, hi, offset = self.subs[j]
            if lo <= address < hi and (best is None or hi - lo < best[1] - best[0]):
                best = (lo, hi, offset)
        return self.cu.get_DIE_from_refaddr(best[2]) if best else None


def die_ranges(info: Any, die: Any, base: int) -> list[tuple[int, int]]:
    attrs = die.attributes
    if "DW_AT_low_pc" in attrs and "DW_AT_high_pc" in attrs:
        low = attrs["DW_AT_low_pc"].value
        high = attrs["DW_AT_high_pc"]
        return [(low, high.value if high.form in _ADDRESS_FORMS else low + high.value)]
    if "DW_AT_ranges" in attrs:
        lists = info.range_lists()
        if lists is None:
            return []
        out = []
        for entry in lists.get_range_list_at_offset(attrs["DW_AT_ranges"].value, cu=die.cu):
            if hasattr(entry, "base_address"):
                base = entry.base_address
            elif entry.is_absolute:
                out.append((entry.begin_offset, entry.end_offset))
            else:
                out.append((base + entry.begin_offset, base + entry.end_offset))
        return out
    if "DW_AT_low_pc" in attrs:
        return [(attrs["DW_AT_low_pc"].value, attrs["DW_AT_low_pc"].value + 1)]
    return []


def die_name(die: Any) -> str | None:
    for _ in range(8):  # follow abstract_origin / specification to the named DIE
        attrs = die.attributes
        if "DW_AT_name" in attrs:
            return _text(attrs["DW_AT_name"].value)
        ref = next((a for a in ("DW_AT_abstract_origin", "DW_AT_specification") if a in attrs), None)
        if ref is None:
            return None
        die = die.get_DIE_from_attribute(ref)
    return None


class DwarfIndex:
    def __init__(self, info: Any) -> None:
        self.info = info
        self._lows: list[int] | None = None
        self._ranges: list[tuple[int, int, int]] = []  # (low, high, CU offset)
        self._from_aranges = False
        self._units: dict[int, _Unit | None] = {}
        self._line_data: tuple[Any, int] | None | bool = False

    def index(self) -> None:
        if self._lows is not None:
            return
        section = self.info.debug_aranges_sec
        ranges: list[tuple[int, int, int]] = []
        if section is not None:
            ranges = decode_aranges(section.stream.getvalue(), self.info.config.little_endian)
            self._from_aranges = bool(ranges)
        if not ranges:
            ranges = self._cu_ranges()
        self._set(ranges)

    def _set(self, ranges: list[tuple[int, int, int]]) -> None:
        ranges.sort()
        self._ranges = ranges
        self._lows = [r[0] for r in ranges]

    def _cu_ranges(self) -> list[tuple[int, int, int]]:
        out = []
        for cu in self.info.iter_CUs():
            top = cu.get_top_DIE()
            low = top.attributes.get("DW_AT_low_pc")
            base = low.value if low is not None else 0
            out.extend((lo, hi, cu.cu_offset) for lo, hi in die_ranges(self.info, top, base) if hi > lo)
        return out

    def _cu_offset(self, address: int) -> int | None:
        self.index()
        i = bisect.bisect_right(self._lows or [], address) - 1
        for j in range(i, max(i - 4, -1), -1):
            lo, hi, offset = self._ranges[j]
            if lo <= address < hi:
                return offset
        if self._from_aranges:  # aranges may leave CUs out: fall back to the CUs' own ranges
            self._from_aranges = False
            self._set(self._ranges + self._cu_ranges())
            return self._cu_offset(address)
        return None

    def _unit(self, offset: int) -> _Unit | None:
        if self._line_data is False:
            section = self.info.debug_line_sec
            stream = section.stream if section is not None else None
            if stream is None:
                self._line_data = None
            elif hasattr(stream, "buf"):  # a window on the mapped ELF: no copy
                self._line_data = (stream.buf, stream.start)
            else:
                self._line_data = (stream.getvalue(), 0)
        if offset not in self._units:
            try:
                self._units[offset] = _Unit(self.info, self.info.get_CU_at(offset), self._line_data)
            except Exception:  # a broken CU must not break decoding of the others
                self._units[offset] = None
        return self._units[offset]

    def frames(self, address: int) -> list[Frame]:
        """(function, file, line) innermost first: inlined callees, then the subprogram."""
        offset = self._cu_offset(address)
        unit = self._unit(offset) if offset is not None else None
        if unit is None:
            return []
        try:
            return self._frames(unit, address)
        finally:
            unit.trim()

    def _frames(self, unit: _Unit, address: int) -> list[Frame]:
        where = unit.line_at(address)
        sub = unit.subprogram(address)
        if sub is None:
            return [(None, *where)] if where else []
        chain = [sub]
        scope = sub
        while True:  # descend into the scopes that contain the address
            inner = None
            for child in scope.iter_children():
                if child.tag in _SCOPES and _contains(unit, child, address):
                    inner = child
                    break
            if inner is None:
                break
            if inner.tag == "DW_TAG_inlined_subroutine":
                chain.append(inner)
            scope = inner
        file, line = where if where else (None, None)
        out: list[Frame] = []
        for k in range(len(chain) - 1, -1, -1):
            out.append((die_name(chain[k]), file, line))
            if k:  # the caller's position is where the inlined call was made
                attrs = chain[k].attributes
                file = unit.file_name(attrs["DW_AT_call_file"].value) if "DW_AT_call_file" in attrs else None
                line = attrs["DW_AT_call_line"].value if "DW_AT_call_line" in attrs else None
        return out


def _contains(unit: _Unit, die: Any, address: int) -> bool:
    # Scopes without ranges are abstract (the inline template), never the executing one.
    return any(lo <= address < hi for lo, hi in die_ranges(unit.info, die, unit.base))
