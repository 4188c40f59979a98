"""A small text control channel for a running board, for tests and scripts that cannot
toggle modem lines (pty, socket) or want to look inside.

One command per line, one reply line each: ``reset download`` / ``reset flash`` (pulse
EN with GPIO0 low / high), ``status`` (a JSON object), ``help``.
"""

from __future__ import annotations

import json
import socket
import threading

from espmon.sim.board import Board

__all__ = ["ControlServer", "HELP"]

HELP = "commands: reset download | reset flash | status | help"


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
        self._stopping = False

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._serve, name="espmon-sim-control", daemon=True)
        thread.start()
        return thread

    def _serve(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb", buffering=0) as stream:
            for raw in stream:
                reply = handle_command(self.board, raw.decode("utf-8", "replace"))
                if reply:
                    stream.write(reply.encode() + b"\n")

    def stop(self) -> None:
        self._stopping = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
