"""The records of an analysed esptool conversation: one per packet or noteworthy line.

Each record carries its trace line (or capture record) and time, and :meth:`to_json` gives
the JSON Lines schema of ``espmon decode --json``: keys are only ever added, never renamed.
Both the analyzer (which makes them) and the story (which reads them) import this module,
so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    "printable",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


# Plain (not frozen) dataclasses: one is made per trace line or packet, and a frozen
# dataclass's __init__ costs 4x (object.__setattr__ per field). Nothing changes them once made.
@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
class TimeoutRecord:
    line: int
    t: float
    message: str
    op: str | None  # the request that was waiting for its reply

    kind = "timeout"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "timeout", "line": self.line, "t": self.t, "message": self.message, "op": self.op}


@dataclass(slots=True)
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


@dataclass(slots=True)
class MessageRecord:
    """Another message esptool printed through its trace (retries, flash warnings)."""

    line: int
    t: float
    message: str

    kind = "message"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "message", "line": self.line, "t": self.t, "message": self.message}


@dataclass(slots=True)
class TextRecord:
    line: int
    text: str

    kind = "text"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "text", "line": self.line, "text": self.text}


@dataclass(slots=True)
class WarningRecord:
    line: int
    message: str

    kind = "warning"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "warning", "line": self.line, "message": self.message}


@dataclass(slots=True)
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
