"""A capture written as esptool's ``--trace`` text (the 2.4-4.x format every version's readers know).

``Write N bytes`` for each frame the host sent, ``Read N bytes`` for each chunk the chip
sent while the host talked to the loader, ``Received full packet`` when a chip frame
closed, ``+delta`` times as esptool prints them; esptool's messages and the chip's own
output are plain lines. The command headers esptool prints before its writes are not
written: the wire does not say the timeout esptool waited with, and a header with an
invented one would not be faithful.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from parsers.capture import CaptureData, CaptureLine, CaptureMessage, CaptureMode, CaptureParser, CapturePort
from parsers.capture_trace import DEVICE_PREFIX
from parsers.slip import SlipDecoder, SlipFrame

__all__ = ["trace_text", "hex_lines"]


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


class _Writer:
    def __init__(self) -> None:
        self.last_t = 0.0
        self.rx = SlipDecoder()
        self.talking = False
        self.loader = True
        self.text = bytearray()

    def trace(self, t: float, what: str, data: bytes | None = None) -> list[str]:
        delta, self.last_t = max(0.0, t - self.last_t), t
        head = f"TRACE +{delta:.3f} {what}"
        if data is None:
            return [head]
        rows = hex_lines(data)
        return [f"{head} {rows[0]}", *rows[1:]]

    def device_text(self, final: bool = False) -> list[str]:
        out = []
        while b"\n" in self.text or (final and self.text):
            nl = self.text.find(b"\n")
            end = len(self.text) if nl < 0 else nl + 1
            out.append(DEVICE_PREFIX + bytes(self.text[:end]).rstrip(b"\r\n").decode("utf-8", "backslashreplace"))
            del self.text[:end]
        return out

    def event(self, ev: object) -> list[str]:
        if isinstance(ev, CaptureData):
            if ev.direction == "tx":
                lines = self.device_text(final=True)
                self.talking = True
                return lines + self.trace(ev.t, f"Write {len(ev.data)} bytes:", ev.data)
            if not (self.loader and self.talking):
                self.text += ev.data
                return self.device_text()
            lines = self.trace(ev.t, f"Read {len(ev.data)} bytes:", ev.data)
            for frame in self.rx.feed(ev.data):
                if isinstance(frame, SlipFrame):
                    lines += self.trace(ev.t, "Received full packet:", frame.payload)
            return lines
        if isinstance(ev, CaptureMessage):
            return self.device_text(final=True) + ev.text.splitlines()
        if isinstance(ev, (CaptureLine, CapturePort, CaptureMode)):
            if isinstance(ev, CaptureMode):
                self.loader = ev.mode == "loader"
            if not isinstance(ev, CaptureLine) or ev.name in ("dtr", "rts"):
                self.talking = False
                self.rx = SlipDecoder()  # esptool's new reader after a reset or a purge
        return []


def trace_text(chunks: Iterable[str]) -> Iterator[str]:
    """Capture text (any chunking) in, trace text lines out."""
    parser = CaptureParser()
    writer = _Writer()
    for chunk in chunks:
        for ev in parser.feed(chunk):
            yield from writer.event(ev)
    for ev in parser.end():
        yield from writer.event(ev)
    yield from writer.device_text(final=True)
