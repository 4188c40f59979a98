"""Helpers for the monitor tests: a pty 'board' whose other end espmon opens, and a runner
for `espmon monitor` subprocesses. Real ports and processes, no mocks."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

__all__ = ["Flood", "PtyBoard", "espmon_cmd", "has_open", "run_monitor", "start_monitor", "unread", "wait_for"]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll until predicate() is truthy; return its value (never asserts on durations)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


def unread(fd: int) -> int:
    """Bytes waiting in a tty's input queue (not yet read by anyone)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


class PtyBoard:
    """The device end of a pty. ``path`` is a stable symlink (so a test can make the port
    vanish and come back under the same name, like a re-enumerated USB device)."""

    def __init__(self, directory: Path) -> None:
        self.link = Path(directory) / "ttyBOARD"
        self.received = bytearray()
        self.sent = bytearray()
        self._stop = threading.Event()
        self._open()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _open(self) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        if self.link.is_symlink() or self.link.exists():
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self.slave))

    @property
    def path(self) -> str:
        return str(self.link)

    def write(self, data: bytes) -> None:
        self.sent += data
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            view = view[n:]

    def pending(self) -> int:
        return unread(self.slave)

    def vanish(self) -> None:
        """Close both ends: the reader gets an I/O error; the path is gone."""
        master, slave = self.master, self.slave
        self.master = self.slave = -1
        self.link.unlink()
        os.close(master)
        os.close(slave)

    def come_back(self) -> None:
        self._open()

    def _pump(self) -> None:
        while not self._stop.is_set():
            fd = self.master
            if fd < 0:
                time.sleep(0.01)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    self.received += os.read(fd, 4096)
            except OSError:
                time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        if self.link.is_symlink():
            self.link.unlink()


class Flood:
    """Device output as fast as the pty takes it (or ``rate`` bytes a second), from a thread:
    numbered ESP-IDF log lines, so what arrived can be checked against ``sent``."""

    def __init__(self, board: PtyBoard, rate: float | None = None, chunk: int = 4096) -> None:
        self.board, self.rate, self.chunk = board, rate, chunk
        self.sent = 0
        self.lines = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _block(self) -> bytes:
        out = bytearray()
        while len(out) < self.chunk:
            out += b"I (%d) flood: line %d of the flood, some text to make it longer\r\n" % (self.lines, self.lines)
            self.lines += 1
        return bytes(out)

    def _run(self) -> None:
        start = time.monotonic()
        pending = b""
        while not self._stop.is_set():
            fd = self.board.master
            if fd < 0:
                time.sleep(0.01)
                continue
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
            if self.rate and self.sent > self.rate * (time.monotonic() - start):
                time.sleep(0.001)
                continue
            try:
                _, ready, _ = select.select([], [fd], [], 0.05)
                if not ready:
                    continue
                pending = pending or self._block()
                n = os.write(fd, pending)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                time.sleep(0.01)
                continue
            self.sent += n
            pending = pending[n:]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def espmon_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "espmon", "monitor", *args]


def run_monitor(args: list[str], script: bytes = b"", timeout: float = 30.0, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(espmon_cmd(*args), input=script, capture_output=True, timeout=timeout, env=env)


def has_open(pid: int, path: str) -> bool:
    """Has process pid opened the tty behind path? (pyserial flushes what came before open.)"""
    target = os.path.realpath(path)
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def start_monitor(args: list[str], board: PtyBoard, **popen) -> subprocess.Popen:
    """Start `espmon monitor` and wait until it has the board's tty open."""
    popen.setdefault("stdin", subprocess.PIPE)
    proc = subprocess.Popen(espmon_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)
    wait_for(lambda: has_open(proc.pid, board.path) or proc.poll() is not None, 20)
    time.sleep(0.1)  # open() flushes the input queue right after the fd appears
    return proc
