"""The monitor engine: bytes from the port -> display records (see ``records``).

One engine per session; the event-loop thread (console) or the main thread (plain mode)
owns it. It assembles lines, decodes them (invalid bytes as ``\\xNN``), escapes unsafe
control sequences, feeds the device-log parser, and after each recognised line adds the
short explanation from ``annotate()``, the decoded addresses (function, file:line, inlined
frames) and a boot-loop alert. It also writes the decoded text log.

The hot path works per block of complete lines, with no Python work per line: one bulk
decode and sanitize (``clean_block``), and the parser's block API (``iter_text``), which finds
the few lines that can mean something with one scan of the whole block. The plain monitor
takes the result as text (``feed_text``): the block itself with the annotations spliced in
after their lines; the console gets records (``feed``). Per-line work is left for what needs
it: ``--print-filter``, an ELF, a script's ``expect`` (``streams_text`` is False then).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from espmon.monitor import records as R
from espmon.monitor.baud_hint import BaudHint, advice
from espmon.monitor.knowledge import Knowledge
from espmon.monitor.lines import LineAssembler
from espmon.monitor.print_filter import PrintFilter
from espmon.monitor.sanitize import clean_block, decode, sanitize

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
_SESSION_KINDS = (R.ALERT, R.NOTE)  # records about the session, shown whatever the filter hides
_HOST_RESET_WINDOW = 3.0  # seconds from our reset request to the chip's reset line


def split_block(block: bytes, encoding: str = "utf-8") -> tuple[list[str], list[str]]:
    """``clean_block`` as lists of lines (lines to show, plain lines)."""
    shown, plain = clean_block(block, encoding)
    lines = shown.split("\n")
    lines.pop()
    if plain is shown:
        return lines, lines
    plains = plain.split("\n")
    plains.pop()
    return lines, plains


def _scan_lines(parser: Any, plain: str) -> Iterator[tuple[int, int, list[Any]]]:
    """The parser's block API, or the same by feeding line by line (a parser without
    ``iter_text``): ``(start, end, events)`` for each line with events besides LogLines,
    yielded right after the parser saw that line (so its ``chip`` is the one of that line)."""
    iter_text = getattr(parser, "iter_text", None)
    if iter_text is not None:
        yield from iter_text(plain)
        return
    quiet = _quiet_type()
    pos, feed = 0, parser.feed
    for line in plain.split("\n")[:-1]:
        end = pos + len(line)
        events = feed(line)
        if any(type(e) is not quiet for e in events):
            yield pos, end, events
        pos = end + 1


def _quiet_type() -> type | None:
    """The parser's LogLine class (None when the parser is not available)."""
    try:
        from parsers.device_events import LogLine
    except ImportError:
        return None
    return LogLine


def _splice(plain: str, notes: list[tuple[int, list[str]]]) -> str:
    """The plain block with each line's records (as plain text lines) after it."""
    if not notes:
        return plain
    parts, last = [], 0
    for end, records in notes:
        parts.append(plain[last : end + 1])
        parts.extend([R.plain_text(r) + "\n" for r in records])
        last = end + 1
    parts.append(plain[last:])
    return "".join(parts)


def _interleave(lines: list[str], plain: str, notes: list[tuple[int, list[str]]], as_text: bool = True) -> list[str]:
    """Lines of the block (shown form) with each line's records after it (as plain text
    lines, or as records); a note's line is found by counting newlines in ``plain``."""
    out: list[str] = []
    done = index = last = 0
    for end, records in notes:
        index += plain.count("\n", last, end)
        last = end
        out += lines[done : index + 1]
        done = index + 1
        out += [R.plain_text(r) for r in records] if as_text else records
    out += lines[done:]
    return out


class MonitorEngine:
    def __init__(
        self,
        knowledge: Knowledge,
        *,
        symbolizer: Any = None,
        encoding: str = "utf-8",
        print_filter: PrintFilter | None = None,
        log: Any = None,
        elf_check: Any = None,
    ) -> None:
        self.knowledge = knowledge
        self.elf_check = elf_check  # ElfCheck: is the --elf the app on the chip?
        self._elf_notes = list(elf_check.start_notes()) if elf_check is not None else []
        self.symbolizer = symbolizer
        self.encoding = encoding
        self.print_filter = None if print_filter is None or print_filter.passes_all else print_filter
        self.log = log  # a SessionLog or None; may be swapped between calls
        self.hex_view = False
        self.keep_sgr = True  # False: device lines come out without colours (plain output)
        self.state = "running"  # running | download mode | crashed | boot loop (see ``state_at``)
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
        self._last_note: str | None = None  # the last plain annotation, until a reset or crash
        self._last_reset: float | None = None  # when the chip last reset (a boot loop lasts while resets come)
        self._baud_hint = BaudHint()
        self.baud_of: Callable[[], int] | None = None  # the port's baud now (the console can change it)
        self.baud_switch = "start again with -b {baud}"  # how to switch, said in the baud hint
        self._crash_visible = True  # did the filter show the last crash line (its panic dump's frames follow it)
        self._start_notes = [R.NOTE + print_filter.describe()] if self.print_filter is not None else []

    def host_reset(self, t: float) -> None:
        """We are about to reset the chip: its next reset line is ours, not a boot loop's."""
        self._host_reset_at = t
        self._baud_hint.rearm()

    # -- input ------------------------------------------------------------------------
    @property
    def streams_text(self) -> bool:
        """No per-line work needed: no print filter, ELF, script observer or hex view."""
        return (self.print_filter is None and self.line_observer is None and self.symbolizer is None
                and not self.hex_view)

    def feed(self, data: bytes, t: float) -> list[str]:
        """Bytes as read -> records to show (complete lines only; see ``partial_text``)."""
        out = self.start_records(t) if self._elf_notes or self._start_notes else []
        if self.hex_view:
            out.extend(self._hex(data))
        block = self._assembler.feed(data) or self._garbage_partial(False)
        if block:
            if block.isascii():
                self._lines(block, t, out)
            else:
                self._with_baud_hint(block, t, out)
        return out

    def _garbage_partial(self, idle: bool) -> bytes:
        """The unfinished line as a block when it is a garbage run to report (else b"")."""
        partial = self._assembler.partial
        if len(partial) > 8 and not partial.isascii() and self._baud_hint.cuts_partial(partial, self.baud_of() if self.baud_of else None, idle):
            return self._assembler.end()
        return b""

    def idle(self, t: float) -> list[str]:
        """No data for a while: an unfinished garbage run (a wrong baud) ends as a line with
        the baud hint after it; [] otherwise (the partial line stays partial)."""
        block = self._garbage_partial(True)
        out: list[str] = []
        if block:
            self._with_baud_hint(block, t, out)
        return out

    def _check_baud(self, block: bytes) -> tuple[bytes, str | None, bytes]:
        """A block that is not ASCII: ``(head, hint, tail)``, garbage runs cut from the good
        line glued to them and, on a baud mismatch, the hint to say after the garbage."""
        baud = self.baud_of() if self.baud_of is not None else None
        block, garbage, cut, glued = self._baud_hint.check(block, baud)
        if not garbage:
            return block, None, b""
        return block[:cut], R.ALERT + advice(garbage, baud, self.baud_switch, glued), block[cut:]

    def _with_baud_hint(self, block: bytes, t: float, out: list[str]) -> None:
        """``_lines`` for a block that is not ASCII: the baud hint goes right after the garbage."""
        block, hint, tail = self._check_baud(block)
        self._lines(block, t, out)
        if hint:
            out.append(hint)
            if self.log is not None:
                self.log.write_lines([R.plain_text(hint)], t)
            if tail:
                self._lines(tail, t, out)

    def start_records(self, t: float) -> list[str]:
        """What is said once at the start (the active print filter, a wrong --elf), logged;
        with the first output unless a renderer takes it earlier (the console, at start)."""
        out = self._start_notes + [R.ALERT + note for note in self._elf_notes]
        self._start_notes, self._elf_notes = [], []
        if out and self.log is not None:
            self.log.write_lines([R.plain_text(r) for r in out], t)
        return out

    def feed_text(self, data: bytes, t: float) -> str:
        """Bytes as read -> what ``feed`` returns as plain text: every record as its
        ``plain_text`` line, each ending in a newline ("" when no line is complete yet)."""
        if not self.streams_text:
            return "".join([R.plain_text(r) + "\n" for r in self.feed(data, t)])
        block = self._assembler.feed(data) or self._garbage_partial(False)
        if not block:
            return ""
        if not block.isascii():  # rare: garbage or UTF-8 text; the record path handles the baud hint
            records: list[str] = []
            self._with_baud_hint(block, t, records)
            return "".join([R.plain_text(r) + "\n" for r in records])
        shown, plain = clean_block(block, self.encoding)
        notes = self._notes(plain, t)
        text = _splice(plain, notes)
        if self.log is not None:
            self.log.write_text(text, t)
        if self.keep_sgr and shown is not plain:
            lines = shown.split("\n")
            lines.pop()
            return "\n".join(_interleave(lines, plain, notes)) + "\n"
        return text

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
        if self.streams_text:
            shown, plain = clean_block(block, self.encoding)
            notes = self._notes(plain, t)
            if self.log is not None:
                self.log.write_text(_splice(plain, notes), t)
            lines = (shown if self.keep_sgr else plain).split("\n")
            lines.pop()
            if notes:
                lines = _interleave(lines, plain, notes, as_text=False)
            out += lines
            return
        lines, plains = split_block(block, self.encoding)
        parse = self.knowledge.parser.feed
        flt = self.print_filter
        observer = self.line_observer
        show_lines = not self.hex_view
        sym = self.symbolizer
        log = self.log
        keep_sgr = self.keep_sgr
        logged: list[str] | None = [] if log is not None else None
        hidden: list[str] = []  # what explains a line the filter hides: the log only
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
                    # a panic's decoded backtrace explains the crash line, not the line ending the dump
                    vis = self._crash_visible if type(event).__name__ == "Panic" else visible
                    self._event(event, t, out if vis else hidden, vis)
            if sym is not None and "0x" in plain and not plain.startswith(_NO_DECODE_PREFIXES):
                self._decode_line(plain, out if visible else hidden)
            if logged is not None:
                logged.append(plain)
                if len(out) > start:
                    logged.extend(R.plain_text(r) for r in out[start:])
            if hidden:
                if logged is not None:
                    logged.extend(R.plain_text(r) for r in hidden)
                # alerts and espmon's own notes are about the session, not the line: still shown
                out.extend(r for r in hidden if r[:1] in _SESSION_KINDS)
                hidden.clear()
        if logged:
            log.write_lines(logged, t)

    def _notes(self, plain: str, t: float) -> list[tuple[int, list[str]]]:
        """The parser over a plain block: ``(end of line, records after it)`` for the lines
        whose events say something (most lines are ordinary log lines: not even visited)."""
        notes = []
        quiet = _quiet_type()
        for _start, end, events in _scan_lines(self.knowledge.parser, plain):
            records: list[str] = []
            for event in events:
                # ordinary log lines: nothing to explain, nothing for the loop detector
                if type(event) is not quiet or event.level in _NOTEWORTHY_LEVELS:
                    self._event(event, t, records, True)
            if records:
                notes.append((end, records))
        self._sync_chip()
        return notes

    def _sync_chip(self) -> None:
        parser_chip = getattr(self.knowledge.parser, "chip", None)
        if parser_chip is not None and parser_chip is not self.chip_info:
            self.chip_info = parser_chip
            self.chip = getattr(parser_chip, "name", None) or str(parser_chip)
            if self.elf_check is not None:
                self._elf_notes += self.elf_check.chip_notes(self.chip, getattr(parser_chip, "arch", None))

    def _event(self, event: Any, t: float, out: list[str], visible: bool) -> None:
        name = type(event).__name__
        if name == "LogLine" and getattr(event, "level", "E") not in _NOTEWORTHY_LEVELS:
            return  # the bulk of any log: nothing to explain, nothing for the loop detector
        self._sync_chip()
        if name in _RESET_EVENTS:
            self.resets += 1
            looping = self.state == "boot loop" and self._host_reset_at is None and self._in_loop(t)
            self.state = ("download mode" if getattr(event, "download", False)
                          else "boot loop" if looping else "running")
            self._last_reset = t
            marker = R.RESET
        elif name in CRASH_EVENTS:
            if name != "Brownout" and self.state != "boot loop":
                self.state = "crashed"
            self.crashes += 1
            marker = R.CRASH
        else:
            marker = R.ANNOTATION
            if name == "WaitingForDownload":  # the ROM says so itself (also after a strap-pin boot)
                self.state = "download mode"
        note = self.knowledge.annotate(event, self.chip_info)
        if marker != R.ANNOTATION:
            self._last_note = None
        elif note is not None and note == self._last_note:
            note = None  # a ROM repeating itself (the invalid-header loop): explained once per boot
        else:
            self._last_note = note or self._last_note
        if marker == R.CRASH:
            self._crash_visible = visible
        if note:  # ``out`` is where the line's explanations go (the caller chose it by the line's visibility)
            for part in note.splitlines():
                out.append(marker + part)
        if name == "Panic":
            self._decode_panic(event, out)
        if name == "ElfSha256" and self.elf_check is not None:
            notes = self.elf_check.sha_notes(event.sha256)
            out.extend((R.NOTE if "matches" in notes[0] else R.ALERT) + n for n in notes[:1])
        if self._elf_notes:  # the chip just became known
            out.extend(R.ALERT + note for note in self._elf_notes)
            self._elf_notes = []
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
            self.state = "boot loop"

    def _in_loop(self, t: float) -> bool:
        window = getattr(self.knowledge.loop_detector, "window", 10.0)
        return self._last_reset is not None and t - self._last_reset <= window

    def state_at(self, t: float) -> str:
        """``state`` for the status bar: a boot loop ends when the resets stop coming (the
        detector's window), without waiting for a line from the device to say so."""
        if self.state == "boot loop" and not self._in_loop(t):
            return "running"
        return self.state

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
            from espmon.elf.symbols import unwind_riscv

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
