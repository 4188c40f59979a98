"""A capture written as esptool's ``--trace`` text (the 2.4-4.x format every version's readers know).

The capture is read by :class:`parsers.capture_trace.CaptureTraceParser`, the same reading
``espmon decode`` does, and its trace events are printed as esptool prints them: ``Write N
bytes`` for each frame the host sent, ``Read N bytes`` for each chunk the chip sent while
the host talked to the loader, ``Received full packet`` when a chip frame closed, ``+delta``
times; esptool's messages and the chip's own output (``device:``) are plain lines. The
command headers esptool prints before its writes are not written: the wire does not say the
timeout esptool waited with, and a header with an invented one would not be faithful.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from parsers.capture_trace import CaptureTraceParser
from parsers.slip import SlipDecoder, SlipFrame
from parsers.trace_events import TextLine, TraceBytes, TraceCommand, TraceMessage

__all__ = ["trace_text", "hex_lines"]

_SYNC = 0x08


def hex_lines(data: bytes) -> list[str]:
    """esptool's HexFormatter: inline up to 16 bytes, else rows of 16 with an ASCII column."""
    if len(data) <= 16:
        return [data.hex()]
    rows = [""]
    for i in range(0, len(data), 16):
        row = data[i:i + 16]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        rows.append(f"    {row[:8].hex():<16} {row[8:].hex():<16} | {text}")
    return rows


class _Printer:
    def __init__(self) -> None:
        self.last_t = 0.0
        self.rx = SlipDecoder()

    def trace(self, t: float, what: str, data: bytes | None = None) -> list[str]:
        delta, self.last_t = max(0.0, t - self.last_t), t
        head = f"TRACE +{delta:.3f} {what}"
        if data is None:
            return [head]
        rows = hex_lines(data)
        return [f"{head} {rows[0]}", *rows[1:]]

    def lines(self, ev: object) -> list[str]:
        if isinstance(ev, TraceCommand):
            if ev.op == _SYNC:
                self.rx = SlipDecoder()  # esptool's new reader for a new connection
            return []
        if isinstance(ev, TraceBytes):
            if ev.kind == "write":
                return self.trace(ev.t, f"Write {len(ev.data)} bytes:", ev.data)
            out = self.trace(ev.t, f"Read {len(ev.data)} bytes:", ev.data)
            for frame in self.rx.feed(ev.data):
                if isinstance(frame, SlipFrame):
                    out += self.trace(ev.t, "Received full packet:", frame.payload)
            return out
        if isinstance(ev, TraceMessage):
            return self.trace(ev.t, ev.message)
        if isinstance(ev, TextLine):
            return [ev.text]
        return []  # the format record, and warnings about the capture (decode reports those)


def trace_text(chunks: Iterable[str]) -> Iterator[str]:
    """Capture text (any chunking) in, trace text lines out."""
    parser = CaptureTraceParser()
    printer = _Printer()
    for chunk in chunks:
        for ev in parser.feed(chunk):
            yield from printer.lines(ev)
    for ev in parser.end():
        yield from printer.lines(ev)
