"""Fast decoders for the two DWARF tables the symbolizer reads in bulk (DWARF 2 to 5).

pyelftools builds a Python object per line-table row and per address range, which costs
about a quarter of a second per compilation unit of a big ESP-IDF app. The symbolizer
only needs plain tuples, so these walk the raw section bytes, about ten times faster.
Line-program headers (opcode base, line base and range, file table) still come from
pyelftools.
"""

from __future__ import annotations

from typing import Any

__all__ = ["decode_aranges", "decode_rows"]

# Standard opcodes (DWARF 5, section 6.2.5.2)
_COPY, _ADVANCE_PC, _ADVANCE_LINE, _SET_FILE = 1, 2, 3, 4
_NEGATE_STMT, _SET_BASIC_BLOCK, _CONST_ADD_PC, _FIXED_ADVANCE_PC = 6, 7, 8, 9
# Extended opcodes
_END_SEQUENCE, _SET_ADDRESS = 1, 2


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return (result - (1 << shift) if byte & 0x40 else result), pos


def decode_rows(data: Any, lineprog: Any, little_endian: bool = True,
                base: int = 0) -> list[tuple[int, int, int, int]]:
    """Rows of the program as (address, kind, file, line); kind 0 ends a sequence, 1 is a row.

    ``data`` holds the .debug_line section at offset ``base`` (bytes, or the mapped ELF);
    ``lineprog`` is a pyelftools LineProgram for its header and offsets. Raises
    IndexError on a truncated program.
    """
    header = lineprog.header
    min_len = header["minimum_instruction_length"]
    line_base = header["line_base"]
    line_range = header["line_range"]
    opcode_base = header["opcode_base"]
    arg_counts = list(header["standard_opcode_lengths"])
    order = "little" if little_endian else "big"
    pos, end = base + lineprog.program_start_offset, base + lineprog.program_end_offset
    rows: list[tuple[int, int, int, int]] = []
    address, file, line = 0, 1, 1
    while pos < end:
        op = data[pos]
        pos += 1
        if op >= opcode_base:  # special opcode: advance both, emit a row
            adjusted = op - opcode_base
            address += (adjusted // line_range) * min_len
            line += line_base + adjusted % line_range
            rows.append((address, 1, file, line))
        elif op == 0:  # extended opcode
            size, pos = _uleb(data, pos)
            sub = data[pos] if size else 0
            if sub == _END_SEQUENCE:
                rows.append((address, 0, file, line))
                address, file, line = 0, 1, 1
            elif sub == _SET_ADDRESS:
                address = int.from_bytes(data[pos + 1:pos + size], order)
            pos += size
        elif op == _COPY:
            rows.append((address, 1, file, line))
        elif op == _ADVANCE_PC:
            step, pos = _uleb(data, pos)
            address += step * min_len
        elif op == _ADVANCE_LINE:
            step, pos = _sleb(data, pos)
            line += step
        elif op == _SET_FILE:
            file, pos = _uleb(data, pos)
        elif op == _CONST_ADD_PC:
            address += ((255 - opcode_base) // line_range) * min_len
        elif op == _FIXED_ADVANCE_PC:
            address += int.from_bytes(data[pos:pos + 2], order)
            pos += 2
        elif op in (_NEGATE_STMT, _SET_BASIC_BLOCK):
            pass
        else:  # set_column, prologue/epilogue markers, set_isa, or unknown: skip the operands
            for _ in range(arg_counts[op - 1] if op - 1 < len(arg_counts) else 0):
                _skip, pos = _uleb(data, pos)
    return rows


def decode_aranges(data: bytes, little_endian: bool = True) -> list[tuple[int, int, int]]:
    """.debug_aranges as (start, end, CU offset in .debug_info) for every non-empty range."""
    order = "little" if little_endian else "big"
    out: list[tuple[int, int, int]] = []
    pos = 0
    while pos + 4 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], order)
        offset_size, pos = (8, pos + 12) if length == 0xFFFFFFFF else (4, pos + 4)
        if offset_size == 8:
            length = int.from_bytes(data[pos - 8:pos], order)
        unit_end = pos + length
        info_at = pos + 2  # after the 2-byte version
        cu_offset = int.from_bytes(data[info_at:info_at + offset_size], order)
        address_size = data[info_at + offset_size]
        tuple_size = 2 * address_size
        header_end = info_at + offset_size + 2
        start_of_unit = info_at - 2 - (12 if offset_size == 8 else 4)
        at = start_of_unit + -(-(header_end - start_of_unit) // tuple_size) * tuple_size
        while at + tuple_size <= unit_end:
            start = int.from_bytes(data[at:at + address_size], order)
            size = int.from_bytes(data[at + address_size:at + tuple_size], order)
            at += tuple_size
            if start == 0 and size == 0:
                break
            if size:
                out.append((start, start + size, cu_offset))
        pos = unit_end
    return out
