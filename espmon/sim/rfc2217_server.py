"""Serve a virtual board over RFC 2217 (pyserial's ``serial.rfc2217.PortManager`` answers
the options), so a separate process - the real esptool, the real esp-idf-monitor - reaches
it exactly like a networked board, DTR/RTS and baud changes included.

One client at a time. A client arriving while another is served waits ``BUSY_WAIT`` for it
to leave (one that just closed may still be releasing the port), then is disconnected:
pyserial's client reports that as "port is busy or doesn't exist". The port is opened when
a client connects and closed when it leaves, which drops DTR and RTS like a tty's HUPCL
(with both released EN stays high, so a disconnect never resets the chip). When the
board's port vanishes (USB re-enumeration) the client's connection is dropped; a client
connecting while it is away waits for it to come back. TCP_NODELAY, or Nagle plus delayed
ACKs stall every request/response round trip.

Whatever one client does - reset the connection at once, send a stray IAC SE, a malformed
or never-ending subnegotiation - ends that connection only (one line on stderr); the
listener goes on serving the next client.
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
import threading
import time

import serial
from serial.rfc2217 import PortManager

from espmon.sim.protocol_sim import Serial
from parsers.telnet import TelnetDecoder, TelnetError, TelnetEvent

__all__ = ["Rfc2217Server"]

REAPPEAR_WAIT = 2.0  # how long a new client waits for a vanished port to come back
BUSY_WAIT = 1.0  # how long a new client waits for the one being served to leave
# accept() errors that concern one connection or a passing shortage, not the listener
_TRANSIENT = {errno.ECONNABORTED, errno.EPROTO, errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
              errno.EPERM, errno.ETIMEDOUT}
# what PortManager raises on a subnegotiation with a short or unknown value
_MALFORMED = (struct.error, KeyError, IndexError, ValueError, TypeError)


class Rfc2217Server:
    def __init__(self, board_url: str, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False):
        self.board_url = board_url
        self.verbose = verbose
        self._listener = socket.create_server((host, port), reuse_port=False)
        self._listener.settimeout(None)
        self._stopping = threading.Event()
        self._conn: socket.socket | None = None
        self._session: threading.Thread | None = None
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

    def _warn(self, message: str) -> None:
        print(f"espmon sim: {message}", file=sys.stderr, flush=True)

    def serve_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = self._listener.accept()
            except OSError as exc:
                if self._stopping.is_set():
                    return
                if exc.errno not in _TRANSIENT:
                    raise
                time.sleep(0.05)  # out of descriptors: let a connection end first
                continue
            self._admit(conn, f"{peer[0]}:{peer[1]}")

    def _admit(self, conn: socket.socket, peer: str) -> None:
        session = self._session
        if session is not None:
            session.join(BUSY_WAIT)
            if session.is_alive():
                self._warn(f"client {peer} refused: the board is busy with another client")
                _close(conn)
                return
        self.clients += 1
        self._session = threading.Thread(target=self._session_main, args=(conn, peer),
                                         name="espmon-sim-rfc2217-session", daemon=True)
        self._session.start()

    def _session_main(self, conn: socket.socket, peer: str) -> None:
        self._log(f"client {peer} connected")
        try:
            self._serve(conn)
        except OSError as exc:  # reset or closed by the client at any point: an ordinary goodbye
            self._log(f"client {peer}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a connection's failure ends that connection only
            self._warn(f"client {peer} dropped: {type(exc).__name__}: {exc}")
        finally:
            _close(conn)
            self._log(f"client {peer} disconnected")

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
                    return
                time.sleep(0.05)
        self._conn = conn
        send_lock = threading.Lock()

        class _Connection:
            @staticmethod
            def write(data: bytes) -> None:
                with send_lock:
                    conn.sendall(data)

        reader = threading.Thread(target=self._board_to_client, args=(ser, conn, send_lock),
                                  name="espmon-sim-rfc2217-reader", daemon=True)
        decoder = TelnetDecoder()
        try:  # from here on the board's port is ours: whatever happens, it is closed below
            manager = PortManager(ser, _Connection())  # sends its first negotiation: may meet a reset
            reader.start()
            while not self._stopping.is_set():
                data = conn.recv(8192)
                if not data:
                    break
                for item in decoder.feed(data):
                    if isinstance(item, bytes):
                        ser.write(item)
                    else:
                        self._act_on(manager, item)
        except (OSError, serial.SerialException):
            pass  # the client or the board's port went away
        except TelnetError as exc:
            self._warn(f"client dropped: {exc}")
        finally:
            ser.cancel_read()
            try:
                ser.close()
            except serial.SerialException:
                pass
            _close(conn)
            self._conn = None
            if reader.is_alive():
                reader.join(2)

    def _act_on(self, manager: PortManager, event: TelnetEvent) -> None:
        if event.kind == "negotiate":
            manager._telnet_negotiate_option(event.command, event.value)
        elif event.kind == "command":
            manager._telnet_process_command(event.command)
        else:
            try:
                manager._telnet_process_subnegotiation(event.value)
            except _MALFORMED:  # a short baud value, an unknown parity: not answered, as a device would
                self._warn(f"ignored a malformed subnegotiation {event.value[:16].hex(' ')}")

    def _board_to_client(self, ser: Serial, conn: socket.socket, send_lock: threading.Lock) -> None:
        try:
            while ser.is_open:
                data = ser.read_available(None)
                if not data:
                    if not ser.is_open or self._stopping.is_set():
                        break
                    continue
                with send_lock:
                    conn.sendall(data.replace(b"\xff", b"\xff\xff"))  # IAC doubled (PortManager.escape: per byte)
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


def _close(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # never connected, or already reset by the peer
    conn.close()
