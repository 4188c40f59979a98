"""The monitor's log: the raw bytes exactly as received, plus a decoded, timestamped text log.

``--log FILE`` writes two files:

- ``FILE``: every byte read from the port, unmodified, written with one ``os.write`` per
  read *before* anything else looks at the data (no Python buffer in between, so a
  SIGKILL or a vanished port loses nothing that was read);
- ``FILE.txt``: what the console showed, one line per device line with the host time,
  espmon's annotations (``--- ...``) and notes included, colours stripped and control
  characters escaped; flushed after every batch.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

__all__ = ["SessionLog", "default_log_name", "text_log_path"]


def text_log_path(raw_path: str | os.PathLike[str]) -> Path:
    return Path(str(raw_path) + ".txt")


def default_log_name(now: float | None = None) -> str:
    """The name used when logging is switched on from the console without --log."""
    return time.strftime("espmon-%Y%m%d-%H%M%S.log", time.localtime(now))


class _Clock:
    """Formats host timestamps; caches the date/time part per second (cheap at 100k lines/s)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def stamp(self, t: float) -> str:
        sec = int(t)
        if sec != self._second:
            self._second = sec
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec))
        return f"{self._prefix}.{int((t - sec) * 1000):03d}"


class SessionLog:
    """Both log files of one monitor session. Thread-safe: the reader thread writes raw
    bytes, the event loop writes text lines."""

    def __init__(self, path: str | os.PathLike[str], *, append: bool = True) -> None:
        self.raw_path = Path(path)
        self.text_path = text_log_path(path)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self._raw_fd: int | None = os.open(self.raw_path, flags, 0o644)
        self._text = open(self.text_path, "a" if append else "w", encoding="utf-8", newline="\n")
        self._lock = threading.Lock()
        self._clock = _Clock()
        self.raw_bytes = 0
        # a write that fails (a full disk) stops logging; the monitor goes on (it used to lose
        # its reader thread and show nothing more). ``on_failure`` is told once, from any thread.
        self.failure: str | None = None
        self.on_failure: Callable[[str], None] | None = None
        self._reported = False

    @property
    def closed(self) -> bool:
        return self._raw_fd is None

    def write_raw(self, data: bytes) -> None:
        """Called by the reader thread right after each read."""
        with self._lock:
            fd = self._raw_fd
            if fd is None:
                return
            view = memoryview(data)
            try:
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            except OSError as exc:
                self._failed(self.raw_path, exc)
            else:
                self.raw_bytes += len(data)
        self._report()

    def write_lines(self, lines: list[str], t: float | None = None) -> None:
        """Text lines (no newline), all stamped with host time t; flushed at once."""
        if not lines:
            return
        stamp = self._clock.stamp(time.time() if t is None else t)
        with self._lock:
            if self._text.closed:
                return
            try:
                self._text.write("".join(f"{stamp} {line}\n" for line in lines))
                self._text.flush()
            except OSError as exc:
                self._failed(self.text_path, exc)
        self._report()

    def write_text(self, text: str, t: float | None = None) -> None:
        """A block of text lines, each ending in a newline, all stamped with host time t
        (``write_lines`` in bulk: no Python work per line)."""
        if not text:
            return
        stamp = self._clock.stamp(time.time() if t is None else t) + " "
        if text[-1] == "\n":
            text = text[:-1]
        body = text.replace("\n", "\n" + stamp)
        with self._lock:
            if self._text.closed:
                return
            try:
                write = self._text.write
                write(stamp)
                write(body)
                write("\n")
                self._text.flush()
            except OSError as exc:
                self._failed(self.text_path, exc)
        self._report()

    def _failed(self, path: Path, exc: OSError) -> None:
        """With the lock held: close both files, remember why (said once by ``_report``)."""
        if self.failure is None:
            self.failure = (f"log: cannot write {path}: {exc.strerror or exc}; logging stopped "
                            f"({self.raw_bytes} raw bytes were saved), the monitor goes on")
        self._close_files()

    def _report(self) -> None:
        failure, callback = self.failure, self.on_failure
        if failure is not None and callback is not None and not self._reported:
            self._reported = True
            callback(failure)

    def note(self, text: str, t: float | None = None) -> None:
        """espmon's own remark (reconnect, reset...), marked like an annotation."""
        self.write_lines([f"--- {text}"], t)

    def close(self) -> None:
        with self._lock:
            self._close_files()

    def _close_files(self) -> None:
        if self._raw_fd is not None:
            os.close(self._raw_fd)
            self._raw_fd = None
        if not self._text.closed:
            try:
                self._text.close()
            except OSError:  # its buffer could not be written either (the disk is full)
                pass

    def __enter__(self) -> "SessionLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
