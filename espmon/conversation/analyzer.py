"""esptool conversations, analysed: frames -> packets paired with replies -> the session story.

:class:`Analyzer` consumes the frame events of :mod:`parsers.trace_frames` and yields
:data:`Record` s, one per packet or noteworthy line, each with its trace line and time;
``end()`` adds the :class:`Summary`. The same records feed ``espmon decode`` (text and
``--json``), a replay at the recorded pace and plots. :func:`analyze_lines` runs the
whole pipeline over an iterable of text chunks, streaming.

The JSON Lines schema of issue 3 is :meth:`to_json` of each record; keys are only ever
added, never renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

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


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A request the host sent."""

    line: int
    t: float
    op: str  # esptool's name (ESP_CMDS), or 0xNN when it has none
    opcode: int
    fields: dict[str, Any]
    size: int  # payload bytes
    retry: int = 0  # 0 for a first send, n for the n-th identical resend
    problem: str | None = None
    source: str = "write"  # "command" when rebuilt from the header (no Write record)
    wait_response: bool = True

    kind = "command"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "command", "line": self.line, "t": self.t, "op": self.op, "opcode": self.opcode,
                "fields": _jsonable(self.fields), "size": self.size, "retry": self.retry, "problem": self.problem,
                "wait_response": self.wait_response}


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """A reply from the chip."""

    line: int
    t: float
    op: str
    opcode: int
    value: int
    status: int | None
    error: int | None
    error_text: str | None
    latency: float | None  # seconds since the request, for its first reply
    fields: dict[str, Any]
    repeat: int = 0  # 0 for the first reply to a request, n for the n-th extra one (SYNC gives 8)
    command_line: int | None = None  # the request this answers
    problem: str | None = None
    discarded: bool = False  # esptool never looked at it (its reader had failed)

    kind = "response"

    @property
    def ok(self) -> bool:
        return self.status == 0

    def to_json(self) -> dict[str, Any]:
        return {"kind": "response", "line": self.line, "t": self.t, "op": self.op, "opcode": self.opcode,
                "value": self.value, "status": self.status, "error": self.error, "error_text": self.error_text,
                "latency": self.latency, "fields": _jsonable(self.fields), "repeat": self.repeat,
                "command_line": self.command_line, "problem": self.problem, "discarded": self.discarded}


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """A frame that is not a request or reply: OHAI, READ_FLASH data/acks/digest, echoes."""

    line: int
    t: float
    sender: str  # "host" or "chip"
    what: str  # "OHAI", "read_data", "read_ack", "read_md5", "echo", "unknown"
    size: int
    fields: dict[str, Any] = field(default_factory=dict)
    discarded: bool = False

    kind = "frame"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "frame", "line": self.line, "t": self.t, "from": self.sender, "what": self.what,
                "size": self.size, "fields": _jsonable(self.fields), "discarded": self.discarded}


@dataclass(frozen=True, slots=True)
class TimeoutRecord:
    line: int
    t: float
    message: str
    op: str | None  # the request that was waiting for its reply

    kind = "timeout"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "timeout", "line": self.line, "t": self.t, "message": self.message, "op": self.op}


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """Bytes from the chip that are not SLIP (esptool: "Invalid head of packet"), or a
    bad escape inside a frame ("Invalid SLIP escape")."""

    line: int
    t: float
    byte: int  # the first offending byte
    data: bytes
    escape: bool = False

    kind = "invalid"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "invalid", "line": self.line, "t": self.t, "byte": self.byte, "size": len(self.data),
                "data": self.data[:64].hex(), "text": printable(self.data[:64]), "escape": self.escape}


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """Another message esptool printed through its trace (retries, flash warnings)."""

    line: int
    t: float
    message: str

    kind = "message"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "message", "line": self.line, "t": self.t, "message": self.message}


@dataclass(frozen=True, slots=True)
class TextRecord:
    line: int
    text: str

    kind = "text"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "text", "line": self.line, "text": self.text}


@dataclass(frozen=True, slots=True)
class WarningRecord:
    line: int
    message: str

    kind = "warning"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "warning", "line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class Summary:
    """The session story (see :class:`espmon.conversation.story.Story`)."""

    line: int
    data: dict[str, Any]

    kind = "summary"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "summary", "line": self.line, **_jsonable(self.data)}


Record = (CommandRecord | ResponseRecord | FrameRecord | TimeoutRecord | InvalidRecord | MessageRecord
          | TextRecord | WarningRecord | Summary)


def printable(data: bytes) -> str:
    """Bytes as text a terminal can show: ASCII kept, the rest as ``.``."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)


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
            self._line = max(self._line, event.line)
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


def analyze_lines(chunks: Iterable[str]) -> Iterator[Record]:
    """The whole pipeline, streaming: text chunks (any split) -> records, summary last."""
    parser = TraceParser()
    frames = FrameAssembler()
    analyzer = Analyzer()
    for chunk in chunks:
        for ev in parser.feed(chunk):
            for fe in frames.feed(ev):
                yield from analyzer.feed(fe)
    for ev in parser.end():
        for fe in frames.feed(ev):
            yield from analyzer.feed(fe)
    for fe in frames.end():
        yield from analyzer.feed(fe)
    yield from analyzer.end(parser.lines)
