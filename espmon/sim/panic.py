"""Crash dumps in each architecture's real format, built from the flashed firmware's
backtrace record so the addresses decode against the sample ELF.

- Xtensa (ESP32, S2, S3): ESP-IDF's "Guru Meditation" header, the 6x4 register dump and
  ``Backtrace: PC:SP ...``;
- RISC-V (C3, C6): the MEPC/RA/... register dump and a ``Stack memory:`` hex dump with the
  return addresses in it (there is no on-chip backtrace);
- ESP8266: the Arduino core's post-mortem block (``Exception (28):`` and the stack).
"""

from __future__ import annotations

from espmon.sim.banner import NL
from espmon.sim.facts import ChipFacts

__all__ = ["Crash", "panic_dump"]

STORE_PROHIBITED = 29  # Xtensa EXCCAUSE (the sample app's NULL store)
STORE_ACCESS_FAULT = 7  # RISC-V MCAUSE


class Crash:
    """What the dump shows: frames (PC, SP) innermost first and the faulting address."""

    def __init__(self, frames: list[tuple[int, int]], fault_addr: int, elf_sha: str):
        self.frames = frames
        self.fault_addr = fault_addr
        self.elf_sha = elf_sha


def _cells(pairs: list[tuple[str, int]]) -> str:
    rows = []
    for i in range(0, len(pairs), 4):
        rows.append("".join(f"{name:<8}: 0x{value:08x}  " for name, value in pairs[i:i + 4]))
    return NL.join(rows) + NL


def _xtensa(facts: ChipFacts, crash: Crash) -> str:
    frames = crash.frames
    pc, sp = frames[0]
    caller = frames[1][0] if len(frames) > 1 else pc
    regs = [("PC", pc), ("PS", 0x00060030), ("A0", 0x80000000 | (caller & 0x3FFFFFFF)), ("A1", sp)]
    filler = [0x00000000, 0x3FFB0000 | (sp & 0xFFF), 0x00000001, 0x3FFC1234]
    for n in range(2, 16):
        regs.append((f"A{n}", crash.fault_addr if n == 2 else filler[n % 4]))
    regs += [("SAR", 0x00000004), ("EXCCAUSE", STORE_PROHIBITED), ("EXCVADDR", crash.fault_addr),
             ("LBEG", 0x4000C2E0), ("LEND", 0x4000C2F6), ("LCOUNT", 0xFFFFFFFF)]
    # ESP-IDF prints each frame's call site: the return address minus 3.
    backtrace = " ".join(f"0x{p - 3:08x}:0x{s:08x}" for p, s in frames)
    return (
        f"Guru Meditation Error: Core  0 panic'ed (StoreProhibited). Exception was unhandled.{NL}{NL}"
        f"Core  0 register dump:{NL}{_cells(regs)}{NL}{NL}"
        f"Backtrace: {backtrace}{NL}{NL}{NL}{NL}{NL}"
        f"ELF file SHA256: {crash.elf_sha}{NL}{NL}Rebooting...{NL}"
    )


def _riscv(facts: ChipFacts, crash: Crash) -> str:
    frames = crash.frames
    pc, sp = frames[0]
    ra = frames[1][0] if len(frames) > 1 else pc
    names = ["MEPC", "RA", "SP", "GP", "TP", "T0", "T1", "T2", "S0/FP", "S1", "A0", "A1", "A2",
             "A3", "A4", "A5", "A6", "A7", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10",
             "S11", "T3", "T4", "T5", "T6"]
    values = {"MEPC": pc, "RA": ra, "SP": sp, "GP": (sp & 0xFFFF0000) | 0x8600, "TP": sp + 0x60,
              "A0": crash.fault_addr, "A5": crash.fault_addr}
    regs = [(name, values.get(name, 0)) for name in names]
    regs += [("MSTATUS", 0x00001881), ("MTVEC", 0x40380001), ("MCAUSE", STORE_ACCESS_FAULT),
             ("MTVAL", crash.fault_addr), ("MHARTID", 0)]
    # Every function of the chain saved RA at CFA-4, i.e. just below the next frame's SP:
    # the dump (from SP up) holds each return address where CFI unwinding looks for it.
    words = [0] * 64
    for frame_pc, frame_sp in frames[1:]:
        slot = (frame_sp - 4 - sp) // 4
        if 0 <= slot < len(words):
            words[slot] = frame_pc
    stack = []
    for row in range(8):
        cells = " ".join(f"0x{w:08x}" for w in words[row * 8:row * 8 + 8])
        stack.append(f"{sp + row * 32:08x}: {cells}")
    return (
        f"Guru Meditation Error: Core  0 panic'ed (Store access fault). Exception was unhandled.{NL}{NL}"
        f"Core  0 register dump:{NL}{_cells(regs)}{NL}"
        f"Stack memory:{NL}{NL.join(stack)}{NL}{NL}{NL}"
        f"ELF file SHA256: {crash.elf_sha}{NL}{NL}Rebooting...{NL}"
    )


def _esp8266(facts: ChipFacts, crash: Crash) -> str:
    cut = "--------------- CUT HERE FOR EXCEPTION DECODER ---------------"
    pc, sp = crash.frames[0]
    end = 0x3FFFFFC0
    # Return addresses at CFA-4 of each frame, as on the other chips.
    saved = {frame_sp - 4: frame_pc for frame_pc, frame_sp in crash.frames[1:]}
    lines = []
    for addr in range(sp, min(end, sp + 0x100), 16):
        words = [saved.get(addr + 4 * n, 0x3FFEE000 + ((addr + 4 * n) & 0xFF)) for n in range(4)]
        mark = " <" if any(0x40200000 <= w < 0x40300000 for w in words) else "  "
        lines.append(f"{addr:08x}:  " + " ".join(f"{w:08x}" for w in words) + mark)
    return (
        f"{NL}{cut}{NL}{NL}Exception ({STORE_PROHIBITED}):{NL}"
        f"epc1=0x{pc:08x} epc2=0x00000000 epc3=0x00000000 excvaddr=0x{crash.fault_addr:08x} "
        f"depc=0x00000000{NL}{NL}>>>stack>>>{NL}{NL}ctx: cont{NL}"
        f"sp: {sp:08x} end: {end:08x} offset: 0190{NL}" + NL.join(lines) + NL +
        f"<<<stack<<<{NL}{NL}{cut}{NL}"
    )


def panic_dump(facts: ChipFacts, crash: Crash) -> str:
    if facts.chip.key == "esp8266":
        return _esp8266(facts, crash)
    if facts.chip.arch == "riscv":
        return _riscv(facts, crash)
    return _xtensa(facts, crash)
