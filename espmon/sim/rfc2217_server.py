"""Serve a virtual board over RFC 2217 (pyserial's ``serial.rfc2217.PortManager``), so a
separate process - the real esptool, the real esp-idf-monitor - reaches it exactly like a
networked board, DTR/RTS and baud changes included.

One client at a time, clients served one after another. The port is opened when a
client connects and closed when it leaves, which drops DTR and RTS like a tty's HUPCL
(with both released EN stays high, so a disconnect never resets the chip). When the
board's port vanishes (USB re-enumeration) the client's connection is dropped; a client
connecting while it is away waits for it to come back. TCP_NODELAY,
or Nagle plus delayed ACKs stall every request/response round trip.
"""

from __future__ import annotations

import socket
import sys
import threading
import time

import serial
from serial.rfc2217 import PortManager

from espmon.sim.protocol_sim import Serial

__all__ = ["Rfc2217Server"]

REAPPEAR_WAIT = 2.0  # how long a new client waits for a vanished port to come back


class Rfc2217Server:
    def __init__(self, board_url: str, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False):
        self.board_url = board_url
        self.verbose = verbose
        self._listener = socket.create_server((host, port), reuse_port=False)
        self._listener.settimeout(None)
        self._stopping = threading.Event()
        self._conn: socket.socket | None = None
        self.clients = 0

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    @property
    def url(self) -> str:
        host, port = self.address
        return f"rfc2217://{host}:{port}"

    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"espmon sim: {message}", file=sys.stderr, flush=True)

    def serve_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            self.clients += 1
            self._log(f"client {peer[0]}:{peer[1]} connected")
            try:
                self._serve(conn)
            finally:
                self._log("client disconnected")

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="espmon-sim-rfc2217", daemon=True)
        thread.start()
        return thread

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ser = Serial()
        ser.baudrate = 115200
        ser.timeout = None
        ser.port = self.board_url
        deadline = time.monotonic() + REAPPEAR_WAIT
        while True:
            try:
                ser.open()
                break
            except serial.SerialException as exc:
                # The board's USB port is away (re-enumerating): hold the client a moment,
                # as a bridge that reopens its device would, then give up.
                if time.monotonic() > deadline or self._stopping.is_set():
                    self._log(str(exc))
                    conn.close()
                    return
                time.sleep(0.05)
        self._conn = conn
        send_lock = threading.Lock()

        class _Connection:
            @staticmethod
            def write(data: bytes) -> None:
                with send_lock:
                    conn.sendall(data)

        manager = PortManager(ser, _Connection())
        reader = threading.Thread(target=self._board_to_client, args=(ser, manager, conn, send_lock),
                                  name="espmon-sim-rfc2217-reader", daemon=True)
        reader.start()
        try:
            while not self._stopping.is_set():
                data = conn.recv(8192)
                if not data:
                    break
                payload = b"".join(manager.filter(data))
                if payload:
                    ser.write(payload)
        except (OSError, serial.SerialException):
            pass
        finally:
            ser.cancel_read()
            try:
                ser.close()
            except serial.SerialException:
                pass
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
            self._conn = None
            reader.join(2)

    def _board_to_client(self, ser: Serial, manager: PortManager, conn: socket.socket,
                         send_lock: threading.Lock) -> None:
        try:
            while ser.is_open:
                data = ser.read(max(1, ser.in_waiting))
                if not data:
                    if not ser.is_open or self._stopping.is_set():
                        break
                    continue
                with send_lock:
                    conn.sendall(data.replace(b"\xff", b"\xff\xff"))  # IAC doubled; PortManager.escape goes byte by byte
        except (OSError, serial.SerialException):
            # The board's port vanished or the client left: end this session.
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self._stopping.set()
        try:  # shutdown() wakes a thread blocked in accept(); close() alone does not
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        conn = self._conn
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
