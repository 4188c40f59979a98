"""A :class:`~espmon.port.proxy.Tap` that writes a capture file (the schema is in ``parsers.capture``).

One record per chunk, flushed as it is written: a killed process leaves a capture that
ends at its last chunk (without the end record, which is how a reader knows it was cut).
A write that fails (a full disk) stops the recording, never the session: ``failed`` holds
the error for the caller to report.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import IO, Any

from parsers.capture import FORMAT, VERSION

__all__ = ["CaptureWriter"]

_LINES = frozenset({"baud", "dtr", "rts", "break"})
_PORT = frozenset({"open", "close", "vanish", "purge"})


class CaptureWriter:
    def __init__(self, file: IO[str], *, name: str, port: str | None, baud: int | None, by: str,
                 argv: list[str] | None = None, clock: Callable[[], float] = time.monotonic,
                 echo: Callable[[str], None] | None = None) -> None:
        self.file = file
        self.echo = echo  # each record's line, as written (the live view)
        self.name = name
        self.clock = clock
        self.t0 = clock()
        self.failed: OSError | None = None
        self.counts = {"tx": 0, "rx": 0}
        self._lock = threading.Lock()
        self._closed = False
        self._lines: dict[str, Any] = {}  # the last value of each line setting recorded
        self._dumps = json.JSONEncoder(separators=(",", ":")).encode
        self._write({"kind": "header", "format": FORMAT, "version": VERSION, "port": port, "baud": baud,
                     "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "by": by,
                     "argv": list(argv or [])})

    @classmethod
    def open(cls, path: str, **kwargs: Any) -> CaptureWriter:
        """``path`` opened for writing; OSError (the caller words it) if it cannot be."""
        return cls(open(path, "w", encoding="utf-8", newline="\n"), name=path, **kwargs)

    def _t(self, t: float | None) -> float:
        return round((self.clock() if t is None else t) - self.t0, 6)

    def _write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            if self.failed is not None:  # the disk is full: the live view still sees everything
                if self.echo is not None:
                    self.echo(self._dumps(record))
                return
            line = self._dumps(record)
            try:
                self.file.write(line + "\n")
                self.file.flush()
            except OSError as exc:
                self.failed = exc
            if self.echo is not None:
                self.echo(line)

    # -- the Tap protocol ---------------------------------------------------------------
    def data(self, direction: str, data: bytes, t: float | None = None) -> None:
        discarded = direction == "rx-discarded"
        if discarded:
            direction = "rx"
        offset = self.counts[direction]
        self.counts[direction] = offset + len(data)
        record = {"kind": "data", "t": self._t(t), "dir": direction, "offset": offset, "hex": data.hex()}
        if discarded:
            record["discarded"] = True  # the host's purge threw these away unread
        self._write(record)

    def change(self, kind: str, value: Any, t: float | None = None) -> None:
        if kind in _LINES:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if kind != "break" and self._lines.get(kind, object()) == value:
                return  # set again to what it was (pyserial's RFC 2217 client re-sends every setting)
            self._lines[kind] = value
            self._write({"kind": "line", "t": self._t(t), "name": kind, "value": value})
        elif kind in _PORT:
            self._write({"kind": "port", "t": self._t(t), "event": kind})

    # -- what only the session knows -----------------------------------------------------
    def message(self, level: str, text: str) -> None:
        self._write({"kind": "message", "t": self._t(None), "level": level, "text": text})

    def mode(self, mode: str) -> None:
        self._write({"kind": "mode", "t": self._t(None), "mode": mode})

    def close(self, reason: str = "closed") -> None:
        if self._closed:
            return
        self._write({"kind": "end", "t": self._t(None), "tx": self.counts["tx"], "rx": self.counts["rx"],
                     "reason": reason})
        with self._lock:
            self._closed = True
            try:
                self.file.close()
            except OSError as exc:
                self.failed = self.failed or exc
