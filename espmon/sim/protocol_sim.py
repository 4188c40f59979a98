"""pyserial protocol handler for ``sim://CHIP?...``: a virtual board as a serial port.

Registered with :func:`espmon.sim.register`; then ``serial.serial_for_url("sim://esp32")``
opens the board named by the URL (creating it on first use). DTR/RTS drive the board's
auto-reset circuit, the baudrate is the host end's, and ``port.board`` is the board
object, for tests.
"""

from __future__ import annotations

import errno

import serial
from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from espmon.sim import registry
from espmon.sim.board import Board
from espmon.sim.port import HostPort

__all__ = ["Serial"]


class Serial(SerialBase):
    """A pyserial port whose far end is a :class:`~espmon.sim.board.Board`."""

    board: Board | None = None
    _host: HostPort | None = None

    def open(self) -> None:
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:
            raise SerialException("Port is already open.")
        try:
            board = registry.board_for_url(self._port)
        except (ValueError, OSError) as exc:
            raise SerialException(f"could not open port {self._port}: {exc}") from None
        host = HostPort(board, self._baudrate)
        board.attach(host)
        board.power_on()  # a board opened by URL is plugged in when its port opens
        self.board = board
        self._host = host
        self.is_open = True
        if not self._dsrdtr:
            self._update_dtr_state()
        if not self._rtscts:
            self._update_rts_state()

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
        self.is_open = False

    def from_url(self, url: str) -> str:
        return url

    def _reconfigure_port(self) -> None:
        if self._host is not None and self.is_open and not self._host.gone:
            self._host.set_baudrate(self._baudrate)

    def _need_open(self) -> HostPort:
        if not self.is_open or self._host is None:
            raise PortNotOpenError()
        return self._host

    @property
    def in_waiting(self) -> int:
        return self._need_open().in_waiting

    def read(self, size: int = 1) -> bytes:
        return self._need_open().read(size, self._timeout)

    def read_available(self, timeout: float | None = None) -> bytes:
        """Whatever has arrived, waiting up to ``timeout`` for the first byte. A server's
        reader uses this, not ``read(in_waiting)``: a purge between the two calls would leave
        that read waiting for bytes that were thrown away (a reply then stalls)."""
        return self._need_open().read_available(timeout)

    def write(self, data: bytes) -> int:
        return self._need_open().write(serial.to_bytes(data))

    def flush(self) -> None:
        self._need_open()

    def reset_input_buffer(self) -> None:
        self._need_open().reset_input_buffer()

    def reset_output_buffer(self) -> None:
        self._need_open()

    def cancel_read(self) -> None:
        if self._host is not None:
            self._host.cancel_read()

    def cancel_write(self) -> None:
        pass

    def _update_break_state(self) -> None:
        self._need_open()

    def _update_dtr_state(self) -> None:
        self._need_open().set_lines(dtr=self._dtr_state)

    def _update_rts_state(self) -> None:
        self._need_open().set_lines(rts=self._rts_state)

    @property
    def cts(self) -> bool:
        self._need_open()
        return True

    @property
    def dsr(self) -> bool:
        self._need_open()
        return True

    @property
    def ri(self) -> bool:
        self._need_open()
        return False

    @property
    def cd(self) -> bool:
        self._need_open()
        return True

    def fileno(self) -> int:
        # No modem ioctls on a virtual port: esptool then uses its portable reset.
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
