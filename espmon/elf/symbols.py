"""Addresses -> function, file:line (inlined frames too) from ELF files: addr2line without a toolchain.

``Symbolizer(["build/app.elf", ...])`` opens each ELF at once but reads only its section
headers, so ``in_code()`` (called on every hex token the monitor sees) is a bisect over
sorted executable ranges with no DWARF work. Symbols, the CU index, line tables and DIE
scopes are read on the first ``lookup()`` that needs them, one compilation unit at a time,
and every answer is cached.

Xtensa return addresses: with the windowed ABI, A0 and stack-saved return addresses carry
the call increment in their top two bits (``0x800d0805`` for ``0x400d0805``). ESP-IDF's
backtrace already prints fixed-up call-site PCs (``ret - 3``), which are decoded as they
are, like esp-idf-monitor does. For a raw windowed value that is in no ELF's code,
an Xtensa ELF maps it back (``(addr & 0x3fffffff) | 0x40000000``) and decodes the call
site, ``- 3``, the way ESP-IDF's ``esp_cpu_process_stack_pc`` does.

RISC-V caller frames are return addresses (RA, stack slots): decode them with
``lookup_return_address()``, which looks up ``address - 1`` so the line is the call's.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from espmon.elf.dwarf import DwarfIndex
from espmon.elf.sections import map_dwarf_sections
from espmon.elf.unwind import CfiTable, unwind_riscv
from espmon.errors import UserError

__all__ = ["Location", "Symbolizer", "unwind_riscv"]

_CACHE_LIMIT = 1 << 16
_XTENSA_WINDOWED = (0x80000000, 0xC0000000)  # top two bits: call8, call12


@dataclass(frozen=True, slots=True)
class Location:
    address: int
    function: str | None  # symbol or DWARF subprogram name
    file: str | None  # as in the line table (relative path is fine)
    line: int | None
    inlined: bool  # True for frames of an inlined call chain (all but the outermost)
    elf: str  # which ELF


class _Elf:
    """One ELF: executable ranges now; symbols, DWARF and CFI when first needed."""

    def __init__(self, path: str | os.PathLike) -> None:
        from elftools.elf.elffile import ELFFile

        self.name = os.fspath(path)
        try:
            with open(path, "rb") as f:
                head = f.read(4)
                if head != b"\x7fELF":
                    what = "empty file" if not head else f"starts with {head!r}"
                    raise UserError(f"{self.name}: not an ELF file ({what})")
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise UserError(f"{self.name}: cannot read: {exc.strerror or exc}") from None
        try:
            self.elf = ELFFile(self._map)
            map_dwarf_sections(self.elf, self._map)
            self.machine = self.elf["e_machine"]
            ranges = []
            for section in self.elf.iter_sections():
                flags = section["sh_flags"]
                if flags & 0x4 and flags & 0x2 and section["sh_size"]:  # SHF_EXECINSTR, SHF_ALLOC
                    ranges.append((section["sh_addr"], section["sh_addr"] + section["sh_size"]))
        except Exception as exc:  # ELFError, construct errors, bad offsets: all "not an ELF"
            self._map.close()
            raise UserError(f"{self.name}: not an ELF file ({str(exc).splitlines()[0]})") from None
        ranges.sort()
        self.code_starts = [lo for lo, _hi in ranges]
        self.code_ends = [hi for _lo, hi in ranges]
        self.lock = threading.Lock()  # pyelftools streams are not thread-safe
        self._symbols: tuple[list[int], list[tuple[int, int, str]]] | None = None
        self._dwarf: DwarfIndex | None | bool = False  # False: not loaded yet
        self._cfi: CfiTable | None | bool = False

    @property
    def is_xtensa(self) -> bool:
        return self.machine == "EM_XTENSA"

    def in_code(self, address: int) -> bool:
        return self._section_of(address) is not None

    # -- symbols ---------------------------------------------------------------------
    def symbol(self, address: int) -> str | None:
        if self._symbols is None:
            try:
                self._load_symbols()
            except Exception:  # a corrupt symbol table loses names, never the monitor
                self._symbols = ([], [])
        starts, entries = self._symbols  # type: ignore[misc]
        i = bisect.bisect_right(starts, address) - 1
        if i < 0:
            return None
        start, end, name = entries[i]
        if end == start:  # size 0 (an assembly label): it runs to the next symbol
            return name if self._section_of(start) == self._section_of(address) else None
        for j in range(i, max(i - 4, -1), -1):  # a bigger symbol just before may enclose it
            if entries[j][0] <= address < entries[j][1]:
                return entries[j][2]
        return None

    def _section_of(self, address: int) -> int | None:
        i = bisect.bisect_right(self.code_starts, address) - 1
        return i if i >= 0 and address < self.code_ends[i] else None

    def _load_symbols(self) -> tuple[list[int], list[tuple[int, int, str]]]:
        # Unpacked with struct: pyelftools' per-symbol objects cost ~1 s for a big app.
        best: dict[int, tuple[tuple[bool, bool], int, str]] = {}
        symtab = self.elf.get_section_by_name(".symtab") or self.elf.get_section_by_name(".dynsym")
        if symtab is not None:
            strtab = self.elf.get_section(symtab["sh_link"]).data()
            data = symtab.data()
            is64 = self.elf.elfclass == 64
            fmt = ("<" if self.elf.little_endian else ">") + ("IBBHQQ" if is64 else "IIIBBH")
            size_of = struct.calcsize(fmt)
            for record in struct.iter_unpack(fmt, data[:len(data) - len(data) % size_of]):
                if is64:
                    name_at, info, _other, shndx, start, size = record
                else:
                    name_at, start, size, info, _other, shndx = record
                kind = info & 0xF  # STT_NOTYPE 0, STT_FUNC 2
                if not name_at or shndx in (0, 0xFFF1) or not (kind == 2 or kind == 0 and self.in_code(start)):
                    continue  # unnamed, SHN_UNDEF, SHN_ABS, or neither a function nor a code label
                name = strtab[name_at:strtab.find(b"\0", name_at)].decode("utf-8", "replace")
                if name.startswith(("$", ".L")):  # mapping symbols and local labels
                    continue
                rank = (kind == 2, info >> 4 == 1)  # prefer FUNC, then STB_GLOBAL
                if start not in best or (rank, size) > best[start][:2]:
                    best[start] = (rank, size, name)
        entries = sorted((start, start + size, name) for start, (_r, size, name) in best.items())
        self._symbols = ([e[0] for e in entries], entries)
        return self._symbols

    # A corrupt debug section must not take the monitor down: it only loses decoding.
    def dwarf(self) -> DwarfIndex | None:
        if self._dwarf is False:
            try:
                info = self.elf.get_dwarf_info() if self.elf.has_dwarf_info() else None
                self._dwarf = DwarfIndex(info) if info is not None and info.debug_info_sec else None
            except Exception:
                self._dwarf = None
        return self._dwarf  # type: ignore[return-value]

    def cfi(self) -> CfiTable | None:
        if self._cfi is False:
            try:
                info = self.elf.get_dwarf_info() if self.elf.has_dwarf_info() else None
                self._cfi = CfiTable.from_dwarf(info) if info is not None else None
            except Exception:
                self._cfi = None
        return self._cfi  # type: ignore[return-value]

    def cfi_row(self, address: int) -> tuple[dict, int] | None:
        table = self.cfi()
        try:
            return table.row(address) if table is not None else None
        except Exception:
            return None

    def lookup(self, address: int, shown: int) -> list[Location]:
        """Frames for ``address``, innermost first, each reported as ``shown``."""
        with self.lock:
            symbol = self.symbol(address)
            dwarf = self.dwarf()
            try:
                frames = dwarf.frames(address) if dwarf is not None else []
            except Exception:
                frames = []
        if not frames:
            return [Location(shown, symbol, None, None, False, self.name)] if symbol else []
        last = len(frames) - 1
        return [Location(shown, func if func or i < last else symbol, file, line, i < last, self.name)
                for i, (func, file, line) in enumerate(frames)]

    def close(self) -> None:
        self._map.close()


class Symbolizer:
    """addr2line over one or more ELFs (app, bootloader, ROM), first ELF that knows wins."""

    def __init__(self, elf_paths: Sequence[str | os.PathLike]) -> None:
        self._elfs: list[_Elf] = []
        try:
            for path in elf_paths:
                self._elfs.append(_Elf(path))
        except UserError:
            self.close()
            raise
        spans = sorted((lo, hi) for e in self._elfs for lo, hi in zip(e.code_starts, e.code_ends))
        merged: list[list[int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self._starts = [lo for lo, _hi in merged]
        self._ends = [hi for _lo, hi in merged]
        self._xtensa = [e for e in self._elfs if e.is_xtensa]
        self._cache: dict[int, tuple[Location, ...]] = {}

    @property
    def elf_paths(self) -> list[str]:
        return [e.name for e in self._elfs]

    def in_code(self, address: int) -> bool:
        """Inside an executable section of any ELF (O(log n), no DWARF work)."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self._ends[i]:
            return True
        return bool(self._xtensa) and self._windowed(address) is not None

    def lookup(self, address: int) -> list[Location]:
        """Innermost first; [] if the address is in no ELF's code or nothing is known there."""
        cached = self._cache.get(address)
        if cached is None:
            cached = tuple(self._lookup(address, address))
            self._remember(address, cached)
        return list(cached)

    def lookup_return_address(self, address: int) -> list[Location]:
        """Decode a return address (RA, a stack slot) as its call: the line of ``address - 1``."""
        key = -address - 1  # its own cache slot
        cached = self._cache.get(key)
        if cached is None:
            if any(e.in_code(address - 1) for e in self._elfs):
                cached = tuple(self._lookup(address - 1, address))
            else:  # e.g. a windowed Xtensa value: lookup() already goes to the call
                cached = tuple(self._lookup(address, address))
            self._remember(key, cached)
        return list(cached)

    def function_name(self, address: int) -> str | None:
        """The enclosing function: ELF symbol, else the DWARF subprogram; None outside code."""
        for elf in self._elfs:
            if elf.in_code(address):
                with elf.lock:
                    name = elf.symbol(address)
                if name:
                    return name
        frames = self.lookup(address)
        return frames[-1].function if frames else None

    def cfi_row(self, address: int) -> tuple[dict, int] | None:
        """(CFI row in force at ``address``, return-address column) for espmon.elf.unwind."""
        for elf in self._elfs:
            if elf.in_code(address):
                with elf.lock:
                    found = elf.cfi_row(address)
                if found is not None:
                    return found
        return None

    def preload(self) -> None:
        """Read symbols, the CU index and CFI now (e.g. in a background thread at start-up)."""
        for elf in self._elfs:
            with elf.lock:
                elf.symbol(0)
                dwarf = elf.dwarf()
                if dwarf is not None:
                    try:
                        dwarf.index()
                    except Exception:
                        elf._dwarf = None
                elf.cfi()

    def close(self) -> None:
        for elf in self._elfs:
            elf.close()

    def __enter__(self) -> Symbolizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------
    def _lookup(self, address: int, shown: int) -> list[Location]:
        for elf in self._elfs:
            if elf.in_code(address):
                frames = elf.lookup(address, shown)
                if frames:
                    return frames
        if not any(e.in_code(address) for e in self._elfs) and self._xtensa:
            found = self._windowed(address)
            if found is not None:
                elf, call_site = found
                return elf.lookup(call_site, shown)
        return []

    def _windowed(self, address: int) -> tuple[_Elf, int] | None:
        """An Xtensa windowed return address -> (its ELF, the call instruction's address)."""
        if address & 0xC0000000 not in _XTENSA_WINDOWED:
            return None
        mapped = (address & 0x3FFFFFFF) | 0x40000000
        for elf in self._xtensa:
            if elf.in_code(mapped) and elf.in_code(mapped - 3):
                return elf, mapped - 3
        return None

    def _remember(self, key: int, value: tuple[Location, ...]) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = value
