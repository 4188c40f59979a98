"""RFC 2217 server around a pty, for the monitor benchmark: ``python rfc2217_server.py /dev/pts/N``.

Prints ``rfc2217://127.0.0.1:PORT`` on stdout, then serves clients one after another,
as pyserial's example ``rfc2217_server.py`` does: ``serial.rfc2217.PortManager`` handles
the telnet negotiation and the COM-PORT options (baud, DTR/RTS, purge) coming from the
client. Two differences, both so the server is never what the benchmark measures:

- the device->client direction reads the pty with ``os.read`` and escapes IAC with one
  ``bytes.replace`` per chunk (PortManager.escape yields one byte at a time); the bytes
  on the wire are the same;
- a bare pty has no modem lines: DTR/RTS changes are acknowledged and otherwise ignored,
  CTS/DSR/RI/CD read as inactive (pyserial's ioctls fail with ENOTTY there).

It prints ``purged`` on stdout each time a client purges the receive buffer, so the
benchmark knows when the client has finished opening and data written now will not be
flushed away.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading

import serial
import serial.serialposix
from serial.rfc2217 import PortManager

from pty_shim import tolerant  # this script's folder is on sys.path

IAC = b"\xff"


class PtySerial(serial.serialposix.Serial):
    """A pty as pyserial port, with modem lines that are silently absent."""

    _update_dtr_state = tolerant(serial.serialposix.Serial._update_dtr_state)
    _update_rts_state = tolerant(serial.serialposix.Serial._update_rts_state)
    _update_break_state = tolerant(serial.serialposix.Serial._update_break_state)

    def _line(self, name: str) -> bool:
        try:
            return bool(getattr(serial.serialposix.Serial, name).fget(self))
        except OSError:
            return False

    cts = property(lambda self: self._line("cts"))
    dsr = property(lambda self: self._line("dsr"))
    ri = property(lambda self: self._line("ri"))
    cd = property(lambda self: self._line("cd"))

    def reset_input_buffer(self) -> None:
        super().reset_input_buffer()
        print("purged", flush=True)


def serve(conn: socket.socket, ser: PtySerial) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lock = threading.Lock()
    done = threading.Event()

    class Connection:
        @staticmethod
        def write(data: bytes) -> None:
            with lock:
                conn.sendall(data)

    manager = PortManager(ser, Connection())

    def device_to_client() -> None:
        fd = ser.fd
        try:
            while not done.is_set():
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    break
                with lock:
                    conn.sendall(data.replace(IAC, IAC + IAC))
        except OSError:
            pass

    pump = threading.Thread(target=device_to_client, daemon=True)
    pump.start()
    try:
        while True:
            data = conn.recv(8192)
            if not data:
                break
            payload = b"".join(manager.filter(data))
            if payload:
                ser.write(payload)
    except OSError:
        pass
    finally:
        done.set()
        pump.join(2)
        conn.close()


def main() -> int:
    dev = sys.argv[1]
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"rfc2217://127.0.0.1:{listener.getsockname()[1]}", flush=True)
    ser = PtySerial(dev, 115200, timeout=0)
    while True:
        conn, _ = listener.accept()
        print("client", flush=True)
        serve(conn, ser)


if __name__ == "__main__":
    raise SystemExit(main())
