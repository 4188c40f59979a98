"""Stack unwinding with the ELF's call-frame information (CFI), for RISC-V panic dumps.

ESP-IDF's RISC-V panic handler prints registers and a raw ``Stack memory:`` dump but no
backtrace (unless the app was built with ``CONFIG_ESP_SYSTEM_USE_EH_FRAME``). The ELF's
``.debug_frame`` (or ``.eh_frame``) says, for every PC, how to find the caller's frame:
CFA = some register + offset, and where the return address was saved relative to the
CFA. Applying those rules to the dumped words gives the chain of return addresses, the
way gdb does for esp-idf-monitor, without gdb.
"""

from __future__ import annotations

import bisect
from typing import Any

__all__ = ["CfiTable", "unwind_riscv"]

_RA, _SP, _FP = 1, 2, 8  # RISC-V DWARF register numbers: x1 = ra, x2 = sp, x8 = s0/fp


class CfiTable:
    """FDEs of one ELF sorted by address; each decoded into rows on first use."""

    def __init__(self, fdes: list[tuple[int, int, Any]]) -> None:
        fdes.sort(key=lambda f: f[0])
        self._starts = [f[0] for f in fdes]
        self._fdes = fdes
        self._decoded: dict[int, tuple[list[int], list[dict], int]] = {}

    @classmethod
    def from_dwarf(cls, info: Any) -> CfiTable | None:
        from elftools.dwarf.callframe import FDE

        entries: list[Any] = []
        if info.has_CFI():
            entries += info.CFI_entries()
        if info.has_EH_CFI():
            entries += info.EH_CFI_entries()
        fdes = [(e["initial_location"], e["initial_location"] + e["address_range"], e)
                for e in entries if isinstance(e, FDE)]
        return cls(fdes) if fdes else None

    def row(self, address: int) -> tuple[dict, int] | None:
        """(CFI row in force at ``address``, return-address column), or None if no FDE covers it."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0 or not self._fdes[i][0] <= address < self._fdes[i][1]:
            return None
        if i not in self._decoded:
            fde = self._fdes[i][2]
            table = fde.get_decoded().table
            self._decoded[i] = ([r["pc"] for r in table], table, fde.cie["return_address_register"])
        pcs, table, ra_column = self._decoded[i]
        j = bisect.bisect_right(pcs, address) - 1
        return (table[j], ra_column) if j >= 0 else None


def _word(stack: bytes, base: int, address: int) -> int | None:
    offset = address - base
    if offset < 0 or offset + 4 > len(stack) or offset % 4:
        return None
    return int.from_bytes(stack[offset:offset + 4], "little")


def unwind_riscv(symbolizer: Any, *, pc: int | None, ra: int | None, sp: int | None,
                 stack: bytes, stack_base: int, max_frames: int = 32,
                 fp: int | None = None) -> list[int]:
    """PCs innermost first: ``pc`` (MEPC), then return addresses found with the ELF's CFI.

    ``stack`` is the ``Stack memory:`` dump and ``stack_base`` the address of its first
    word; ``fp`` (the ``S0/FP`` register) is needed only for code built with frame
    pointers, whose CFA is FP-based. Without CFI for ``pc`` the answer is ``[pc, ra]``
    (``ra`` only if it is code). Caller frames are return addresses: decode them with
    ``Symbolizer.lookup_return_address()``.
    The walk stops at a return address outside code, a slot outside the dump, a CFA
    rule it cannot evaluate, or a frame that makes no progress.
    """
    if pc is None:
        return []
    frames = [pc]
    if symbolizer.cfi_row(pc) is None:
        if ra and symbolizer.in_code(ra) and max_frames > 1:
            frames.append(ra)
        return frames
    regs: dict[int, int] = {_RA: ra or 0}
    if sp is not None:
        regs[_SP] = sp
    if fp is not None:
        regs[_FP] = fp
    current, first = pc, True
    while len(frames) < max_frames:
        # A caller's PC is a return address: the call itself is just before it.
        found = symbolizer.cfi_row(current if first else current - 1)
        if found is None:
            break
        row, ra_column = found
        rule = row["cfa"]
        if rule.expr is not None or rule.reg not in regs:
            break
        cfa = regs[rule.reg] + rule.offset
        if _SP in regs and cfa < regs[_SP]:
            break  # the stack grows down: a caller's frame is never below ours
        caller = dict(regs)
        caller[_SP] = cfa
        for reg, how in row.items():
            if not isinstance(reg, int):
                continue
            if how.type == "OFFSET":
                value = _word(stack, stack_base, cfa + how.arg)
                if value is None:
                    caller.pop(reg, None)
                else:
                    caller[reg] = value
            elif how.type == "VAL_OFFSET":
                caller[reg] = cfa + how.arg
            elif how.type == "REGISTER" and how.arg in regs:
                caller[reg] = regs[how.arg]
            elif how.type in ("UNDEFINED", "REGISTER", "EXPRESSION", "VAL_EXPRESSION"):
                caller.pop(reg, None)
        ret = caller.get(ra_column)
        if not ret or not symbolizer.in_code(ret):
            break
        if ret == current and cfa == regs.get(_SP):
            break
        frames.append(ret)
        regs, current, first = caller, ret, False
    return frames
