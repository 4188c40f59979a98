"""The board's own ground truth as JSON Lines, flushed record by record.

``{"t": s, "dir": "in"|"out", "frame": hex}`` for each complete SLIP frame (unescaped
payload; "in" = host to board), ``{"t": s, "dir": ..., "bytes": hex}`` for bytes outside
frames (boot log text, stray input), ``{"t": s, "event": "reset", "mode": ...}``,
``{"t": s, "event": "baud", "baud": N}``, and ``{"t": s, "event": "host-open"|"host-close"}``
when the host end of the cable is opened or closed. ``t`` counts seconds from the recorder's start.
"""

from __future__ import annotations

import json
import threading
import time
from typing import IO, Any

from parsers.slip import SlipDecoder, SlipFrame, StrayBytes

__all__ = ["Recorder"]


class Recorder:
    def __init__(self, path: str):
        self.path = path
        self._file: IO[str] | None = open(path, "w", encoding="utf-8")
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._inbound = SlipDecoder()

    def _write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._file is None:
                return
            record = {"t": round(time.monotonic() - self._t0, 6), **record}
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def out_frame(self, payload: bytes) -> None:
        self._write({"dir": "out", "frame": payload.hex()})

    def out_bytes(self, data: bytes) -> None:
        if data:
            self._write({"dir": "out", "bytes": data.hex()})

    def received(self, data: bytes) -> None:
        """Bytes the board heard from the host: split into frames and stray runs."""
        events = self._inbound.feed(data)
        if not self._inbound.in_frame:
            events += self._inbound.flush()
        for event in events:
            if isinstance(event, SlipFrame):
                self._write({"dir": "in", "frame": event.payload.hex()})
            elif isinstance(event, StrayBytes):
                self._write({"dir": "in", "bytes": event.data.hex()})

    def reset(self, mode: str) -> None:
        self._inbound = SlipDecoder()
        self._write({"event": "reset", "mode": mode})

    def baud(self, baud: int) -> None:
        self._write({"event": "baud", "baud": baud})

    def event(self, kind: str, **fields: Any) -> None:
        self._write({"event": kind, **fields})

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
