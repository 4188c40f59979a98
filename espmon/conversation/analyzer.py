"""esptool conversations, analysed: frames -> packets paired with replies -> the session story.

:class:`Analyzer` consumes the frame events of :mod:`parsers.trace_frames` and yields
:data:`Record` s, one per packet or noteworthy line, each with its trace line and time;
``end()`` adds the :class:`Summary`. The same records feed ``espmon decode`` (text and
``--json``), a replay at the recorded pace and plots. :func:`analyze_lines` runs the
whole pipeline over an iterable of text chunks, streaming.

The records and their JSON Lines schema are in :mod:`espmon.conversation.records`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from espmon.conversation.records import (
    CommandRecord,
    FrameRecord,
    InvalidRecord,
    MessageRecord,
    Record,
    ResponseRecord,
    Summary,
    TextRecord,
    TimeoutRecord,
    WarningRecord,
)
from espmon.conversation.story import Story
from parsers.chips import register_name
from parsers.protocol import (
    OHAI,
    SYNC_DATA,
    Opcode,
    RawFrame,
    Request,
    decode_request,
    decode_response,
    op_name,
)
from parsers.trace import TextLine, TraceFormat, TraceMessage, TraceParser, TraceTimeout, TraceWarning
from parsers.trace_frames import CHIP, EscapeError, Frame, FrameAssembler, PartialFrame, Stray

__all__ = [
    "CommandRecord",
    "ResponseRecord",
    "FrameRecord",
    "TimeoutRecord",
    "InvalidRecord",
    "MessageRecord",
    "TextRecord",
    "WarningRecord",
    "Summary",
    "Record",
    "Analyzer",
    "analyze_lines",
]

# Payload keys that are padding or bulk data, not worth showing.
_HIDDEN = frozenset({"data", "pad", "pad1", "pad2", "fill", "pattern"})


class Analyzer:
    """Frame events in, records out. Pairs each reply with its request and keeps the story."""

    def __init__(self) -> None:
        self.story = Story()
        self._pending: CommandRecord | None = None  # the request waiting for replies
        self._replies = 0
        self._last_by_op: dict[int, tuple[bytes, bool]] = {}  # op -> (payload, answered ok)
        self._retries: dict[int, int] = {}
        self._line = 0

    def feed(self, event: Any) -> list[Record]:
        if isinstance(event, Frame):
            if event.line > self._line:
                self._line = event.line
            return self._host(event) if event.sender != CHIP else self._chip(event)
        line = getattr(event, "line", 0)
        self._line = max(self._line, line)
        if isinstance(event, TextLine):
            self.story.text(event.line, event.text)
            return [TextRecord(event.line, event.text)]
        if isinstance(event, TraceTimeout):
            op = self._pending.op if self._pending is not None else None
            self.story.timeout(event.line, event.t, event.message, self._pending)
            return [TimeoutRecord(event.line, event.t, event.message, op)]
        if isinstance(event, Stray):
            self.story.invalid_bytes(event.line, event.data)
            return [InvalidRecord(event.line, event.t, event.data[0], event.data)]
        if isinstance(event, EscapeError):
            self.story.invalid_bytes(event.line, bytes([0xDB, event.byte]))
            return [InvalidRecord(event.line, event.t, event.byte, bytes([0xDB, event.byte]), escape=True)]
        if isinstance(event, PartialFrame):
            self.story.partial(event)
            return [WarningRecord(event.line, f"a reply was cut short after {len(event.data)} bytes "
                                              f"({'end of the trace' if event.reason == 'end' else event.reason})")]
        if isinstance(event, TraceMessage):
            self.story.message(event.line, event.message)
            return [MessageRecord(event.line, event.t, event.message)]
        if isinstance(event, TraceWarning):
            self.story.warnings += 1
            return [WarningRecord(event.line, event.message)]
        if isinstance(event, TraceFormat):
            self.story.set_format(event.family)
        return []

    def end(self, lines: int | None = None) -> list[Record]:
        return [Summary(lines if lines is not None else self._line, self.story.summary())]

    # --- host ----------------------------------------------------------------------

    def _host(self, frame: Frame) -> list[Record]:
        data = frame.data
        reading = self.story.reading
        if reading is not None and len(data) < 8:
            received = int.from_bytes(data[:4], "little") if len(data) == 4 else None
            return [FrameRecord(frame.line, frame.t, "host", "read_ack", len(data), {"received": received})]
        pkt = decode_request(data)
        if isinstance(pkt, RawFrame):
            return [FrameRecord(frame.line, frame.t, "host", "unknown", len(data), {"data": data[:32]})]
        fields = self._request_fields(pkt)
        problem = pkt.problem
        if not frame.complete:
            fields.pop("checksum_ok", None)
            declared = frame.command.data_len if frame.command is not None else None
            lost = f"{declared - len(pkt.data):,} of its {declared:,} payload bytes" if declared else "bytes"
            problem = f"{lost} are missing from the trace; not checked"
        payload_key = (pkt.data, False)
        prev = self._last_by_op.get(pkt.op)
        retry = 0
        if prev is not None and prev[0] == pkt.data and not prev[1]:
            retry = self._retries.get(pkt.op, 0) + 1
        self._retries[pkt.op] = retry
        self._last_by_op[pkt.op] = payload_key
        wait = frame.command.wait_response if frame.command is not None else True
        size = frame.command.data_len if frame.command is not None else len(pkt.data)
        rec = CommandRecord(frame.line, frame.t, op_name(pkt.op), pkt.op, fields, size, retry,
                            problem, frame.source, wait)
        self._pending = rec
        self._replies = 0
        self.story.command(rec, pkt, wait, complete=frame.complete)
        return [rec]

    def _request_fields(self, pkt: Request) -> dict[str, Any]:
        fields = {k: v for k, v in pkt.fields.items() if k not in _HIDDEN and v is not None}
        if pkt.checksum_ok is not None:
            fields["checksum_ok"] = pkt.checksum_ok
        if pkt.op in (Opcode.READ_REG, Opcode.WRITE_REG) and "address" in fields:
            name = register_name(fields["address"], self.story.chip_facts)
            if name is None and self.story.chip_facts is None:
                name = register_name(fields["address"])
            if name:
                fields["register"] = name
        elif pkt.op == Opcode.SYNC:
            fields["valid"] = pkt.data == SYNC_DATA
        return fields

    # --- chip ----------------------------------------------------------------------

    def _chip(self, frame: Frame) -> list[Record]:
        data = frame.data
        story = self.story
        if story.reading is not None and not frame.discarded:
            what, fields = story.read_frame(data, frame.t)
            return [FrameRecord(frame.line, frame.t, "chip", what, len(data), fields)]
        if data == OHAI:
            story.ohai(frame.line)
            return [FrameRecord(frame.line, frame.t, "chip", "OHAI", 4, {}, frame.discarded)]
        if data[:1] == b"\x00" and len(data) >= 8:
            # A request coming back: a loopback port, or TX wired to RX.
            story.echoes += 1
            return [FrameRecord(frame.line, frame.t, "chip", "echo", len(data), {"op": op_name(data[1])},
                                frame.discarded)]
        pkt = decode_response(data, story.status_len)
        if isinstance(pkt, RawFrame):
            return [FrameRecord(frame.line, frame.t, "chip", "unknown", len(data), {"data": data[:32]},
                                frame.discarded)]
        pending = self._pending
        latency = None
        command_line = None
        repeat = 0
        fields = dict(pkt.fields)
        if pending is not None and pending.opcode == pkt.op and not frame.discarded:
            repeat = self._replies
            self._replies += 1
            command_line = pending.line
            if repeat == 0:
                latency = round(frame.t - pending.t, 3)
            if pkt.op in (Opcode.READ_REG,) and "address" in pending.fields:
                fields["address"] = pending.fields["address"]
                if "register" in pending.fields:
                    fields["register"] = pending.fields["register"]
            if pkt.ok:
                self._last_by_op[pkt.op] = (self._last_by_op.get(pkt.op, (b"", True))[0], True)
        rec = ResponseRecord(frame.line, frame.t, op_name(pkt.op), pkt.op, pkt.value, pkt.status, pkt.error,
                             pkt.error_text, latency, fields, repeat, command_line, pkt.problem, frame.discarded)
        story.response(rec, pending if command_line is not None else None)
        return [rec]


def analyze_lines(chunks: Iterable[str], parser: Any = None) -> Iterator[Record]:
    """The whole pipeline, streaming: text chunks (any split) -> records, summary last.
    ``parser``: what turns the text into trace events (a ``TraceParser`` unless given; a
    capture's is ``parsers.capture_trace.CaptureTraceParser``)."""
    parser = TraceParser() if parser is None else parser
    frames = FrameAssembler()
    analyzer = Analyzer()
    # One stage at a time over a chunk's events (not each event through every stage): the
    # same records in the same order, ~25 % faster (each stage's code and data stay in cache).
    for chunk in chunks:
        found: list = []
        for ev in parser.feed(chunk):
            found += frames.feed(ev)
        records: list[Record] = []
        for fe in found:
            records += analyzer.feed(fe)
        yield from records
    for ev in parser.end():
        for fe in frames.feed(ev):
            yield from analyzer.feed(fe)
    for fe in frames.end():
        yield from analyzer.feed(fe)
    yield from analyzer.end(parser.lines)
