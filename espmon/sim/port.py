"""The host end of the board's serial cable: what a transport (the ``sim://`` pyserial
handler, the RFC 2217 server, the pty bridge) reads and writes.

A :class:`HostPort` buffers what the board sent until the host reads it, forwards what
the host writes, and carries the host's settings (baud, DTR, RTS) to the board. It has
its own condition variable, taken after the board's lock and never while calling into
the board, so a reader blocked here never blocks the board.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import serial

if TYPE_CHECKING:
    from espmon.sim.board import Board

__all__ = ["HostPort", "PortGone", "MAX_BUFFER"]

#: What a host that never reads can pile up (a real tty buffer is far smaller).
MAX_BUFFER = 1 << 20


class PortGone(serial.SerialException):
    """The device vanished (USB re-enumeration): like an unplugged tty."""


class HostPort:
    def __init__(self, board: Board, baudrate: int = 115200):
        self.board = board
        self.baudrate = baudrate
        self.dtr = False
        self.rts = False
        self._buffer = bytearray()
        self._cond = threading.Condition()
        self._cancelled = False
        self.gone = False
        self.closed = False
        self.dropped = 0  # bytes discarded because the host did not read in time
        self.pace = False  # release bytes at the wire rate (10 bits per byte) instead of at once
        self.pace_tx = False  # and take the wire time for what the host writes (flashing benchmarks)
        self._in_flight: deque[tuple[float, bytes]] = deque()  # (arrival time, chunk)
        self._wire_free = 0.0  # when the last paced byte finishes arriving

    # --- board side (called with the board lock held) ---------------------------------

    def deliver(self, data: bytes, baud: int = 115200) -> None:
        with self._cond:
            if self.pace:
                when = max(time.monotonic(), self._wire_free)
                for pos in range(0, len(data), 64):
                    chunk = data[pos:pos + 64]
                    when += len(chunk) * 10 / baud
                    self._in_flight.append((when, chunk))
                self._wire_free = when
            else:
                self._buffer += data
            overflow = len(self._buffer) - MAX_BUFFER
            if overflow > 0:
                del self._buffer[:overflow]
                self.dropped += overflow
            self._cond.notify_all()

    def _arrived(self) -> float | None:
        """Move paced chunks whose time has come into the buffer; the next arrival time."""
        now = time.monotonic()
        while self._in_flight and self._in_flight[0][0] <= now:
            self._buffer += self._in_flight.popleft()[1]
        return self._in_flight[0][0] if self._in_flight else None

    def _wait(self, deadline: float | None) -> bool:
        """Wait for news (data, cancel, close) until ``deadline``; False once it passed."""
        next_arrival = self._arrived()
        until = deadline
        if next_arrival is not None:
            until = next_arrival if until is None else min(until, next_arrival)
        if until is None:
            self._cond.wait()
            return True
        remaining = until - time.monotonic()
        if deadline is not None and deadline - time.monotonic() <= 0:
            return False
        if remaining > 0:
            self._cond.wait(remaining)
        return True

    def vanish(self) -> None:
        with self._cond:
            self.gone = True
            self._cond.notify_all()

    # --- host side ----------------------------------------------------------------------

    def _check(self) -> None:
        if self.gone:
            raise PortGone("read failed: [Errno 5] Input/output error (device disconnected)")
        if self.closed:
            raise serial.PortNotOpenError()

    @property
    def in_waiting(self) -> int:
        with self._cond:
            self._check()
            self._arrived()
            return len(self._buffer)

    def read(self, size: int, timeout: float | None) -> bytes:
        """Up to ``size`` bytes: wait until that many arrived, ``timeout`` passed, or
        :meth:`cancel_read` was called (None = wait forever, 0 = don't wait)."""
        return self._take(size, size, timeout)

    def read_available(self, timeout: float | None) -> bytes:
        """Whatever is buffered, waiting up to ``timeout`` for the first byte."""
        return self._take(1, None, timeout)

    def _take(self, need: int, limit: int | None, timeout: float | None) -> bytes:
        """Wait until ``need`` bytes are buffered (or timeout/cancel), then take up to ``limit``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cancelled = False
            while True:
                self._check()
                self._arrived()
                if len(self._buffer) >= need or self._cancelled or not self._wait(deadline):
                    break
            self._arrived()
            data = bytes(self._buffer[:limit])
            del self._buffer[:limit]
            self._cancelled = False
            return data

    def cancel_read(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def reset_input_buffer(self) -> None:
        with self._cond:
            self._check()
            self._buffer.clear()
            self._in_flight.clear()
            self._wire_free = 0.0  # what was dropped no longer holds the wire

    def write(self, data: bytes) -> int:
        self._check()
        self.board.receive(self, bytes(data))
        if self.pace_tx:
            # a paced cable takes the bytes' wire time on the way in too: the write
            # returns once they are out (a UART's blocking write, 10 bits a byte)
            time.sleep(len(data) * 10 / max(self.baudrate, 1))
        return len(data)

    def set_baudrate(self, baud: int) -> None:
        self._check()
        self.baudrate = baud
        self.board.host_baud_changed(self)

    def set_lines(self, dtr: bool | None = None, rts: bool | None = None) -> None:
        self._check()
        if dtr is not None:
            self.dtr = bool(dtr)
        if rts is not None:
            self.rts = bool(rts)
        self.board.lines_changed(self, dtr, rts)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with self._cond:
            self._cond.notify_all()
        self.board.detach(self)
