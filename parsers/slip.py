"""Incremental SLIP framing, as the ESP ROM loader and esptool use it.

A frame is ``C0 <payload> C0``; inside it ``C0`` travels as ``DB DC`` and ``DB`` as
``DB DD``. The decoder is fed any chunking of a byte stream and returns events; it never
raises. Bytes outside a frame are reported as :class:`StrayBytes` (esptool calls the
first of them an "Invalid head of packet"), a ``DB`` followed by anything but ``DC``/``DD``
as :class:`BadEscape` (esptool: "Invalid SLIP escape"). Every event carries the offset of
its first byte in the stream, counted from the first byte ever fed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "END",
    "ESC",
    "SlipFrame",
    "StrayBytes",
    "BadEscape",
    "TruncatedFrame",
    "OversizedFrame",
    "SlipEvent",
    "SlipDecoder",
    "slip_encode",
    "slip_decode_all",
]

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD

#: A frame longer than this is reported and dropped from the buffer, so that line noise
#: that never closes a frame cannot grow memory without bound. The stub's largest frame is
#: a 16 KiB (0x4000) write block plus header, escaped: 2 x 0x4010 < 40 KiB.
MAX_FRAME = 64 * 1024


@dataclass(frozen=True, slots=True)
class SlipFrame:
    """A complete frame, unescaped, without its delimiters."""

    payload: bytes
    offset: int  # offset of the opening C0
    end: int  # offset just past the closing C0


@dataclass(frozen=True, slots=True)
class StrayBytes:
    """Bytes that arrived outside any frame (a boot log, noise, a baud mismatch)."""

    data: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class BadEscape:
    """``DB`` followed by a byte other than ``DC``/``DD``; the frame goes on without it."""

    byte: int
    offset: int  # offset of the offending byte (the one after DB)


@dataclass(frozen=True, slots=True)
class TruncatedFrame:
    """A frame that was open when the stream ended (from :meth:`SlipDecoder.end`)."""

    payload: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class OversizedFrame:
    """A frame grew past :data:`MAX_FRAME` without closing; its bytes were dropped."""

    size: int
    offset: int


SlipEvent = SlipFrame | StrayBytes | BadEscape | TruncatedFrame | OversizedFrame


class SlipDecoder:
    """Feed bytes, get :data:`SlipEvent` s. Chunking never changes the events.

    ``C0 C0`` between frames is end-of-frame then start-of-frame, so it yields nothing,
    exactly as esptool's reader. A stray run is reported once it is ended by a ``C0`` or
    by :meth:`end`, so one noisy burst is one event whatever the chunking.
    """

    __slots__ = ("_pos", "_in_frame", "_frame", "_frame_start", "_escape", "_stray", "_stray_start", "_oversized")

    def __init__(self) -> None:
        self._pos = 0
        self._in_frame = False
        self._frame = bytearray()
        self._frame_start = 0
        self._escape = False
        self._stray = bytearray()
        self._stray_start = 0
        self._oversized = False

    @property
    def in_frame(self) -> bool:
        """True while a frame is open (after its first C0)."""
        return self._in_frame

    @property
    def offset(self) -> int:
        """Number of bytes fed so far."""
        return self._pos

    def feed(self, data: bytes) -> list[SlipEvent]:
        events: list[SlipEvent] = []
        i = 0
        n = len(data)
        base = self._pos
        while i < n:
            if not self._in_frame:
                j = data.find(END, i)
                if j < 0:
                    self._add_stray(data[i:], base + i)
                    i = n
                    break
                if j > i:
                    self._add_stray(data[i:j], base + i)
                self._flush_stray(events)
                self._in_frame = True
                self._frame_start = base + j
                self._frame.clear()
                self._escape = False
                self._oversized = False
                i = j + 1
                continue
            if self._escape:
                self._escape = False
                b = data[i]
                if b == ESC_END:
                    self._frame.append(END)
                elif b == ESC_ESC:
                    self._frame.append(ESC)
                elif b == END:
                    # DB C0: report the bad escape and let the C0 close the frame.
                    events.append(BadEscape(b, base + i))
                    continue
                else:
                    events.append(BadEscape(b, base + i))
                i += 1
                continue
            # Inside a frame: copy the plain run up to the next special byte in one go.
            j = i
            while j < n and data[j] != END and data[j] != ESC:
                j += 1
            if j > i:
                self._frame += data[i:j]
                if len(self._frame) > MAX_FRAME:
                    if not self._oversized:
                        events.append(OversizedFrame(len(self._frame), self._frame_start))
                    self._oversized = True
                    self._frame.clear()
            if j >= n:
                i = n
                break
            if data[j] == ESC:
                self._escape = True
                i = j + 1
                continue
            # data[j] == END: close the frame (an empty C0 C0 pair is only a re-sync).
            if self._frame or self._oversized:
                if not self._oversized:
                    events.append(SlipFrame(bytes(self._frame), self._frame_start, base + j + 1))
                self._in_frame = False
                self._frame.clear()
                i = j + 1
            else:
                # "C0 C0": the second C0 starts the next frame.
                self._frame_start = base + j
                i = j + 1
        self._pos = base + n
        return events

    def flush(self) -> list[SlipEvent]:
        """Report stray bytes held so far without waiting for a C0 (a live caller's timer
        decides when; the parser has no clock)."""
        events: list[SlipEvent] = []
        self._flush_stray(events)
        return events

    def end(self) -> list[SlipEvent]:
        """The stream is over: report what is still buffered."""
        events: list[SlipEvent] = []
        self._flush_stray(events)
        if self._in_frame and (self._frame or self._escape):
            events.append(TruncatedFrame(bytes(self._frame), self._frame_start))
        self._in_frame = False
        self._frame.clear()
        self._escape = False
        return events

    def _add_stray(self, chunk: bytes, offset: int) -> None:
        if not self._stray:
            self._stray_start = offset
        if len(self._stray) < MAX_FRAME:
            self._stray += chunk[: MAX_FRAME - len(self._stray)]

    def _flush_stray(self, events: list[SlipEvent]) -> None:
        if self._stray:
            events.append(StrayBytes(bytes(self._stray), self._stray_start))
            self._stray.clear()


def slip_encode(payload: bytes) -> bytes:
    """Frame one packet the way esptool writes it."""
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def slip_decode_all(data: bytes) -> list[SlipEvent]:
    """Decode a whole buffer at once (``feed`` + ``end``)."""
    decoder = SlipDecoder()
    return decoder.feed(data) + decoder.end()
