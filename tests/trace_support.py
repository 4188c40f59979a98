"""Write esptool --trace text the way each esptool version prints it, for the trace tests.

The byte rendering is esptool's own ``HexFormatter`` (esptool 5.6 from the venv; the
hex families of 2.4-4.x print the same rows, only without rich's markup escaping), the
line layout follows each version's ``trace()`` (see shared/research/trace-format.md).
A :class:`Conversation` is a list of steps: a request (its command line and Write
record), chip bytes (split into Read records as given), esptool text lines, timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from esptool.loader import HexFormatter

from parsers.protocol import op_name
from parsers.slip import slip_encode

__all__ = ["Conversation", "render", "FORMATS", "mangle"]

FORMATS = ("v2-repr", "v2-v4", "v5")


@dataclass
class Conversation:
    steps: list[tuple] = field(default_factory=list)

    def request(self, frame: bytes, wait: bool = True, timeout: float = 3.0, delta: float = 0.001) -> None:
        self.steps.append(("request", frame, wait, timeout, delta))

    def chip(self, data: bytes, delta: float = 0.002) -> None:
        """Bytes from the chip, read in one Read record."""
        self.steps.append(("read", data, delta))

    def packet(self, payload: bytes) -> None:
        """esptool's `Received full packet` line for a frame it assembled."""
        self.steps.append(("packet", payload))

    def text(self, line: str) -> None:
        self.steps.append(("text", line))

    def timeout(self, message: str, delta: float = 0.1) -> None:
        self.steps.append(("timeout", message, delta))

    def ack(self, count: int) -> None:
        """A bare READ_FLASH acknowledgement frame (a Write with no command line)."""
        self.steps.append(("ack", count))


def _hexdump(data: bytes, fmt: str = "") -> str:
    # esptool 5.6 escapes rich markup in the ASCII column; rich prints it back unescaped.
    return str(HexFormatter(data)).replace("\\[", "[")


def _repr(data: bytes) -> str:
    return repr(bytes(data))


def _line(fmt: str, delta: float, message: str, newline: bool = False) -> str:
    if fmt == "v5":
        return ("\n" if newline else "") + f"  TRACE +{delta:.3f}   {message}"
    return f"TRACE +{delta:.3f} {message}"


def _bytes_record(fmt: str, label: str, data: bytes) -> str:
    if fmt == "v2-repr":
        return f"{label} {_repr(data)}"
    if fmt == "v5":
        return f"{label:<21} {_hexdump(data, fmt)}"
    return f"{label} {_hexdump(data, fmt)}"


def render(conv: Conversation, fmt: str) -> str:
    """The trace text for ``conv`` in format ``fmt`` (one of FORMATS)."""
    lines: list[str] = []
    for step in conv.steps:
        kind = step[0]
        if kind == "request":
            _, frame, wait, timeout, delta = step
            op, data = frame[1], frame[8:]
            if fmt == "v5":
                name = op_name(op) if not op_name(op).startswith("0x") else "None"
                msg = (f"--- Cmd {name} ({op:#04x}) | data_len {len(data)} | wait_response {1 if wait else 0}"
                       f" | timeout {timeout:.3f} | data {_hexdump(data, fmt)} ---")
                lines.append(_line(fmt, delta, msg, newline=True))
            else:
                payload = _repr(data) if fmt == "v2-repr" else _hexdump(data, fmt)
                lines.append(_line(fmt, delta, f"command op=0x{op:02x} data len={len(data)} wait_response="
                                               f"{1 if wait else 0} timeout={timeout:.3f} data={payload}"))
            wire = slip_encode(frame)
            lines.append(_line(fmt, 0.0, _bytes_record(fmt, f"Write {len(wire)} bytes:", wire)))
        elif kind == "ack":
            wire = slip_encode(step[1].to_bytes(4, "little"))
            lines.append(_line(fmt, 0.0, _bytes_record(fmt, f"Write {len(wire)} bytes:", wire)))
        elif kind == "read":
            _, data, delta = step
            lines.append(_line(fmt, delta, _bytes_record(fmt, f"Read {len(data)} bytes:", data)))
        elif kind == "packet":
            label = "Full packet:" if fmt == "v2-repr" else "Received full packet:"
            lines.append(_line(fmt, 0.0, _bytes_record(fmt, label, step[1])))
        elif kind == "timeout":
            lines.append(_line(fmt, step[2], step[1]))
        elif kind == "text":
            lines.append(step[1])
    return "\n".join(lines) + "\n"


def mangle(text: str, how: str) -> str:
    """What pastes do to a trace: ``crlf``, ``rstrip`` (trailing spaces lost), ``dedent``
    (indentation lost), ``collapse`` (runs of spaces become one), ``fence`` (markdown)."""
    if how == "crlf":
        return text.replace("\n", "\r\n")
    if how == "rstrip":
        return "\n".join(line.rstrip() for line in text.split("\n"))
    if how == "dedent":
        return "\n".join(line.lstrip() for line in text.split("\n"))
    if how == "collapse":
        import re

        return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in text.split("\n"))
    if how == "fence":
        return "```\n" + text + "```\n"
    raise ValueError(how)
