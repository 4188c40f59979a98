"""A capture read as an esptool trace: :mod:`parsers.capture` events -> :mod:`parsers.trace_events`.

So ``espmon decode`` reads a capture through the same frame assembler and analyser as a
``--trace`` dump, with the same records and annotations. What the host sent is cut into
SLIP frames here (a flasher behind the capture proxy may split or join its writes); each
becomes the command header esptool would have traced plus its ``Write`` record. What the
chip sent goes on as ``Read`` records while the host is talking to the loader; before the
host's first frame after a reset, a purge or an open, it is the chip's own output (a boot
log, the ROM's ``waiting for download``), which esptool throws away unread, so it becomes
text lines instead of "Invalid head of packet" strays.
"""

from __future__ import annotations

from collections.abc import Callable

from parsers.capture import (
    CaptureData,
    CaptureEnd,
    CaptureHeader,
    CaptureLine,
    CaptureMessage,
    CaptureMode,
    CaptureParser,
    CapturePort,
    CaptureWarning,
)
from parsers.slip import SlipDecoder, SlipFrame, StrayBytes, TruncatedFrame, slip_encode
from parsers.trace_events import (
    FORMAT_CAPTURE,
    TextLine,
    TraceBytes,
    TraceCommand,
    TraceEvent,
    TraceFormat,
    TraceMessage,
    TraceWarning,
)

__all__ = ["CaptureTraceParser", "DEVICE_PREFIX", "HOST_CLOSED"]

DEVICE_PREFIX = "device: "  # the chip's own output, as a text line of the decode
# A flasher behind the capture proxy prints its words elsewhere; on the wire, the end of
# its session is that it closed the port (after resetting the chip, for --after hard-reset).
HOST_CLOSED = "the host closed the port"
_TEXT_LIMIT = 4096  # a device "line" with no newline is cut here


class CaptureTraceParser:
    """Capture text in (any chunking), trace events out; the interface of ``TraceParser``."""

    def __init__(self, device: Callable[[int, float, bytes], None] | None = None) -> None:
        self.capture = CaptureParser()
        self.device = device  # given: the chip's own output goes there as bytes (line, t, data), not as text
        self.header: CaptureHeader | None = None
        self.end_record: CaptureEnd | None = None
        self._host = SlipDecoder()
        self._talking = False  # the host has sent a frame since the last reset/purge/open
        self._spoke = False  # the host has sent a frame since the port was opened
        self._reset_after = False  # DTR/RTS moved since the host's last frame
        self._loader = True  # no mode record: the whole capture is a loader session
        self._text = bytearray()  # chip output outside the loader conversation, up to its newline
        self._text_line = 0
        self._announced = False
        self.line_changes: list[int] = []  # capture lines where the host moved DTR or RTS (a reset)

    @property
    def lines(self) -> int:
        return self.capture.lines

    def feed(self, text: str) -> list[TraceEvent]:
        out: list[TraceEvent] = []
        for ev in self.capture.feed(text):
            self._event(ev, out)
        return out

    def end(self) -> list[TraceEvent]:
        out: list[TraceEvent] = []
        for ev in self.capture.end():
            self._event(ev, out)
        self._flush_text(out, final=True)
        for ev in self._host.end():
            if isinstance(ev, TruncatedFrame) and ev.payload:
                out.append(TraceWarning(self.lines, f"the host's last frame was never closed ({len(ev.payload)} "
                                                    "bytes)"))
        if self.header is not None and self.end_record is None:
            out.append(TraceWarning(self.lines, "the capture has no end record: it was cut short "
                                                "(a killed process or a full disk)"))
        return out

    # -- one capture event -------------------------------------------------------------
    def _event(self, ev: object, out: list[TraceEvent]) -> None:
        if isinstance(ev, CaptureData):
            if ev.direction == "tx":
                self._sent(ev, out)
            elif self._loader and self._talking:
                self._flush_text(out, final=True)
                out.append(TraceBytes(ev.line, ev.t, "read", ev.data, len(ev.data), True))
            else:
                self._chip_text(ev, out)
        elif isinstance(ev, CaptureMessage):
            self._flush_text(out, final=True)
            for text in ev.text.splitlines() or [""]:
                out.append(TextLine(ev.line, text))
        elif isinstance(ev, CaptureLine):
            if ev.name in ("dtr", "rts"):
                self._talking = False  # a reset: what the chip prints next is its boot output
                if len(self.line_changes) < 10_000:
                    self.line_changes.append(ev.line)
                self._reset_after = self._spoke
            elif ev.name == "baud":
                out.append(TraceMessage(ev.line, ev.t, f"port baud rate set to {ev.value}"))
        elif isinstance(ev, CapturePort):
            if ev.event in ("purge", "open"):
                self._talking = False
            elif ev.event == "close" and self._spoke:
                how = " after resetting the chip" if self._reset_after else ""
                out.append(TraceMessage(ev.line, ev.t, f"{HOST_CLOSED}{how}"))
                self._spoke = self._reset_after = False
            elif ev.event == "vanish":
                out.append(TraceMessage(ev.line, ev.t, "the port vanished (USB re-enumeration or unplugged)"))
        elif isinstance(ev, CaptureMode):
            self._flush_text(out, final=True)
            self._loader = ev.mode == "loader"
            self._talking = False
        elif isinstance(ev, CaptureHeader):
            self.header = ev
            if not self._announced:
                self._announced = True
                out.append(TraceFormat(ev.line, FORMAT_CAPTURE))
        elif isinstance(ev, CaptureEnd):
            self.end_record = ev
        elif isinstance(ev, CaptureWarning):
            out.append(TraceWarning(ev.line, ev.message))

    def _sent(self, ev: CaptureData, out: list[TraceEvent]) -> None:
        for frame in self._host.feed(ev.data):
            if isinstance(frame, SlipFrame):
                self._talking = self._spoke = True
                self._reset_after = False
                self._flush_text(out, final=True)
                payload = frame.payload
                if len(payload) >= 8:
                    size = int.from_bytes(payload[2:4], "little")
                    data = payload[8:]
                    out.append(TraceCommand(ev.line, ev.t, payload[1], None, size, True, 0.0, data,
                                            len(data) == size))
                out.append(TraceBytes(ev.line, ev.t, "write", slip_encode(payload), None, True))
            elif isinstance(frame, StrayBytes) and self._loader:
                out.append(TraceMessage(ev.line, ev.t, f"the host sent {len(frame.data)} bytes outside any frame: "
                                                       f"{frame.data[:32].hex()}"))

    # -- the chip's own output ---------------------------------------------------------
    def _chip_text(self, ev: CaptureData, out: list[TraceEvent]) -> None:
        if self.device is not None:
            self.device(ev.line, ev.t, ev.data)
            return
        if not self._text:
            self._text_line = ev.line
        self._text += ev.data
        self._flush_text(out)
        if self._text:
            self._text_line = ev.line  # the unfinished line goes on in this record

    def _flush_text(self, out: list[TraceEvent], final: bool = False) -> None:
        buf = self._text
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > _TEXT_LIMIT or (final and buf):
                    nl = min(len(buf), _TEXT_LIMIT) - 1
                else:
                    break
            line = bytes(buf[:nl + 1]).rstrip(b"\r\n").decode("utf-8", "backslashreplace")
            del buf[:nl + 1]
            out.append(TextLine(self._text_line, DEVICE_PREFIX + line))
