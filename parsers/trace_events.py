"""The events :class:`parsers.trace.TraceParser` yields (one per esptool trace record,
esptool output line or problem), and the names of the trace format families."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FORMAT_REPR",
    "FORMAT_HEX",
    "FORMAT_V5",
    "FORMAT_CAPTURE",
    "TraceFormat",
    "TraceCommand",
    "TraceBytes",
    "TraceTimeout",
    "TraceMessage",
    "TextLine",
    "TraceWarning",
    "TraceEvent",
]

FORMAT_REPR = "v2-repr"  # esptool 2.2-2.3: Python repr() of bytes
FORMAT_HEX = "v2-v4"  # esptool 2.4-4.x: HexFormatter, `command op=0x..`
FORMAT_V5 = "v5"  # esptool 5.x: `--- Cmd NAME (0x..) | ...`
FORMAT_CAPTURE = "capture"  # an espmon capture (parsers.capture): the bytes on the wire, timed


# Plain (not frozen) dataclasses: one is made per trace line or packet, and a frozen
# dataclass's __init__ costs 4x (object.__setattr__ per field). Nothing changes them once made.
@dataclass(slots=True)
class TraceFormat:
    """The format family of the trace records from ``line`` on."""

    line: int
    family: str


@dataclass(slots=True)
class TraceCommand:
    """A command header: esptool is about to send request ``op``."""

    line: int
    t: float
    op: int
    name: str | None  # the name esptool 5 printed (None before 5.0)
    data_len: int
    wait_response: bool
    timeout: float
    data: bytes  # the payload as dumped on the header (may be short, see complete)
    complete: bool  # len(data) == data_len and no dump line was lost


@dataclass(slots=True)
class TraceBytes:
    """Bytes esptool printed. ``kind``: ``write`` (a SLIP frame sent, escaped, with its
    C0s), ``read`` (a raw chunk read from the port), ``packet`` (a frame esptool
    assembled, unescaped), ``invalid`` (the chunk that held a bad byte) or ``remaining``
    (what was still waiting in the port after that)."""

    line: int
    t: float
    kind: str
    data: bytes
    declared: int | None  # the N of `Write N bytes` / `Read N bytes`
    complete: bool  # every byte is here (no dump line lost or cut)
    resumed: bool = False  # these bytes follow lines a user cut out of the same dump


@dataclass(slots=True)
class TraceTimeout:
    """The reader got no byte within the serial timeout."""

    line: int
    t: float
    message: str
    received: int | None  # bytes of a half-received packet, when esptool says


@dataclass(slots=True)
class TraceMessage:
    """Any other message printed through esptool's ``trace()`` (retries, warnings,
    lines users added to their own esptool)."""

    line: int
    t: float
    message: str


@dataclass(slots=True)
class TextLine:
    """A line of esptool's own output (not a trace record)."""

    line: int
    text: str


@dataclass(slots=True)
class TraceWarning:
    """Input that is damaged, inconsistent or not esptool's."""

    line: int
    message: str


TraceEvent = TraceFormat | TraceCommand | TraceBytes | TraceTimeout | TraceMessage | TextLine | TraceWarning
