"""A small text control channel for a running board, for tests and scripts that cannot
toggle modem lines (pty, socket) or want to look inside.

One command per line, one reply line each: ``reset download`` / ``reset flash`` (pulse
EN with GPIO0 low / high), ``status`` (a JSON object), ``help``.

One thread serves every connection (a selector), with bounds a careless or hostile client
cannot push: at most ``MAX_CLIENTS`` connections - when all are taken, the one idle for
longest goes if it has been idle ``IDLE_EVICT`` seconds, else the newcomer is told so and
closed (a pile of idle sockets cannot lock a script out for long) - and lines of at most
``MAX_LINE`` bytes (a longer one is answered with an error and its connection closed).
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time

from espmon.sim.board import Board

__all__ = ["ControlServer", "HELP", "IDLE_EVICT", "MAX_CLIENTS", "MAX_LINE"]

HELP = "commands: reset download | reset flash | status | help"
MAX_CLIENTS = 16
MAX_LINE = 1024
IDLE_EVICT = 10.0  # seconds without a command before a connection may make room for a new one


def handle_command(board: Board, line: str) -> str:
    words = line.split()
    if not words:
        return ""
    if words[0] == "reset" and len(words) == 2 and words[1] in ("download", "flash"):
        board.reset(words[1])
        return "ok"
    if words == ["status"]:
        return json.dumps(board.status())
    if words == ["help"]:
        return HELP
    return f"error: unknown command {line.strip()!r} ({HELP})"


class ControlServer:
    def __init__(self, board: Board, host: str = "127.0.0.1", port: int = 0):
        self.board = board
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._buffers: dict[socket.socket, bytearray] = {}
        self._active: dict[socket.socket, float] = {}  # when each connection last sent something
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()  # stop() wakes the selector
        self._selector.register(self._wake_r, selectors.EVENT_READ)

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    @property
    def clients(self) -> int:
        return len(self._buffers)

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._serve, name="espmon-sim-control", daemon=True)
        thread.start()
        return thread

    def _serve(self) -> None:
        try:
            while not self._stopping:
                for key, _ in self._selector.select():
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is not self._wake_r:
                        self._receive(key.fileobj)
        finally:
            for conn in list(self._buffers):
                self._drop(conn)
            self._selector.close()
            self._listener.close()
            self._wake_r.close()
            self._wake_w.close()

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return  # reset before we took it, or out of descriptors for a moment
        if len(self._buffers) >= MAX_CLIENTS:
            idlest = min(self._active, key=self._active.__getitem__)
            if time.monotonic() - self._active[idlest] < IDLE_EVICT:
                _send(conn, f"error: too many control connections (at most {MAX_CLIENTS})\n".encode())
                conn.close()
                return
            _send(idlest, b"error: closed after being idle, to make room for a new connection\n")
            self._drop(idlest)
        conn.setblocking(False)
        self._buffers[conn] = bytearray()
        self._active[conn] = time.monotonic()
        self._selector.register(conn, selectors.EVENT_READ)

    def _receive(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        self._active[conn] = time.monotonic()
        buffer = self._buffers[conn]
        buffer += data
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end])
            del buffer[:end + 1]
            if len(line) > MAX_LINE:
                break
            reply = handle_command(self.board, line.decode("utf-8", "replace"))
            if reply and not _send(conn, reply.encode() + b"\n"):
                self._drop(conn)
                return
        else:
            if len(buffer) <= MAX_LINE:
                return
        _send(conn, f"error: line longer than {MAX_LINE} bytes\n".encode())
        self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        self._buffers.pop(conn, None)
        self._active.pop(conn, None)
        try:
            self._selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def stop(self) -> None:
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass


def _send(conn: socket.socket, data: bytes) -> bool:
    """Send a short reply; False when the client is gone or does not read its replies."""
    try:
        conn.settimeout(1.0)  # a reply is a line; a client that will not take it is dropped
        conn.sendall(data)
        return True
    except OSError:
        return False
    finally:
        try:
            conn.setblocking(False)
        except OSError:
            pass
