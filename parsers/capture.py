"""espmon capture files (JSON Lines) -> typed events.

A capture is what crossed a serial port, losslessly: every chunk of bytes with its
direction, a monotonic timestamp and its offset in that direction's stream, every line
change, who held the port, and esptool's own messages. One JSON object per line; the
first is the header. The schema (extend it, never rename a field)::

    {"kind": "header", "format": "espmon-capture", "version": 1, "port": str, "baud": int,
     "started": ISO-8601 str, "by": str, "argv": [str, ...]}
    {"kind": "data", "t": s, "dir": "tx"|"rx", "offset": n, "hex": str, "discarded": true (optional)}
    {"kind": "line", "t": s, "name": "baud"|"dtr"|"rts"|"break", "value": int|bool|float}
    {"kind": "port", "t": s, "event": "open"|"close"|"vanish"|"purge"}
    {"kind": "mode", "t": s, "mode": "loader"|"monitor"}
    {"kind": "message", "t": s, "level": "info"|"note"|"warning"|"error", "text": str}
    {"kind": "end", "t": s, "tx": n, "rx": n, "reason": str}

``t`` counts seconds from the start of the capture; ``tx`` is host to chip. ``discarded``
marks bytes the chip sent that the host threw away unread (its purge of the input). A capture
without its ``end`` record was cut short (a killed process, a full disk).

:class:`CaptureParser` takes text in any chunking and never raises on bad input: a line
that is not what the schema says becomes a :class:`CaptureWarning` naming the line, and
parsing goes on with the next one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FORMAT",
    "VERSION",
    "CaptureHeader",
    "CaptureData",
    "CaptureLine",
    "CapturePort",
    "CaptureMode",
    "CaptureMessage",
    "CaptureEnd",
    "CaptureWarning",
    "CaptureEvent",
    "CaptureParser",
    "looks_like_capture",
]

FORMAT = "espmon-capture"
VERSION = 1
_MAX_LINE = 1 << 24  # a line longer than this is not one of ours (the writer's chunks are small)


@dataclass(frozen=True, slots=True)
class CaptureHeader:
    line: int
    port: str | None
    baud: int | None
    started: str | None
    by: str | None
    argv: tuple[str, ...]
    version: int


@dataclass(frozen=True, slots=True)
class CaptureData:
    line: int
    t: float
    direction: str  # "tx" (host to chip) or "rx"
    offset: int
    data: bytes
    discarded: bool = False  # the host purged them unread


@dataclass(frozen=True, slots=True)
class CaptureLine:
    line: int
    t: float
    name: str  # baud, dtr, rts, break
    value: Any


@dataclass(frozen=True, slots=True)
class CapturePort:
    line: int
    t: float
    event: str  # open, close, vanish, purge


@dataclass(frozen=True, slots=True)
class CaptureMode:
    line: int
    t: float
    mode: str  # loader (esptool holds the port) or monitor


@dataclass(frozen=True, slots=True)
class CaptureMessage:
    line: int
    t: float
    level: str
    text: str


@dataclass(frozen=True, slots=True)
class CaptureEnd:
    line: int
    t: float
    tx: int
    rx: int
    reason: str


@dataclass(frozen=True, slots=True)
class CaptureWarning:
    line: int
    message: str


CaptureEvent = (CaptureHeader | CaptureData | CaptureLine | CapturePort | CaptureMode | CaptureMessage | CaptureEnd
                | CaptureWarning)

_KINDS = frozenset({"data", "line", "port", "mode", "message", "end"})
_LINE_NAMES = frozenset({"baud", "dtr", "rts", "break"})
_PORT_EVENTS = frozenset({"open", "close", "vanish", "purge"})


def looks_like_capture(head: str) -> bool:
    """True if ``head`` (the start of a file) opens with a capture header."""
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    return first.startswith("{") and '"espmon-capture"' in first and '"header"' in first


class _Bad(Exception):
    pass


def _number(rec: dict, key: str) -> float:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"'{key}' must be a number, got {json.dumps(value)[:40]}")
    return float(value)


def _int(rec: dict, key: str) -> int:
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(f"'{key}' must be a whole number >= 0, got {json.dumps(value)[:40]}")
    return value


def _text(rec: dict, key: str) -> str:
    value = rec.get(key)
    if not isinstance(value, str):
        raise _Bad(f"'{key}' must be a string, got {json.dumps(value)[:40]}")
    return value


class CaptureParser:
    """Capture text in (any chunking), :data:`CaptureEvent` s out."""

    def __init__(self) -> None:
        self._partial = ""
        self._line = 0
        self._t = 0.0
        self._offsets = {"tx": 0, "rx": 0}
        self._seen_header = False
        self.ended = False  # the end record was read

    @property
    def lines(self) -> int:
        return self._line

    def feed(self, text: str) -> list[CaptureEvent]:
        out: list[CaptureEvent] = []
        text = self._partial + text
        *lines, self._partial = text.split("\n")
        if len(self._partial) > _MAX_LINE:
            out.append(CaptureWarning(self._line + 1, f"a line longer than {_MAX_LINE:,} characters; skipped"))
            self._partial = ""
            self._line += 1
        for line in lines:
            self._line += 1
            out += self._parse(line)
        return out

    def end(self) -> list[CaptureEvent]:
        out: list[CaptureEvent] = []
        if self._partial.strip():
            self._line += 1
            out += self._parse(self._partial, last=True)
        self._partial = ""
        return out

    def _parse(self, raw: str, last: bool = False) -> list[CaptureEvent]:
        line = self._line
        raw = raw.strip()
        if line == 1:
            raw = raw.lstrip("\ufeff")
        if not raw:
            return []
        try:
            rec = json.loads(raw)
        except ValueError as exc:
            cut = " (the capture was cut short here)" if last else ""
            return [CaptureWarning(line, f"not a JSON object{cut}: {exc.msg} at column {exc.colno}")]
        if not isinstance(rec, dict):
            return [CaptureWarning(line, f"expected a JSON object, got {type(rec).__name__}")]
        kind = rec.get("kind")
        out: list[CaptureEvent] = []
        try:
            if kind == "header":
                return [self._header(rec, line)]
            if not self._seen_header:
                self._seen_header = True  # said once, then read on
                out.append(CaptureWarning(line, "the capture has no header record; reading on"))
            if self.ended:
                return [CaptureWarning(line, "a record after the end record; ignored")]
            if kind not in _KINDS:
                raise _Bad(f"unknown record kind {json.dumps(kind)[:30]} (known: {', '.join(sorted(_KINDS))})")
            t = _number(rec, "t")
            if t < self._t:
                # said once per jump: the records after it are read on the new clock
                out.append(CaptureWarning(line, f"time goes backwards ({t:.6f} s after {self._t:.6f} s)"))
            self._t = t
            out += self._record(kind, rec, line, t)
        except _Bad as exc:
            out.append(CaptureWarning(line, f"a {json.dumps(kind)[:30]} record: {exc}"))
        return out

    def _header(self, rec: dict, line: int) -> CaptureEvent:
        if rec.get("format") != FORMAT:
            raise _Bad(f"'format' must be {FORMAT!r}")
        self._seen_header = True
        version = rec.get("version", VERSION)
        argv = rec.get("argv") or ()
        return CaptureHeader(line, rec.get("port"), rec.get("baud"), rec.get("started"), rec.get("by"),
                             tuple(str(a) for a in argv) if isinstance(argv, list) else (),
                             version if isinstance(version, int) else VERSION)

    def _record(self, kind: Any, rec: dict, line: int, t: float) -> list[CaptureEvent]:
        if kind == "data":
            direction = rec.get("dir")
            if direction not in ("tx", "rx"):
                raise _Bad(f"'dir' must be \"tx\" or \"rx\", got {json.dumps(direction)[:20]}")
            try:
                data = bytes.fromhex(_text(rec, "hex"))
            except ValueError:
                raise _Bad("'hex' is not hexadecimal") from None
            offset = _int(rec, "offset") if "offset" in rec else self._offsets[direction]
            expected = self._offsets[direction]
            self._offsets[direction] = offset + len(data)
            out: list[CaptureEvent] = []
            if offset != expected:
                # bytes lost (or repeated) in the file: say so, and keep the bytes that are here
                lost = "missing" if offset > expected else "repeated"
                out.append(CaptureWarning(line, f"{direction} offset {offset:,}, expected {expected:,}: "
                                                f"{abs(offset - expected):,} bytes {lost}"))
            out.append(CaptureData(line, t, direction, offset, data, rec.get("discarded") is True))
            return out
        if kind == "line":
            name = _text(rec, "name")
            if name not in _LINE_NAMES:
                raise _Bad(f"unknown line name {name!r}")
            return [CaptureLine(line, t, name, rec.get("value"))]
        if kind == "port":
            event = _text(rec, "event")
            if event not in _PORT_EVENTS:
                raise _Bad(f"unknown port event {event!r}")
            return [CapturePort(line, t, event)]
        if kind == "mode":
            return [CaptureMode(line, t, _text(rec, "mode"))]
        if kind == "message":
            return [CaptureMessage(line, t, str(rec.get("level", "info")), _text(rec, "text"))]
        if kind == "end":
            self.ended = True
            return [CaptureEnd(line, t, _int(rec, "tx") if "tx" in rec else 0, _int(rec, "rx") if "rx" in rec else 0,
                               str(rec.get("reason", "")))]
        raise _Bad(f"unknown record kind {json.dumps(kind)[:30]} (known: data, line, port, mode, message, end)")
