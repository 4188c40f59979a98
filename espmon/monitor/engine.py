"""The monitor engine: bytes from the port -> display records (see ``records``).

One engine per session; the event-loop thread (console) or the main thread (plain mode)
owns it. It assembles lines, decodes them (invalid bytes as ``\\xNN``), escapes unsafe
control sequences, feeds the device-log parser, and after each recognised line adds the
short explanation from ``annotate()``, the decoded addresses (function, file:line, inlined
frames) and a boot-loop alert. It also writes the decoded text log.

The hot path works per chunk: one decode, one ``split``, one regex pre-check for unsafe
characters per block; per line only the parser call and the list append remain.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from espmon.monitor import records as R
from espmon.monitor.knowledge import Knowledge
from espmon.monitor.lines import LineAssembler
from espmon.monitor.print_filter import PrintFilter
from espmon.monitor.sanitize import SGR, decode, has_unsafe, sanitize

__all__ = ["MonitorEngine", "CRASH_EVENTS", "split_block"]

_ADDR = re.compile(r"0x([0-9a-fA-F]{8})(?![0-9a-fA-F])")
# The ROM's bootloader load lines carry addresses in code that mean nothing to the app ELF.
_NO_DECODE_PREFIXES = ("load:", "entry ", "load ")
# A register dump cell, "NAME    : 0x400d025e". Registers that never hold a code address
# (or hold one that misleads, like the trap vector) are not decoded; a return address
# (RA, Xtensa A0) is decoded as its call.
_REGISTER = re.compile(r"([A-Z][A-Z0-9/]*)\s*:\s*0x([0-9a-fA-F]{8})")
_NOT_CODE_REGISTERS = frozenset(
    {"PS", "SAR", "EXCCAUSE", "EXCVADDR", "LBEG", "LEND", "LCOUNT", "MSTATUS", "MTVEC", "MCAUSE", "MTVAL",
     "MHARTID", "GP", "TP", "SP", "A1"}
)
_RETURN_REGISTERS = frozenset({"RA", "A0"})
_STACK_DUMP = re.compile(r"[0-9a-fA-F]{8}: 0x")  # "3fc8f3d0: 0x... 0x..." (RISC-V Stack memory)
# Event class names of parsers.device_events: the first line of a crash (the console can
# freeze on it) and the reset lines. Panic is the whole block, reported when it ends.
CRASH_EVENTS = frozenset(
    {"GuruMeditation", "Abort", "AssertFailed", "StackOverflow", "StackSmashing", "HeapCorruption",
     "Esp8266Exception", "SoftWatchdog", "Brownout"}
)
_RESET_EVENTS = frozenset({"ResetInfo", "Esp8266Reset"})
_NOTEWORTHY_LEVELS = ("E", "W")
_HOST_RESET_WINDOW = 3.0  # seconds from our reset request to the chip's reset line


def split_block(text: str) -> tuple[list[str], list[str]]:
    """A decoded block of complete lines -> (lines to show, plain lines), sanitized in bulk.

    Shown lines keep SGR colours; plain lines (for the parser, filters, the text log) have
    none. Both are made safe with one regex pass over the whole block, and only when the
    block holds a control character at all (a newline never ends up inside a token).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if has_unsafe(text):
        plain = SGR.sub("", text) if "\x1b" in text else text
        if has_unsafe(plain):  # something besides colours: escape it
            text = sanitize(text)
            plain = SGR.sub("", text)
        lines, plains = text.split("\n"), plain.split("\n")
        lines.pop()
        plains.pop()
        return lines, plains
    lines = text.split("\n")
    lines.pop()
    return lines, lines


def _quiet_type() -> type | None:
    """The parser's LogLine class (None when the parser is not available)."""
    try:
        from parsers.device_events import LogLine
    except ImportError:
        return None
    return LogLine


class MonitorEngine:
    def __init__(
        self,
        knowledge: Knowledge,
        *,
        symbolizer: Any = None,
        encoding: str = "utf-8",
        print_filter: PrintFilter | None = None,
        log: Any = None,
    ) -> None:
        self.knowledge = knowledge
        self.symbolizer = symbolizer
        self.encoding = encoding
        self.print_filter = None if print_filter is None or print_filter.passes_all else print_filter
        self.log = log  # a SessionLog or None; may be swapped between calls
        self.hex_view = False
        self.keep_sgr = True  # False: device lines come out without colours (plain output)
        self.state = "running"  # running | download mode | crashed
        self.chip_info: Any = getattr(knowledge.parser, "chip", None)  # what annotate() is given
        self.chip: str | None = None  # its display name
        self.resets = 0
        self.crashes = 0
        self.boot_loops = 0
        self.line_observer: Callable[[str], None] | None = None
        self._assembler = LineAssembler()
        self._hex_offset = 0
        self._warned_no_elf = False
        self._host_reset_at: float | None = None

    def host_reset(self, t: float) -> None:
        """We are about to reset the chip: its next reset line is ours, not a boot loop's."""
        self._host_reset_at = t

    # -- input ------------------------------------------------------------------------
    def feed(self, data: bytes, t: float) -> list[str]:
        """Bytes as read -> records to show (complete lines only; see ``partial_text``)."""
        out: list[str] = []
        if self.hex_view:
            out.extend(self._hex(data))
        block = self._assembler.feed(data)
        if block:
            self._lines(block, t, out)
        return out

    def end(self, t: float) -> list[str]:
        """End of the session: the unfinished line becomes a line, the parser is flushed."""
        out: list[str] = []
        block = self._assembler.end()
        if block:
            self._lines(block, t, out)
        for event in self.knowledge.parser.end():
            self._event(event, t, out, True)
        return out

    @property
    def has_partial(self) -> bool:
        return bool(self._assembler.partial)

    def partial_text(self) -> str:
        """The unfinished last line, sanitized, for showing after an idle time."""
        raw = self._assembler.partial
        if not raw:
            return ""
        text = decode(raw, self.encoding)
        if text.endswith("\r"):
            text = text[:-1]
        return sanitize(text)

    # -- lines ------------------------------------------------------------------------
    def _lines(self, block: bytes, t: float, out: list[str]) -> None:
        lines, plains = split_block(decode(block, self.encoding))
        if (self.print_filter is None and self.line_observer is None and self.symbolizer is None
                and self.log is None and not self.hex_view):
            self._fast_lines(lines, plains, t, out)
            return
        parse = self.knowledge.parser.feed
        flt = self.print_filter
        observer = self.line_observer
        show_lines = not self.hex_view
        sym = self.symbolizer
        log = self.log
        keep_sgr = self.keep_sgr
        logged: list[str] | None = [] if log is not None else None
        for line, plain in zip(lines, plains):
            visible = flt is None or flt.match(plain)
            start = len(out)
            if show_lines and visible:
                out.append(line if keep_sgr else plain)
                start += 1
            if observer is not None:
                observer(plain)
            events = parse(plain)
            if events:
                for event in events:
                    self._event(event, t, out, visible)
            if sym is not None and "0x" in plain and not plain.startswith(_NO_DECODE_PREFIXES):
                self._decode_line(plain, out)
            if logged is not None:
                logged.append(plain)
                if len(out) > start:
                    logged.extend(R.plain_text(r) for r in out[start:])
        if logged:
            log.write_lines(logged, t)

    def _fast_lines(self, lines: list[str], plains: list[str], t: float, out: list[str]) -> None:
        """The common case (no filter, log, ELF or script): one append and one parse per line."""
        parse = self.knowledge.parser.feed
        event = self._event
        append = out.append
        quiet = _quiet_type()
        for line, plain in zip(lines if self.keep_sgr else plains, plains):
            append(line)
            events = parse(plain)
            if events:
                for ev in events:
                    # most events are ordinary log lines: skip the call for them
                    if type(ev) is not quiet or ev.level in _NOTEWORTHY_LEVELS:
                        event(ev, t, out, True)

    def _event(self, event: Any, t: float, out: list[str], visible: bool) -> None:
        name = type(event).__name__
        if name == "LogLine" and getattr(event, "level", "E") not in _NOTEWORTHY_LEVELS:
            return  # the bulk of any log: nothing to explain, nothing for the loop detector
        parser_chip = getattr(self.knowledge.parser, "chip", None)
        if parser_chip is not None and parser_chip is not self.chip_info:
            self.chip_info = parser_chip
            self.chip = getattr(parser_chip, "name", None) or str(parser_chip)
        if name in _RESET_EVENTS:
            self.resets += 1
            self.state = "download mode" if getattr(event, "download", False) else "running"
            marker = R.RESET
        elif name in CRASH_EVENTS:
            if name != "Brownout":
                self.state = "crashed"
            self.crashes += 1
            marker = R.CRASH
        else:
            marker = R.ANNOTATION
        note = self.knowledge.annotate(event, self.chip_info)
        if note and (visible or marker == R.CRASH):
            for part in note.splitlines():
                out.append(marker + part)
        if name == "Panic":
            self._decode_panic(event, out)
        if marker == R.RESET and self._host_reset_at is not None:
            ours = t - self._host_reset_at < _HOST_RESET_WINDOW
            self._host_reset_at = None
            if ours:
                return
        loop = self.knowledge.loop_detector.feed(event, t)
        if loop is not None:
            text = self.knowledge.annotate(loop, self.chip_info) or f"boot loop: {loop}"
            out.append(R.ALERT + text)
            self.boot_loops += 1

    # -- addresses --------------------------------------------------------------------
    def _decode_line(self, plain: str, out: list[str]) -> None:
        """Decode the code addresses of a line (as esp-idf-monitor does), except where that misleads."""
        sym = self.symbolizer
        if _STACK_DUMP.match(plain):
            return  # stack words: the unwound backtrace below the panic says what matters
        seen: set[int] = set()
        if "  : 0x" in plain or " : 0x" in plain:
            for name, value in _REGISTER.findall(plain):
                addr = int(value, 16)
                if name in _NOT_CODE_REGISTERS or addr in seen or not sym.in_code(addr):
                    continue
                seen.add(addr)
                out.extend(self.describe(addr, return_address=name in _RETURN_REGISTERS))
            return
        for match in _ADDR.finditer(plain):
            addr = int(match.group(1), 16)
            if addr in seen or not sym.in_code(addr):
                continue
            seen.add(addr)
            out.extend(self.describe(addr))

    def describe(self, addr: int, return_address: bool = False) -> list[str]:
        """DECODED records for one code address: innermost frame first, then its callers.
        A return address is decoded as the call before it (the line that made the call)."""
        sym = self.symbolizer
        locations = sym.lookup_return_address(addr) if return_address else sym.lookup(addr)
        if not locations:
            return [f"{R.DECODED}0x{addr:08x}: ?? (in the ELF's code, no line information)"]
        lines = []
        for i, loc in enumerate(locations):
            where = f"{loc.file}:{loc.line}" if loc.file else "??:?"
            func = loc.function or "??"
            if i == 0:
                lines.append(f"{R.DECODED}0x{addr:08x}: {func} at {where}")
            else:
                lines.append(f"{R.DECODED}    (inlined by) {func} at {where}")
        return lines

    def _decode_panic(self, panic: Any, out: list[str]) -> None:
        sym = self.symbolizer
        if sym is None:
            if not self._warned_no_elf:
                self._warned_no_elf = True
                out.append(R.NOTE + "no ELF given (--elf build/app.elf): backtrace addresses are not decoded")
            return
        if getattr(panic, "arch", None) != "riscv" or not getattr(panic, "stack", None):
            return
        regs = getattr(panic, "registers", None) or {}
        try:
            from espmon.symbols import unwind_riscv

            pcs = unwind_riscv(
                sym, pc=regs.get("MEPC"), ra=regs.get("RA"), sp=regs.get("SP"),
                stack=panic.stack, stack_base=panic.stack_base, fp=regs.get("S0/FP", regs.get("S0")),
            )
        except (ImportError, ValueError, KeyError, TypeError):
            pcs = []
        if not pcs:
            out.append(R.DECODED + "no backtrace could be unwound from the stack dump: see MEPC (where) and RA (caller) above")
            return
        out.append(R.DECODED + "Backtrace (unwound from the stack dump):")
        for i, pc in enumerate(pcs):
            out.extend(self.describe(pc, return_address=i > 0))

    # -- hex view ---------------------------------------------------------------------
    def _hex(self, data: bytes) -> list[str]:
        out = []
        for i in range(0, len(data), 16):
            row = data[i : i + 16]
            text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
            out.append(f"{R.HEX}{self._hex_offset + i:08x}  {row.hex(' '):<47}  |{text}|")
        self._hex_offset += len(data)
        return out
