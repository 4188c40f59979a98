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


# Plain (not frozen) dataclasses: one is made per trace line or packet, and a frozen
# dataclass's __init__ costs 4x (object.__setattr__ per field). Nothing changes them once made.
@dataclass(slots=True)
class SlipFrame:
    """A complete frame, unescaped, without its delimiters."""

    payload: bytes
    offset: int  # offset of the opening C0
    end: int  # offset just past the closing C0


@dataclass(slots=True)
class StrayBytes:
    """Bytes that arrived outside any frame (a boot log, noise, a baud mismatch)."""

    data: bytes
    offset: int


@dataclass(slots=True)
class BadEscape:
    """``DB`` followed by a byte other than ``DC``/``DD``; the frame goes on without it."""

    byte: int
    offset: int  # offset of the offending byte (the one after DB)


@dataclass(slots=True)
class TruncatedFrame:
    """A frame that was open when the stream ended (from :meth:`SlipDecoder.end`)."""

    payload: bytes
    offset: int


@dataclass(slots=True)
class OversizedFrame:
    """A frame grew past :data:`MAX_FRAME` without closing; its bytes were dropped."""

    size: int  # MAX_FRAME + 1: the size at which it was dropped
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
    def pending_offset(self) -> int | None:
        """Offset of the first byte still held: an open frame or an unreported stray run."""
        if self._stray:
            return self._stray_start
        if self._in_frame:
            return self._frame_start
        return None

    @property
    def pending_frame(self) -> bytes | None:
        """The unescaped bytes of the open frame so far (None when no frame is open)."""
        return bytes(self._frame) if self._in_frame else None

    @property
    def offset(self) -> int:
        """Number of bytes fed so far."""
        return self._pos

    def feed(self, data: bytes) -> list[SlipEvent]:
        events: list[SlipEvent] = []
        i = 0
        n = len(data)
        base = self._pos
        # The usual chunks of a reply, each decoded exactly as the loop below would:
        # a whole frame with nothing to unescape, its opening C0 alone, more of an open
        # frame, or the rest of it up to its closing C0.
        if n and not self._escape and data.find(ESC) < 0 and data.find(END, 1, n - 1) < 0:
            if not self._in_frame and data[0] == END:
                if n == 1:
                    self._flush_stray(events)
                    self._in_frame, self._frame_start, self._oversized = True, base, False
                    self._frame.clear()
                    self._pos = base + 1
                    return events
                if n > 2 and data[-1] == END and n - 2 <= MAX_FRAME:
                    self._flush_stray(events)
                    self._frame_start, self._oversized = base, False
                    events.append(SlipFrame(data[1:-1], base, base + n))
                    self._pos = base + n
                    return events
            elif self._in_frame and not self._oversized and data[0] != END and len(self._frame) + n <= MAX_FRAME:
                self._pos = base + n
                if data[-1] != END:  # more of the open frame
                    self._frame += data
                    return events
                events.append(SlipFrame(bytes(self._frame) + data[:-1], self._frame_start, base + n))
                self._in_frame = False
                self._frame.clear()
                return events
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
            # Inside a frame: take everything up to the closing C0 in one go, unescaping
            # with bytes.replace when every DB in it starts a valid pair (the usual case).
            stop = data.find(END, i)
            if stop < 0:
                stop = n
            esc = data.find(ESC, i, stop)
            if esc < 0:
                self._frame += data[i:stop]
                i = stop
            else:
                seg = data[i:stop]
                leads = seg.count(b"\xdb")
                pairs = seg.count(b"\xdb\xdc") + seg.count(b"\xdb\xdd")
                if leads == pairs:
                    self._frame += seg.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
                    i = stop
                elif leads == pairs + 1 and seg[-1] == ESC:
                    # The chunk (or the frame) ends between DB and its second byte.
                    self._frame += seg[:-1].replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
                    self._escape = True
                    i = stop
                else:
                    # A bad escape in this run: go one escape at a time.
                    self._frame += data[i:esc]
                    self._escape = True
                    i = esc + 1
            if len(self._frame) > MAX_FRAME:
                if not self._oversized:
                    # Reported at the limit, so the event does not depend on the chunking.
                    events.append(OversizedFrame(MAX_FRAME + 1, self._frame_start))
                self._oversized = True
                self._frame.clear()
            if self._escape or i < n and data[i] != END:
                continue
            if i >= n:
                break
            j = i
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
