"""A borrowed port: the open pyserial port lent to esptool (or any client) without letting it
close the port, with every byte and every line change reported to a tap.

esptool closes its port in ``ESPLoader.__exit__``, after a failed ``connect()``, and in its
reset strategies on ``OSError`` (``../shared/research/flash-same-port.md``). A
:class:`PortProxy` forwards everything else to the real port: attribute reads and writes
(``baudrate``, ``timeout``, ``write_timeout``, ``dtr``, ``rts``), ``fileno()`` (esptool's
POSIX reset uses the ioctl on it), ``in_waiting``, ``reset_input_buffer``. ``close()`` only
marks the proxy closed; ``open()`` reopens the real port only if it really is closed.

The tap sees what crossed the wire, in order, with one clock:

- ``tap.data(direction, data, t)``: ``"rx"`` for bytes read from the chip, ``"tx"`` for
  bytes written to it (reported as the write starts), ``"rx-discarded"`` for bytes the chip
  sent that the borrower threw away unread (its purge);
- ``tap.change(kind, value, t)``: ``baud``, ``dtr``, ``rts``, ``break``, ``open``, ``close``, ``purge``
  (input thrown away unread).

No tap means no work beyond one attribute check per call. Thread: the borrower's; a tap that
writes a file does it on that thread (so a capture is in order by construction).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["PortProxy", "Tap", "TeeTap"]

# Writes to these names are settings of the line: forwarded, and reported to the tap.
_LINE_SETTINGS = {"baudrate": "baud", "dtr": "dtr", "rts": "rts", "break_condition": "break"}


class Tap(Protocol):
    def data(self, direction: str, data: bytes, t: float) -> None: ...

    def change(self, kind: str, value: Any, t: float) -> None: ...


class PortProxy:
    """Forward to ``port``; never close it; report traffic and line changes to ``tap``."""

    _OWN = frozenset({"_port", "_tap", "_clock", "closed_by_client"})

    def __init__(self, port: Any, tap: Tap | None = None, clock: Callable[[], float] = time.monotonic):
        object.__setattr__(self, "_port", port)
        object.__setattr__(self, "_tap", tap)
        object.__setattr__(self, "_clock", clock)
        object.__setattr__(self, "closed_by_client", False)

    # -- the traffic --------------------------------------------------------------------
    def read(self, size: int = 1) -> bytes:
        data = self._port.read(size)
        if data and self._tap is not None:
            self._tap.data("rx", bytes(data), self._clock())
        return data

    def write(self, data: bytes) -> int | None:
        # Reported before the write: a chip may answer before write() returns (a fast
        # board, another thread reading), and its reply must come after the request.
        if self._tap is not None and data:
            self._tap.data("tx", bytes(data), self._clock())
        return self._port.write(data)

    # -- the life cycle: the lender owns it ----------------------------------------------
    def close(self) -> None:
        object.__setattr__(self, "closed_by_client", True)
        self._change("close", None)

    def open(self) -> None:
        # esptool's reset strategies reopen after an OSError; a port that really died
        # (USB re-enumeration) is reopened, a live one is left as it is
        if not self._port.is_open:
            self._port.open()
        object.__setattr__(self, "closed_by_client", False)
        self._change("open", None)

    def __enter__(self) -> PortProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- line settings: pyserial's properties and its old setter methods --------------
    def setDTR(self, value: bool = True) -> None:  # pyserial 2 spelling, still used by esptool
        self.dtr = value

    def setRTS(self, value: bool = True) -> None:
        self.rts = value

    def reset_input_buffer(self) -> None:
        # What was waiting is thrown away unread. The chip did send it: a tap gets it first
        # (as "rx-discarded"), so a capture holds everything the chip said.
        if self._tap is not None:
            try:
                waiting = self._port.in_waiting
                data = self._port.read(waiting) if waiting else b""
            except Exception:  # noqa: BLE001 - the purge itself must still happen
                data = b""
            if data:
                self._tap.data("rx-discarded", bytes(data), self._clock())
        self._port.reset_input_buffer()
        self._change("purge", None)

    flushInput = reset_input_buffer  # pyserial 2 spelling, still used by esptool

    def send_break(self, duration: float = 0.25) -> None:
        self._change("break", duration)
        self._port.send_break(duration)

    def _change(self, kind: str, value: Any) -> None:
        if self._tap is not None:
            self._tap.change(kind, value, self._clock())

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._OWN:
            object.__setattr__(self, name, value)
            return
        setattr(self._port, name, value)
        kind = _LINE_SETTINGS.get(name)
        if kind is not None:
            self._change(kind, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


class TeeTap:
    """Several taps as one (a capture file and the console's inline trace); ``None`` s are
    skipped. ``message``/``mode`` reach the taps that have them."""

    def __init__(self, *taps: Any) -> None:
        self.taps = [tap for tap in taps if tap is not None]

    def data(self, direction: str, data: bytes, t: float) -> None:
        for tap in self.taps:
            tap.data(direction, data, t)

    def change(self, kind: str, value: Any, t: float) -> None:
        for tap in self.taps:
            tap.change(kind, value, t)

    def message(self, level: str, text: str) -> None:
        for tap in self.taps:
            if hasattr(tap, "message"):
                tap.message(level, text)

    def mode(self, mode: str) -> None:
        for tap in self.taps:
            if hasattr(tap, "mode"):
                tap.mode(mode)
