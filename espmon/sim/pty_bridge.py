"""Serve a virtual board on a pseudo-terminal (``/dev/pts/N``): the fastest transport,
for tests that flash a lot. A pty has no modem lines (esptool warns and skips its reset;
use ``--before no-reset`` or the control channel to reset the board), and the host's baud
is whatever the client set with termios on its end.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import termios
import threading
import tty

from espmon.sim.board import Board
from espmon.sim.port import HostPort

__all__ = ["PtyBridge"]

_SPEEDS = {getattr(termios, f"B{n}"): n for n in (
    50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
    115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000,
    2500000, 3000000, 3500000, 4000000) if hasattr(termios, f"B{n}")}
_SPEEDS_BY_BAUD = {baud: code for code, baud in _SPEEDS.items()}


class _PtyHostPort(HostPort):
    """The host's baud is read from the slave's termios each time it matters."""

    def __init__(self, board: Board, slave_fd: int):
        super().__init__(board)
        self._slave = slave_fd

    @property  # type: ignore[override]
    def baudrate(self) -> int:
        try:
            code = termios.tcgetattr(self._slave)[5]
        except termios.error:
            return 115200
        return _SPEEDS.get(code, 115200)

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        pass  # set by the client through termios


class PtyBridge:
    def __init__(self, board: Board):
        self.board = board
        self.master, self.slave = os.openpty()
        # Raw, no echo, 115200 until a client configures it: echo would loop the board's
        # own output back into it.
        tty.setraw(self.slave)
        attrs = termios.tcgetattr(self.slave)
        attrs[4] = attrs[5] = _SPEEDS_BY_BAUD.get(115200, attrs[5])
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        flags = fcntl.fcntl(self.master, fcntl.F_GETFL)
        fcntl.fcntl(self.master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.path = os.ttyname(self.slave)
        self.host = _PtyHostPort(board, self.slave)
        board.attach(self.host)
        self._stop_r, self._stop_w = os.pipe()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target in (self._host_to_board, self._board_to_host):
            thread = threading.Thread(target=target, name="espmon-sim-pty", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _host_to_board(self) -> None:
        while True:
            ready, _, _ = select.select([self.master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            if data:
                self.host.write(data)

    def _board_to_host(self) -> None:
        while True:
            try:
                data = self.host.read_available(None)
            except Exception:
                return
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self.master, view)
                    view = view[written:]
                except BlockingIOError:
                    # Nobody reads the pty: wait briefly, then drop like a UART would.
                    _, writable, _ = select.select([], [self.master], [], 0.5)
                    if not writable:
                        break
                except OSError as exc:
                    if exc.errno == errno.EIO:
                        break
                    return

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        self.host.close()
        for thread in self._threads:
            thread.join(2)
        for fd in (self.master, self.slave, self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
