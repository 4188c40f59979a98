"""pyserial's RFC 2217 client, made fast enough for a monitor (used only by ``espmon.port.opening.open_port``).

pyserial 3.5 (``serial.rfc2217.Serial``) runs every received byte through its telnet state
machine and queues it alone (``Queue.put`` per byte, ``get`` per byte in ``read``): about
0.3 MB/s at 3.6 CPU-s/MB. :class:`Rfc2217Serial` keeps its negotiation, its options and
every setter, and changes only how received data travels and how acknowledgements are
awaited:

- the reader thread unescapes whole chunks (:class:`TelnetDecoder`: ``bytes.find`` and
  ``replace`` between the rare telnet commands, which may straddle chunks) into one
  bytearray; ``read``/``in_waiting`` see everything waiting;
- that buffer is bounded (``RX_LIMIT``): past it the reader stops taking from the socket,
  so a slow consumer leaves the rest in TCP's buffers - unless an acknowledgement is
  awaited, which must never sit behind unread data;
- acknowledgements (purge, DTR/RTS, baud...) wake their waiter at once instead of after
  pyserial's 50 ms polling sleeps; port settings are re-sent only when one of them changed
  (pyserial re-sends all of them on every timeout change, which esptool makes per command);
- ``cancel_read`` is supported.

Stock pyserial (esptool's own ports) is left alone.
"""

from __future__ import annotations

import socket
import struct
import threading

import serial.rfc2217 as rfc
from serial.serialutil import PortNotOpenError, SerialException, Timeout

from parsers.telnet import TelnetDecoder, TelnetError, TelnetEvent

__all__ = ["RECV_SIZE", "RX_LIMIT", "Rfc2217Serial", "TelnetDecoder", "TelnetEvent"]  # the last two: parsers.telnet

RECV_SIZE = 1 << 16
RX_LIMIT = 1 << 18  # bytes received but not read yet, before the reader stops taking more

class Rfc2217Serial(rfc.Serial):
    """``serial.rfc2217.Serial`` with chunked receive, prompt acknowledgements and cancel_read."""

    def __init__(self, *args, **kwargs) -> None:
        self._cond = threading.Condition()
        self._rx = bytearray()
        self._rx_done = False  # the reader thread has ended (connection lost or closed)
        self._cancel = False
        self._wire_key: tuple | None = None
        super().__init__(*args, **kwargs)  # last: it opens the port when given one

    # -- life cycle -----------------------------------------------------------------------
    def open(self) -> None:
        with self._cond:
            self._rx = bytearray()
            self._rx_done = False
            self._cancel = False
        self._wire_key = None
        super().open()

    def close(self) -> None:
        self.is_open = False
        with self._cond:
            self._cond.notify_all()  # a reader waiting for room must see the port closing
        super().close()
        self._wire_key = None

    # -- receiving ------------------------------------------------------------------------
    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes: waits for them until the timeout, returns what is there
        then. Raises SerialException once the connection is gone and nothing is left."""
        if not self.is_open:
            raise PortNotOpenError()
        timeout = Timeout(self._timeout)
        with self._cond:
            rx = self._rx
            while len(rx) < size:
                if self._cancel:
                    self._cancel = False
                    break
                if self._rx_done or self._thread is None or not self._thread.is_alive():
                    if rx:
                        break
                    raise SerialException("connection failed (reader thread died)")
                if timeout.expired():
                    break
                self._cond.wait(timeout.time_left())
            if size >= len(rx):
                data = bytes(rx)
                rx.clear()
            else:
                data = bytes(rx[:size])
                del rx[:size]
            self._cond.notify_all()  # room again for a reader held at RX_LIMIT
        return data

    def cancel_read(self) -> None:
        with self._cond:
            self._cancel = True
            self._cond.notify_all()

    def reset_input_buffer(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        self.rfc2217_send_purge(rfc.PURGE_RECEIVE_BUFFER)
        with self._cond:  # after the ack: what came before it has been queued by now
            self._rx.clear()
            self._cond.notify_all()

    def _telnet_read_loop(self) -> None:
        decoder = TelnetDecoder()
        sock = self._socket
        try:
            while self.is_open:
                try:
                    chunk = sock.recv(RECV_SIZE)
                except socket.timeout:
                    continue  # wake up now and then to see whether the port was closed
                except OSError as exc:
                    if self.logger:
                        self.logger.debug(f"socket error in reader thread: {exc}")
                    break
                if not chunk:
                    break  # the server closed the connection
                try:
                    items = decoder.feed(chunk)
                except TelnetError as exc:  # a server that never ends a subnegotiation
                    if self.logger:
                        self.logger.warning(f"connection dropped: {exc}")
                    break
                for item in items:
                    if isinstance(item, bytes):
                        self._queue(item)
                    else:
                        self._act_on(item)
        finally:
            with self._cond:
                self._rx_done = True
                self._cond.notify_all()
            if self.logger:
                self.logger.debug("read thread terminated")

    def _queue(self, data: bytes) -> None:
        with self._cond:
            while len(self._rx) >= RX_LIMIT and self.is_open and not self._ack_awaited():
                self._cond.wait(0.1)
            self._rx += data
            self._cond.notify_all()

    def _ack_awaited(self) -> bool:
        options = self._rfc2217_options or {}
        return any(item.state is rfc.REQUESTED for name, item in options.items()
                   if not (name == "control" and self._ignore_set_control_answer))

    def _act_on(self, event: TelnetEvent) -> None:
        if event.kind == "sub":
            self._telnet_process_subnegotiation(event.value)
        elif event.kind == "negotiate":
            self._telnet_negotiate_option(event.command, event.value)
        else:
            self._telnet_process_command(event.command)
        with self._cond:
            self._cond.notify_all()  # an acknowledgement may be awaited

    # -- acknowledgements -------------------------------------------------------------------
    def rfc2217_send_subnegotiation(self, option: bytes, value: bytes = b"") -> None:
        super().rfc2217_send_subnegotiation(option, value)
        with self._cond:
            self._cond.notify_all()  # an ack is now awaited: a reader held at RX_LIMIT goes on

    def _await(self, ready, seconds: float) -> bool:
        """Wait until ready() (which raises ValueError when the server refused a value)."""
        deadline = Timeout(seconds)
        with self._cond:
            while not ready():
                if self._rx_done:
                    raise SerialException("connection failed (reader thread died)")
                if deadline.expired():
                    return False
                self._cond.wait(deadline.time_left())
        return True

    def rfc2217_send_purge(self, value: bytes) -> None:
        item = self._rfc2217_options["purge"]
        item.set(value)
        if not self._await(item.is_ready, self._network_timeout):
            raise SerialException(f"timeout while waiting for option {item.name!r}")

    def rfc2217_set_control(self, value: bytes) -> None:
        if self._ignore_set_control_answer:  # the server's answers are not to be trusted
            super().rfc2217_set_control(value)
            return
        item = self._rfc2217_options["control"]
        item.set(value)
        if not self._await(item.is_ready, self._network_timeout):
            raise SerialException(f"timeout while waiting for option {item.name!r}")

    def _reconfigure_port(self) -> None:
        """pyserial's, sending the settings only when one of them changed."""
        if self._socket is None:
            raise SerialException("Can only operate on open ports")
        if self._write_timeout is not None:
            raise NotImplementedError("write_timeout is currently not supported")
        key = (self._baudrate, self._bytesize, self._parity, self._stopbits, self._rtscts, self._xonxoff)
        if key == self._wire_key:
            return
        if not 0 < self._baudrate < 2**32:
            raise ValueError(f"invalid baudrate: {self._baudrate!r}")
        settings = self._rfc2217_port_settings
        settings["baudrate"].set(struct.pack(b"!I", self._baudrate))
        settings["datasize"].set(struct.pack(b"!B", self._bytesize))
        settings["parity"].set(struct.pack(b"!B", rfc.RFC2217_PARITY_MAP[self._parity]))
        settings["stopsize"].set(struct.pack(b"!B", rfc.RFC2217_STOPBIT_MAP[self._stopbits]))
        items = list(settings.values())
        if not self._await(lambda: all(item.active for item in items), self._network_timeout):
            raise SerialException(f"Remote does not accept parameter change (RFC2217): {items!r}")
        if self._rtscts and self._xonxoff:
            raise ValueError("xonxoff and rtscts together are not supported")
        if self._rtscts:
            self.rfc2217_set_control(rfc.SET_CONTROL_USE_HW_FLOW_CONTROL)
        elif self._xonxoff:
            self.rfc2217_set_control(rfc.SET_CONTROL_USE_SW_FLOW_CONTROL)
        else:
            self.rfc2217_set_control(rfc.SET_CONTROL_USE_NO_FLOW_CONTROL)
        self._wire_key = key
