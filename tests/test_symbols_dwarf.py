"""espmon.elf.line_table decodes the same rows and ranges as pyelftools, on every sample ELF."""

from __future__ import annotations

from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from espmon.elf.line_table import decode_aranges, decode_rows
from espmon.elf.sections import SectionWindow

FIRMWARE = Path(__file__).resolve().parent.parent / "samples" / "firmware"
ELFS = sorted(FIRMWARE.glob("*/*.elf"))


@pytest.mark.parametrize("path", ELFS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_line_rows_and_aranges_match_pyelftools(path: Path) -> None:
    with open(path, "rb") as f:
        info = ELFFile(f).get_dwarf_info()
        data = info.debug_line_sec.stream.getvalue()
        rows = 0
        for cu in info.iter_CUs():
            program = info.line_program_for_CU(cu)
            reference = [(e.state.address, 0 if e.state.end_sequence else 1, e.state.file, e.state.line)
                         for e in program.get_entries() if e.state is not None]
            assert decode_rows(data, program) == reference
            # the same program found at an offset in a bigger buffer (the mapped ELF)
            assert decode_rows(b"\0" * 7 + data, program, base=7) == reference
            rows += len(reference)
        assert rows > 10
        reference = sorted((e.begin_addr, e.begin_addr + e.length, e.info_offset)
                           for e in info.get_aranges().entries if e.length)
        assert sorted(decode_aranges(info.debug_aranges_sec.stream.getvalue())) == reference


def test_section_window_reads_like_a_file() -> None:
    import mmap

    path = ELFS[0]
    raw = path.read_bytes()
    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        w = SectionWindow(buf, 16, 40)
        assert w.read(8) == raw[16:24] and w.tell() == 8
        assert w.seek(-4, 2) == 36 and w.read() == raw[52:56] and w.read(5) == b""
        w.seek(30)
        assert w.read(100) == raw[46:56] and w.getvalue() == raw[16:56]
    finally:
        buf.close()
