"""The doctor's report: panics as JSON (with backtraces decoded by an ELF), and the text view."""

from __future__ import annotations

import textwrap
from typing import Any

from parsers.device_events import Panic

__all__ = ["panic_json", "render_text"]

_PC = ("PC", "MEPC", "EPC1")
_FAULT = ("EXCVADDR", "MTVAL")


def _frames(pcs: list[int], symbolizer: Any) -> list[dict[str, Any]]:
    """Each PC as function/file/line (innermost inlined frame first), as the monitor decodes them."""
    out = []
    for pc in pcs:
        if not pc or not symbolizer.in_code(pc):
            continue
        for loc in symbolizer.lookup(pc):
            out.append({"pc": pc, "function": loc.function or "??", "file": loc.file or "??", "line": loc.line or 0})
    return out


def _unwound(p: Panic, symbolizer: Any) -> list[int]:
    """A RISC-V panic has no Backtrace line: unwind its stack dump with the ELF's CFI."""
    if p.arch != "riscv" or not p.stack:
        return []
    regs = p.registers
    try:
        from espmon.elf.symbols import unwind_riscv

        return list(unwind_riscv(symbolizer, pc=regs.get("MEPC"), ra=regs.get("RA"), sp=regs.get("SP"),
                                 stack=p.stack, stack_base=p.stack_base, fp=regs.get("S0/FP", regs.get("S0"))))
    except (ImportError, ValueError, KeyError, TypeError):
        return []


def panic_json(p: Panic, symbolizer: Any = None) -> dict[str, Any]:
    regs = p.registers
    pc = next((regs[k] for k in _PC if k in regs), None)
    fault = next((regs[k] for k in _FAULT if k in regs), None)
    frames: list[dict[str, Any]] = []
    if symbolizer is not None:
        pcs = [f[0] for f in p.backtrace] or _unwound(p, symbolizer) or ([pc] if pc else [])
        frames = _frames(pcs, symbolizer)
    return {"line": p.line, "cause": p.cause, "core": p.core, "pc": pc, "fault_address": fault,
            "backtrace": [[a, b] for a, b in p.backtrace], "corrupted": p.corrupted, "frames": frames}


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent) or [indent]


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:8])
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{', ...' if len(numbers) > 8 else ''}"


def render_text(r: dict[str, Any], name: str) -> list[str]:
    kind = {"trace": "an esptool trace", "capture": "a capture", "device-log": "a device log",
            "esptool-output": "esptool's console output", "mixed": "a mix of esptool output and a device log"}
    out = [f"{name}: {kind.get(r['input'], r['input'])}, {r['lines']} lines"]
    if r["chip"]:
        out.append(f"chip: {r['chip']}" + (f" (line {r['chip_line']})" if r.get("chip_line") else ""))
    s = r.get("session")
    if s:
        out.append(f"session: esptool {s['esptool'] or '?'}, {s['commands']} commands, {s['responses']} responses, "
                   f"{s['timeouts']} timeouts, {s['retries']} retries: {s['outcome']}")
        for err in s.get("errors") or ():
            out.append(f"  error (line {s['error_line']}): {err}")
        if s.get("evidence"):
            out.append(f"  evidence: {s['evidence']}")
    if r["reset_count"]:
        out.append(f"resets: {r['reset_count']}")
        for reset in r["resets"][:6]:
            out.append(f"  line {reset['line']}: rst:0x{reset['rst']:x} ({reset['name']}), boot {reset['boot_name']}"
                       f" [{reset['mode']}]" + (f": {reset['meaning']}" if reset["meaning"] else ""))
        if r["reset_count"] > 6:
            out.append(f"  ... {r['reset_count'] - 6} more")
    if r["panic_count"]:
        out.append(f"panics: {r['panic_count']}")
        for p in r["panics"][:3]:
            where = f" PC 0x{p['pc']:08x}" if p["pc"] is not None else ""
            fault = f", address 0x{p['fault_address']:08x}" if p["fault_address"] is not None else ""
            core = f" on core {p['core']}" if p["core"] is not None else ""
            out.append(f"  line {p['line']}: {p['cause']}{core}{where}{fault}")
            if p["backtrace"]:
                bt = " ".join(f"0x{a:08x}:0x{b:08x}" for a, b in p["backtrace"][:8])
                out.append(f"    backtrace: {bt}" + (" |<-CORRUPTED" if p["corrupted"] else ""))
            for f in p["frames"][:12]:
                out.append(f"    0x{f['pc']:08x}: {f['function']} at {f['file']}:{f['line']}")
        if r["panic_count"] > 3:
            out.append(f"  ... {r['panic_count'] - 3} more")
    if not r["findings"]:
        out.append("findings: none (nothing in this input matches a rule of the troubleshooting guide)")
        return out
    out.append(f"findings: {len(r['findings'])}, the likeliest first")
    for i, f in enumerate(r["findings"], 1):
        out.append(f"{i}. {f['title']} [{f['rule']}] ({_lines(f['evidence'])})")
        out.extend(_wrap(f"cause: {f['cause']}", "   "))
        guide = f"the guide, \u201c{f['guide_section']}\u201d: " if f["guide_section"] else "advice: "
        out.extend(_wrap(guide + f["advice"], "   "))
    return out
