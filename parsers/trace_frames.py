"""Trace events -> the SLIP frames that crossed the wire, in both directions.

Host frames come from the ``Write`` records (each is one escaped frame; the command
header before it is a cross-check and the fallback when the ``Write`` line is missing).
Chip frames are rebuilt by running a SLIP decoder over the raw ``Read`` chunks, as
esptool's own reader did, never from the ``Received full packet`` lines, which are only
checked against them (and used when a paste lost the ``Read`` bytes).

esptool throws its reader away (``flush_input``) before each SYNC, after a baud change,
when the stub takes over, after a timeout and after a bad byte; the decoder here is reset
at the same points so a frame cut short by a timeout never swallows the next reply.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from parsers.protocol import request_checksum
from parsers.slip import BadEscape, OversizedFrame, SlipDecoder, SlipFrame, StrayBytes, TruncatedFrame, slip_decode_all
from parsers.trace import (
    TextLine,
    TraceBytes,
    TraceCommand,
    TraceEvent,
    TraceFormat,
    TraceMessage,
    TraceTimeout,
    TraceWarning,
)

__all__ = [
    "HOST",
    "CHIP",
    "Frame",
    "Stray",
    "EscapeError",
    "PartialFrame",
    "FrameEvent",
    "FrameAssembler",
]

HOST = "host"
CHIP = "chip"

_SYNC = 0x08
_CHANGE_BAUDRATE = 0x0F
_OHAI = b"OHAI"
#: Chip frames esptool has not yet confirmed with a `Received full packet` line; more
#: than this means the confirmations are simply missing (not a real esptool trace).
_MAX_UNCONFIRMED = 256


# Plain (not frozen) dataclasses: one is made per trace line or packet, and a frozen
# dataclass's __init__ costs 4x (object.__setattr__ per field). Nothing changes them once made.
@dataclass(slots=True)
class Frame:
    """One SLIP frame, unescaped, without its C0 delimiters."""

    line: int  # first line of the evidence: the command header, or the Read chunk holding the opening C0
    t: float  # when it was complete (seconds since the start of the trace)
    sender: str  # HOST or CHIP
    data: bytes
    source: str  # "write", "command" (rebuilt from the header), "read", "packet" (esptool's line)
    command: TraceCommand | None = None  # the header a host frame was sent under
    discarded: bool = False  # esptool threw it away unread (its reader had just failed)
    complete: bool = True  # False: bytes of it were lost from the trace (data is partial)


@dataclass(slots=True)
class Stray:
    """Bytes from the chip outside any frame: esptool's "Invalid head of packet"."""

    line: int
    t: float
    data: bytes
    offset: int  # in the stream of bytes read, counted from the first Read record


@dataclass(slots=True)
class EscapeError:
    """``DB`` followed by another byte than ``DC``/``DD``: esptool's "Invalid SLIP escape"."""

    line: int
    t: float
    byte: int


@dataclass(slots=True)
class PartialFrame:
    """A chip frame that never got its closing C0 before esptool gave up on it."""

    line: int
    t: float
    data: bytes
    reason: str  # "timeout", "reset", "end"


FrameEvent = Frame | Stray | EscapeError | PartialFrame | TraceFormat | TraceTimeout | TraceMessage | TextLine | TraceWarning


class FrameAssembler:
    """Feed :class:`~parsers.trace.TraceEvent` s in order, get :data:`FrameEvent` s."""

    def __init__(self) -> None:
        self._reader = SlipDecoder()
        self._offsets: list[int] = []  # start offset of each Read chunk still referenced
        self._chunk_info: list[tuple[int, float]] = []  # (line, t) of those chunks
        self._command: TraceCommand | None = None  # header waiting for its Write
        self._unconfirmed: deque[bytes] = deque()
        self._dead = False  # esptool's reader failed; frames until the next reset were discarded
        self._gap = False  # resyncing after bytes lost from the paste
        self._reset_at_command = False
        self._t = 0.0

    def feed(self, event: TraceEvent) -> list[FrameEvent]:
        out: list[FrameEvent] = []
        if isinstance(event, TraceBytes):
            self._t = event.t
            if event.kind == "write":
                self._write(event, out)
                return out
            self._flush_command(out)
            if event.kind == "read":
                self._read(event, out)
            elif event.kind == "packet":
                self._packet(event, out)
            elif event.kind == "invalid":
                # The chunk was fed at its Read record; the stray run it holds goes on
                # into the "Remaining data" bytes, so it is reported after those.
                self._dead = True
            else:  # remaining: bytes esptool read and threw away after a bad byte
                self._dead = True
                self._read(event, out)
                self._reset(out, "reset", event.line)
            return out
        if isinstance(event, TraceCommand):
            self._t = event.t
            self._flush_command(out)
            if event.op == _SYNC or self._reset_at_command:
                self._reset(out, "reset", event.line)
                self._reset_at_command = False
            if event.op == _CHANGE_BAUDRATE:
                self._reset_at_command = True
            self._command = event
            return out
        if isinstance(event, (TextLine, TraceWarning, TraceFormat, TraceMessage)):
            out.append(event)  # nothing esptool sent or read: a pending command stays pending
            return out
        self._flush_command(out)
        if isinstance(event, TraceTimeout):
            self._t = event.t
            partial = self._reader.pending_frame
            if event.received is not None and partial is not None and len(partial) != event.received:
                out.append(TraceWarning(event.line, f"esptool says {event.received} bytes of the packet arrived, "
                                                    f"the Read records hold {len(partial)}"))
            self._reset(out, "timeout", event.line)
        out.append(event)  # type: ignore[arg-type]
        return out

    def end(self) -> list[FrameEvent]:
        out: list[FrameEvent] = []
        self._flush_command(out)
        self._reset(out, "end", None)
        return out

    # --- host side -----------------------------------------------------------------

    def _write(self, ev: TraceBytes, out: list[FrameEvent]) -> None:
        cmd, self._command = self._command, None
        line = cmd.line if cmd is not None else ev.line
        if not ev.complete:
            self._incomplete(cmd, ev, out)
            return
        frames = [e for e in slip_decode_all(ev.data) if isinstance(e, SlipFrame)]
        if len(frames) != 1 or len(ev.data) < 2 or ev.data[0] != 0xC0 or ev.data[-1] != 0xC0:
            if cmd is not None and cmd.complete:
                out.append(Frame(line, ev.t, HOST, _rebuild(cmd), "command", cmd))
                out.append(TraceWarning(ev.line, "the Write record is not one SLIP frame; "
                                                 "the request was rebuilt from its command header"))
                return
            out.append(TraceWarning(ev.line, f"the Write record holds {len(frames)} SLIP frames, expected one"))
            for f in frames:
                out.append(Frame(line, ev.t, HOST, f.payload, "write", cmd))
            return
        data = frames[0].payload
        if cmd is not None and cmd.complete:
            expect = _rebuild(cmd)
            # The checksum is not on the header line; compare everything else.
            if data[:4] != expect[:4] or data[8:] != expect[8:]:
                out.append(TraceWarning(ev.line, f"the Write record differs from the command header at line {cmd.line}"))
        out.append(Frame(line, ev.t, HOST, data, "write", cmd))

    def _incomplete(self, cmd: TraceCommand | None, ev: TraceBytes | None, out: list[FrameEvent]) -> None:
        """Dump lines were lost (a cut paste, or esptool 5.6's rich console eating them):
        the best partial request, flagged, so the op and its block header still show."""
        if cmd is not None and cmd.complete:
            out.append(Frame(cmd.line, cmd.t if ev is None else ev.t, HOST, _rebuild(cmd), "command", cmd))
            return
        partial = b""
        if ev is not None and ev.data[:1] == b"\xc0":
            events = slip_decode_all(ev.data)
            payloads = [e.payload for e in events if isinstance(e, (SlipFrame, TruncatedFrame))]
            partial = max(payloads, key=len, default=b"")
        if cmd is not None and len(cmd.data) + 8 > len(partial):
            partial = _rebuild(cmd)[:8] + cmd.data
        if len(partial) >= 2:
            line = cmd.line if cmd is not None else (ev.line if ev is not None else 0)
            t = ev.t if ev is not None else (cmd.t if cmd is not None else self._t)
            out.append(Frame(line, t, HOST, partial, "write" if ev is not None else "command", cmd, complete=False))

    def _flush_command(self, out: list[FrameEvent]) -> None:
        cmd, self._command = self._command, None
        if cmd is None:
            return
        if cmd.complete:
            out.append(Frame(cmd.line, cmd.t, HOST, _rebuild(cmd), "command", cmd))
            out.append(TraceWarning(cmd.line, "no Write record after this command; the request was rebuilt from its header"))
        else:
            self._incomplete(cmd, None, out)
            out.append(TraceWarning(cmd.line, "no Write record after this command and its payload dump is incomplete"))

    # --- chip side -----------------------------------------------------------------

    def _read(self, ev: TraceBytes, out: list[FrameEvent]) -> None:
        if ev.resumed:
            self._reset(out, "reset", ev.line, quiet=True)
            self._gap = True
        if ev.data:
            self._offsets.append(self._reader.offset)
            self._chunk_info.append((ev.line, ev.t))
            self._convert(self._reader.feed(ev.data), ev.line, ev.t, out)
        if not ev.complete:
            # Bytes of this chunk are missing: what is buffered cannot be trusted.
            self._reset(out, "reset", ev.line, quiet=True)
            self._gap = True
            return
        self._prune()

    def _packet(self, ev: TraceBytes, out: list[FrameEvent]) -> None:
        if not ev.data:
            return  # `C0 C0 C0`: esptool's reader returns an empty packet; not a frame
        if self._unconfirmed:
            got = self._unconfirmed.popleft()
            if got != ev.data and ev.complete:
                out.append(TraceWarning(ev.line, f"esptool's packet ({len(ev.data)} bytes) differs from the frame "
                                                 f"rebuilt from the Read records ({len(got)} bytes)"))
            return
        if not ev.complete:
            return
        # No Read bytes for this packet (the paste lost them): esptool's line is all we have.
        if self._reader.in_frame:
            self._reset(out, "reset", ev.line, quiet=True)
        out.append(Frame(ev.line, ev.t, CHIP, ev.data, "packet"))
        if ev.data == _OHAI:
            self._reset_at_command = True

    def _convert(self, events: list, line: int, t: float, out: list[FrameEvent]) -> None:
        for e in events:
            if isinstance(e, SlipFrame):
                out.append(Frame(self._line_at(e.offset, line), t, CHIP, e.payload, "read", None, self._dead))
                if not self._dead:
                    self._gap = False
                    if len(self._unconfirmed) < _MAX_UNCONFIRMED:
                        self._unconfirmed.append(e.payload)
                if e.payload == _OHAI:
                    self._reset_at_command = True
            elif isinstance(e, StrayBytes):
                if self._gap:
                    out.append(TraceWarning(self._line_at(e.offset, line),
                                            f"{len(e.data)} bytes after a gap in the dump skipped"))
                else:
                    out.append(Stray(self._line_at(e.offset, line), t, e.data, e.offset))
                    self._dead = True
            elif isinstance(e, BadEscape):
                out.append(EscapeError(self._line_at(e.offset, line), t, e.byte))
                self._dead = True
            elif isinstance(e, TruncatedFrame):
                if not self._gap and e.payload:
                    out.append(PartialFrame(self._line_at(e.offset, line), t, e.payload, "reset"))
            elif isinstance(e, OversizedFrame):
                out.append(TraceWarning(self._line_at(e.offset, line), f"a frame grew past {e.size} bytes without "
                                                                       "closing; its bytes were dropped"))

    def _reset(self, out: list[FrameEvent], reason: str, line: int | None, quiet: bool = False) -> None:
        """esptool made a new reader: report what the old one still held."""
        for e in self._reader.end():
            if isinstance(e, TruncatedFrame):
                if e.payload and not quiet and not self._gap:
                    out.append(PartialFrame(self._line_at(e.offset, line or 0), self._t, e.payload, reason))
            else:
                self._convert([e], line or 0, self._t, out)
        self._unconfirmed.clear()
        self._dead = False
        self._gap = False
        self._offsets.clear()
        self._chunk_info.clear()

    def _line_at(self, offset: int, default: int) -> int:
        i = bisect.bisect_right(self._offsets, offset) - 1
        return self._chunk_info[i][0] if i >= 0 else default

    def _prune(self) -> None:
        """Forget Read chunks that no open frame or stray run can point back to."""
        keep_from = self._reader.pending_offset
        if keep_from is None:
            self._offsets.clear()
            self._chunk_info.clear()
            return
        i = bisect.bisect_right(self._offsets, keep_from) - 1
        if i > 0:
            del self._offsets[:i]
            del self._chunk_info[:i]


def _rebuild(cmd: TraceCommand) -> bytes:
    """The request frame esptool sent for a command header (esptool puts 0 in the
    checksum field except for data blocks). The size field has 16 bits: a longer payload
    (not one esptool could send) gets 0xFFFF, which decode_request reports as a mismatch."""
    data = cmd.data
    chk = request_checksum(cmd.op, data)
    return bytes([0, cmd.op]) + min(len(data), 0xFFFF).to_bytes(2, "little") + chk.to_bytes(4, "little") + data
