"""The capture proxy: a real port served over RFC 2217, every byte both ways recorded.

Any flasher that takes ``rfc2217://`` (the esptool CLI, ``idf.py -p``, PlatformIO, the
Arduino IDE's esptool) talks to the chip through it unchanged: pyserial's ``PortManager``
applies the client's baud, DTR/RTS, break and purge to the port (so esptool's reset works),
and the port is a :class:`~espmon.port.proxy.PortProxy` whose tap writes the capture.

One client at a time, one after another; a client that fails or misbehaves ends its own
connection, never the server. The port stays open between clients (it is read only while
one is connected: the next client's purge would throw the rest away anyway).
"""

from __future__ import annotations

import contextlib
import socket
import threading

import serial
from serial.rfc2217 import PortManager

from espmon.errors import UserError
from espmon.port.opening import open_port
from espmon.port.proxy import PortProxy

__all__ = ["CaptureServer", "parse_address"]

_RECV = 1 << 16
_READ_TIMEOUT = 0.05  # how soon the port reader notices the client left


def parse_address(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[v6]:PORT``; loopback unless a host is named."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise UserError(f"--serve {text}: expected HOST:PORT or PORT (e.g. 127.0.0.1:4000)") from None
    if not 0 <= number <= 65535:
        raise UserError(f"--serve {text}: a TCP port is 0-65535")
    return host, number


class CaptureServer:
    def __init__(self, port_name: str, tap, host: str = "127.0.0.1", tcp_port: int = 0) -> None:
        self.tap = tap
        self.port = open_port(port_name, 115200)
        self.port.timeout = _READ_TIMEOUT
        self.proxy = PortProxy(self.port, tap)
        try:
            self._listener = socket.create_server((host, tcp_port))
        except OSError as exc:
            self.port.close()
            raise UserError(f"--serve {host}:{tcp_port}: cannot listen: {exc.strerror or exc}") from None
        self._stopping = threading.Event()
        self._conn: socket.socket | None = None
        self.clients = 0

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"rfc2217://{host}:{port}"

    def serve_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _peer = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            self.clients += 1
            self._change("open")
            try:
                self._serve(conn)
            except Exception as exc:  # noqa: BLE001 - one client's failure is that client's
                self.tap.message("warning", f"capture proxy: client {self.clients} ended: {exc}")
            finally:
                self._change("close")

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="espmon-capture-serve", daemon=True)
        thread.start()
        return thread

    def _change(self, event: str) -> None:
        self.tap.change(event, None)

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # or Nagle stalls every round trip
        self._conn = conn
        lock = threading.Lock()
        done = threading.Event()

        class _Sender:
            @staticmethod
            def write(data: bytes) -> None:
                with lock:
                    conn.sendall(data)

        manager = PortManager(self.proxy, _Sender())
        reader = threading.Thread(target=self._port_to_client, args=(conn, lock, done),
                                  name="espmon-capture-serve-reader", daemon=True)
        reader.start()
        try:
            while not self._stopping.is_set() and not done.is_set():
                try:
                    data = conn.recv(_RECV)
                except OSError:
                    break
                if not data:
                    break
                payload = b"".join(manager.filter(data))
                if payload:
                    self.proxy.write(payload)
        finally:
            done.set()
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            self._conn = None
            reader.join(2)

    def _port_to_client(self, conn: socket.socket, lock: threading.Lock, done: threading.Event) -> None:
        try:
            while not done.is_set():
                data = self.proxy.read(max(1, self.port.in_waiting))
                if data:
                    with lock:
                        conn.sendall(data.replace(b"\xff", b"\xff\xff"))  # telnet's IAC doubled
        except (OSError, serial.SerialException) as exc:
            if not done.is_set():
                self._change("vanish")
                self.tap.message("warning", f"capture proxy: the port failed: {exc}")
        finally:
            done.set()
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self.port.close()
