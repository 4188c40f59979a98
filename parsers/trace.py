"""esptool ``--trace`` text -> typed events, for every esptool format from 2.2 to 5.x.

Feed text in any chunking (:meth:`TraceParser.feed`) or one line at a time
(:meth:`TraceParser.feed_line`), then call :meth:`TraceParser.end`. Each event carries
the 1-based line where it starts and, for trace records, the time ``t`` in seconds since
the start of the trace (the sum of the ``+delta`` values). Bad input never raises: it
becomes a :class:`TraceWarning` and parsing goes on.

The formats (see ``shared/research/trace-format.md``)::

    TRACE +0.000 command op=0x08 data len=36 wait_response=1 timeout=0.100 data=b'\\x07...'  2.2-2.3
    TRACE +0.000 command op=0x08 data len=36 wait_response=1 timeout=0.100 data=             2.4-4.x
      TRACE +0.000   --- Cmd SYNC (0x08) | data_len 36 | wait_response 1 | timeout 0.100 | data   5.x

followed by ``Write N bytes:``, ``Read N bytes:``, ``Received full packet:`` (``Full
packet:`` in 2.2-2.3), ``Read invalid data:``, ``Remaining data in serial buffer:``, timeout
messages and free-form messages; bytes longer than 16 continue on hexdump lines.
"""

from __future__ import annotations

from parsers import trace_patterns as _p
from parsers.hexdump import (
    is_cut_marker,
    parse_dump_line,
    parse_repr_bytes,
)
from parsers.trace_events import (
    FORMAT_HEX,
    FORMAT_REPR,
    FORMAT_V5,
    TextLine,
    TraceBytes,
    TraceCommand,
    TraceEvent,
    TraceFormat,
    TraceMessage,
    TraceTimeout,
    TraceWarning,
)
from parsers.trace_patterns import Dump as _Block

__all__ = [
    "FORMAT_REPR",
    "FORMAT_HEX",
    "FORMAT_V5",
    "MAX_LINE",
    "TraceFormat",
    "TraceCommand",
    "TraceBytes",
    "TraceTimeout",
    "TraceMessage",
    "TextLine",
    "TraceWarning",
    "TraceEvent",
    "TraceParser",
    "parse_trace",
]

#: Longer lines are cut here (the rest is skipped with a warning), so that a file with
#: no newlines cannot grow memory without bound.
MAX_LINE = 1 << 20

class TraceParser:
    """Line state machine over esptool trace text (see the module docstring)."""

    def __init__(self) -> None:
        self._lineno = 0
        self._t_ms = 0
        self._partial = ""
        self._skipping = False  # inside an overlong line
        self._block: _Block | None = None
        self._family: str | None = None
        self._orphans = False  # inside a run of dump lines that have no header
        self._foreign: set[str] = set()
        self._cr_lines: bool | None = None  # lines end in a lone CR (old Mac, `tr '\n' '\r'`); None: not known yet

    @property
    def lines(self) -> int:
        """Lines seen so far."""
        return self._lineno

    @property
    def family(self) -> str | None:
        return self._family

    # --- input ---------------------------------------------------------------------

    def feed(self, text: str) -> list[TraceEvent]:
        """Feed text in any chunking; complete lines are parsed at once."""
        out: list[TraceEvent] = []
        if not text:
            return out
        if self._cr_lines is None:
            text = self._line_ends(text)
        elif self._cr_lines:
            text = text.replace("\r", "\n")
        limit = MAX_LINE
        parts = text.split("\n")
        tail = parts.pop()  # the line still being written (maybe "")
        if self._skipping:
            if not parts:
                return out  # still inside an overlong line
            del parts[0]  # its end
            self._skipping = False
        elif parts and self._partial:
            parts[0] = self._partial + parts[0]
            self._partial = ""
        fromhex = bytes.fromhex
        plain = _p.PLAIN_BYTES.match
        plain_cmd = _p.PLAIN_CMD.match
        append = out.append
        # Short ways for the bulk of a trace; each does exactly what feed_line would.
        for part in parts:
            blk = self._block
            # An unmangled hexdump row of an open dump:
            if blk is not None and 38 < len(part) < limit and part[38] == "|" and part[:4] == "    ":
                try:
                    data = fromhex(part[4:37])
                except ValueError:
                    data = b""
                if data:
                    self._lineno += 1
                    blk.chunks.append(data)
                    blk.got += len(data)
                    if blk.expected is not None and blk.got >= blk.expected:
                        if blk.got > blk.expected:
                            append(TraceWarning(self._lineno, f"dump holds more than the {blk.expected} bytes "
                                                              "announced"))
                        self._finish(out)
                    continue
            if not part:  # a blank line ends an open dump
                self._lineno += 1
                if blk is not None:
                    self._finish(out)
                continue
            # A byte record in esptool's own layout (what _record makes of it):
            m = plain(part)
            if m is not None and len(part) < limit and not len(m.group(6)) & 1:
                if blk is not None:
                    self._finish(out)
                self._lineno += 1
                self._orphans = False
                when, spaces, verb, count, _, hexes = m.groups()
                self._t_ms += round(float(when) * 1000)
                t = self._t_ms / 1000
                if verb is None:
                    kind, declared = "packet", None
                else:
                    if self._family is None:
                        self._set_family(FORMAT_V5 if len(spaces) >= 3 else FORMAT_HEX, out, strong=False)
                    kind, declared = ("write" if verb == "Write" else "read"), int(count)
                if hexes:
                    data = fromhex(hexes)
                    if declared is None or len(data) == declared:
                        append(TraceBytes(self._lineno, t, kind, data, declared, True, False))
                    else:
                        self._emit_bytes(kind, self._lineno, t, data, declared, True, False, out)
                elif declared == 0:
                    append(TraceBytes(self._lineno, t, kind, b"", 0, True, False))
                else:
                    self._block = _Block(kind, self._lineno, t, declared)
                continue
            n = len(part)
            if n < limit and (m := plain_cmd(part)) is not None and not len(m.group(7)) & 1:
                if blk is not None:
                    self._finish(out)
                self._lineno += 1
                self._orphans = False
                when, name, op, data_len, wait, timeout, hexes = m.groups()
                self._t_ms += round(float(when) * 1000)
                t = self._t_ms / 1000
                if self._family != FORMAT_V5:
                    self._set_family(FORMAT_V5, out)
                cmd = (int(op, 16), name, int(data_len), wait != "0", float(timeout))
                if hexes or cmd[2] == 0:
                    self._emit_command(cmd, self._lineno, t, fromhex(hexes), len(hexes) == 2 * cmd[2], out)
                else:
                    self._block = _Block("command", self._lineno, t, cmd[2], cmd)
                continue
            if n >= limit:
                out += self.feed_line(part[:limit])
                append(TraceWarning(self._lineno, f"line longer than {limit} characters; the rest was skipped"))
                continue
            # Another trace record alone on its line, nothing before it but indentation:
            idx = part.find("TRACE +")
            if idx >= 0 and (idx == 0 or part[:idx].isspace()) \
                    and not (blk is not None and n > 38 and part[38] == "|") and part.find("TRACE +", idx + 7) < 0 \
                    and "\x1b" not in part and "\r" not in part:
                if blk is not None:
                    self._finish(out)
                self._lineno += 1
                self._orphans = False
                self._record(part[idx:], out)
                continue
            events = self.feed_line(part)
            if events:
                out += events
        if len(self._partial) + len(tail) >= limit:
            line = (self._partial + tail)[:limit]
            self._partial = ""
            out += self.feed_line(line)
            out.append(TraceWarning(self._lineno, f"line longer than {limit} characters; the rest was skipped"))
            self._skipping = True
        else:
            self._partial += tail
        return out

    def _line_ends(self, text: str) -> str:
        """Until the first line break is seen: is it LF (or CRLF), or a lone CR? A lone CR
        inside an LF file is esptool's progress redraw and stays part of its line."""
        probe = self._partial[-1:] + text  # a CR that ended the chunk before counts
        nl = probe.find("\n")
        cr = probe.find("\r")
        if cr < 0 or 0 <= nl < cr:
            if nl >= 0:
                self._cr_lines = False
            return text
        if cr + 1 == len(probe):
            return text  # a CR at the end of the chunk: the next chunk tells
        if probe[cr + 1] == "\n":
            self._cr_lines = False
            return text
        self._cr_lines = True
        text, self._partial = self._partial + text, ""  # what was held back holds no other CR
        return text.replace("\r", "\n")

    def end(self) -> list[TraceEvent]:
        """The input is over: parse a last line with no newline, close an open dump."""
        out: list[TraceEvent] = []
        if self._partial:
            out += self.feed_line(self._partial)
            self._partial = ""
        self._skipping = False
        if self._block is not None:
            self._finish(out)
        return out

    def feed_line(self, raw: str) -> list[TraceEvent]:
        """Parse one line (without its newline)."""
        self._lineno += 1
        out: list[TraceEvent] = []
        line = raw.rstrip("\r\n")
        if "\x1b" in line:
            line = _p.ANSI.sub("", line)
        if "\r" in line:
            line = line.replace("\r", " ")
        blk = self._block
        if blk is not None and self._continue(blk, line, out):
            return out
        idx = line.find("TRACE +")
        if idx < 0:
            self._text(line, out)
            return out
        self._orphans = False
        head = line[:idx].strip()
        if head and head not in _p.JUNK_HEAD:
            out.append(TextLine(self._lineno, head))
        # A log glued onto one line holds several records: split before each prefix.
        starts = [idx]
        nxt = line.find("TRACE +", idx + 7)
        while nxt >= 0:
            starts.append(nxt)
            nxt = line.find("TRACE +", nxt + 7)
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(line)
            if self._block is not None:
                self._finish(out)
            self._record(line[start:end].rstrip() if k + 1 < len(starts) else line[start:end], out)
        return out

    # --- records -------------------------------------------------------------------

    def _record(self, seg: str, out: list[TraceEvent]) -> None:
        m = _p.PREFIX.match(seg)
        if m is None:
            out.append(TraceWarning(self._lineno, f"unreadable TRACE prefix: {seg[:40]!r}"))
            return
        try:
            self._t_ms += round(float(m.group(1)) * 1000)
        except (ValueError, OverflowError):
            out.append(TraceWarning(self._lineno, f"unreadable time {m.group(1)!r}"))
        t = self._t_ms / 1000
        wide = len(m.group(2)) >= 3  # esptool 5 puts 3 spaces before the message
        msg = seg[m.end():]
        c = msg[:1]
        if c in "WR":
            bm = _p.BYTES.match(msg)
            if bm is not None:
                if len(bm.group(2)) > _p.MAX_DIGITS:
                    self._unreadable_number(bm.group(2), msg, t, out)
                    return
                self._set_family(FORMAT_V5 if wide else FORMAT_HEX, out, strong=False)
                kind = "write" if bm.group(1) == "Write" else "read"
                self._payload(kind, t, bm.group(3), int(bm.group(2)), out)
                return
        for label, kind in _p.BYTE_LABELS:
            if msg.startswith(label):
                if label == "Full packet:":
                    self._set_family(FORMAT_REPR, out)
                self._payload(kind, t, msg[len(label):], None, out)
                return
        if c == "-" and msg.startswith("--- Cmd"):
            cm = _p.CMD_V5.match(msg)
            if cm is not None:
                if len(cm.group(3)) > _p.MAX_DIGITS:
                    self._unreadable_number(cm.group(3), msg, t, out)
                    return
                self._set_family(FORMAT_V5, out)
                rest = cm.group(6).strip()
                if rest.endswith("---"):
                    rest = rest[:-3].rstrip()
                self._command(int(cm.group(2), 16), cm.group(1), int(cm.group(3)), cm.group(4) != "0",
                              float(cm.group(5)), t, rest, out)
                return
        if c == "c" and msg.startswith("command op="):
            cm = _p.CMD_HEX.match(msg)
            if cm is not None:
                if len(cm.group(2)) > _p.MAX_DIGITS:
                    self._unreadable_number(cm.group(2), msg, t, out)
                    return
                rest = cm.group(5).strip()
                self._set_family(FORMAT_REPR if rest[:2] in ("b'", 'b"') or rest[:1] in ("'", '"') else FORMAT_HEX, out)
                self._command(int(cm.group(1), 16), None, int(cm.group(2)), cm.group(3) != "0",
                              float(cm.group(4)), t, rest, out)
                return
        if msg.startswith(_p.TIMEOUTS):
            text = msg.strip()
            cm = _p.COUNT.match(text)
            digits = cm.group(1) if cm is not None else None
            received = int(digits) if digits and len(digits) <= _p.MAX_DIGITS else None
            out.append(TraceTimeout(self._lineno, t, text, received))
            if wide:
                self._set_family(FORMAT_V5, out, strong=False)
            return
        if wide:
            self._set_family(FORMAT_V5, out, strong=False)
        out.append(TraceMessage(self._lineno, t, msg.strip()))

    def _unreadable_number(self, digits: str, msg: str, t: float, out: list[TraceEvent]) -> None:
        out.append(TraceWarning(self._lineno, f"a number of {len(digits):,} digits in a TRACE record "
                                              "(no esptool prints such counts); the record is shown as text"))
        out.append(TraceMessage(self._lineno, t, msg.strip()))

    def _command(self, op: int, name: str | None, data_len: int, wait: bool, timeout: float,
                 t: float, rest: str, out: list[TraceEvent]) -> None:
        cmd = (op, name, data_len, wait, timeout)
        if rest[:2] in ("b'", 'b"') or rest[:1] in ("'", '"'):
            parsed = parse_repr_bytes(rest)
            data, closed = (parsed[0], parsed[1]) if parsed else (b"", False)
            self._emit_command(cmd, self._lineno, t, data, closed and len(data) == data_len, out)
            return
        if rest or data_len == 0:
            data, tail = _p.inline_bytes(rest, data_len)
            if data is None:
                out.append(TraceWarning(self._lineno, f"unreadable command payload: {rest[:40]!r}"))
                data = b""
            self._emit_command(cmd, self._lineno, t, data, len(data) == data_len, out)
            if tail:
                out.append(TextLine(self._lineno, tail))
            return
        self._block = _Block("command", self._lineno, t, data_len, cmd)

    def _emit_command(self, cmd: tuple, line: int, t: float, data: bytes, complete: bool,
                      out: list[TraceEvent]) -> None:
        op, name, data_len, wait, timeout = cmd
        out.append(TraceCommand(line, t, op, name, data_len, wait, timeout, data, complete))
        if not complete:
            out.append(TraceWarning(line, f"command payload dump has {len(data)} of {data_len} bytes"))

    def _payload(self, kind: str, t: float, rest: str, declared: int | None, out: list[TraceEvent]) -> None:
        r = rest.strip()
        if r[:2] in ("b'", 'b"') or r[:1] in ("'", '"'):
            self._set_family(FORMAT_REPR, out)
            parsed = parse_repr_bytes(r)
            data, closed = (parsed[0], parsed[1]) if parsed else (b"", False)
            self._emit_bytes(kind, self._lineno, t, data, declared, closed, False, out)
            return
        if not r:
            if declared == 0:
                self._emit_bytes(kind, self._lineno, t, b"", declared, True, False, out)
            else:
                self._block = _Block(kind, self._lineno, t, declared)
            return
        data, tail = _p.inline_bytes(r, declared)
        if data is None:
            out.append(TraceWarning(self._lineno, f"unreadable bytes in {kind} record: {r[:40]!r}"))
            self._emit_bytes(kind, self._lineno, t, b"", declared, False, False, out, warn=False)
            return
        self._emit_bytes(kind, self._lineno, t, data, declared, True, False, out)
        if tail:
            out.append(TextLine(self._lineno, tail))

    def _emit_bytes(self, kind: str, line: int, t: float, data: bytes, declared: int | None,
                    complete: bool, resumed: bool, out: list[TraceEvent], warn: bool = True) -> None:
        if declared is not None and len(data) != declared:
            complete = False
        out.append(TraceBytes(line, t, kind, data, declared, complete, resumed))
        if not complete and warn:
            if declared is not None:
                what = f"{len(data)} of {declared} bytes"
            else:
                what = f"{len(data)} bytes, cut short"
            out.append(TraceWarning(line, f"{kind} dump has {what}"))

    # --- hexdump continuation lines ------------------------------------------------

    def _continue(self, blk: _Block, line: str, out: list[TraceEvent]) -> bool:
        """Take ``line`` into the open dump if it belongs there; False if it does not."""
        if "TRACE +" in line and not (len(line) > 38 and line[38] == "|"):
            self._finish(out)
            return False
        data = parse_dump_line(line)
        if data is not None:
            blk.chunks.append(data)
            blk.got += len(data)
            if blk.expected is not None and blk.got >= blk.expected:
                if blk.got > blk.expected:
                    out.append(TraceWarning(self._lineno, f"dump holds more than the {blk.expected} bytes announced"))
                self._finish(out)
            return True
        if is_cut_marker(line) and blk.expected is not None and blk.got < blk.expected:
            # The user cut dump lines: what follows belongs to the same dump, after a gap.
            remaining = blk.expected - blk.got
            blk.lost = True
            self._finish(out)
            self._block = _Block(blk.kind, self._lineno, blk.t, None, blk.cmd, resumed=True)
            self._block.expected = None if blk.kind != "command" else remaining
            return True
        self._finish(out)
        return False

    def _finish(self, out: list[TraceEvent]) -> None:
        blk = self._block
        self._block = None
        if blk is None:
            return
        data = b"".join(blk.chunks)
        if blk.resumed:
            if data:
                out.append(TraceBytes(blk.line, blk.t, blk.kind, data, None, False, True)
                           if blk.kind != "command" else
                           TraceWarning(blk.line, f"{len(data)} command payload bytes after a cut were ignored"))
            return
        if blk.kind == "command":
            assert blk.cmd is not None
            self._emit_command(blk.cmd, blk.line, blk.t, data, not blk.lost and blk.got == blk.cmd[2], out)
            return
        complete = not blk.lost and (blk.expected is None or blk.got == blk.expected)
        self._emit_bytes(blk.kind, blk.line, blk.t, data, blk.expected, complete, False, out)

    # --- lines that are not trace records ------------------------------------------

    def _text(self, line: str, out: list[TraceEvent]) -> None:
        stripped = line.strip()
        if not stripped:
            return
        for pattern, tool in _p.FOREIGN:
            if pattern.match(line):
                self._orphans = False
                if tool not in self._foreign:
                    self._foreign.add(tool)
                    out.append(TraceWarning(self._lineno, f"this looks like {tool} output, not esptool's --trace; "
                                                          "such lines are shown as text, not decoded"))
                out.append(TextLine(self._lineno, stripped))
                return
        if _p.FENCE.match(line):
            return
        if "|" in line and parse_dump_line(line) is not None:
            if not self._orphans:
                out.append(TraceWarning(self._lineno, "hexdump lines with no TRACE record before them "
                                                      "(the paste starts or resumes mid-dump); skipped"))
            self._orphans = True
            return
        self._orphans = False
        out.append(TextLine(self._lineno, stripped))

    def _set_family(self, family: str, out: list[TraceEvent], strong: bool = True) -> None:
        # Spacing is weak evidence (pastes collapse spaces); record shapes are strong.
        if family != self._family and (strong or self._family is None):
            self._family = family
            out.append(TraceFormat(self._lineno, family))


def parse_trace(text: str) -> list[TraceEvent]:
    """Parse a whole trace held in memory (tests, small inputs)."""
    parser = TraceParser()
    return parser.feed(text) + parser.end()
