"""Script mode on a non-TTY stdin, compatible with esp-idf-monitor 1.10's ``CommandReader``.

One command per line; empty lines and ``#`` comments are skipped; each command is echoed
to stderr. ``send TEXT`` (TEXT + the end of line), ``sleep S``, ``expect [--timeout S]
REGEX`` (also matches the last 1024 lines already received, consuming up to the match),
``reset``, ``bootloader``, ``output``, ``log``, ``timestamps``, ``exit``, and espmon's
``flash`` (``flash-all``) and ``flash-app`` (``app-flash``): the flash set that
``espmon flash --monitor`` wrote, again, on the same port. EOF after a
script exits; an empty stdin (``/dev/null``) just watches the port. An expect that times
out stops the monitor with exit code 110, a bad script line (bad regex or timeout) with 2.
"""

from __future__ import annotations

import collections
import math
import re
import threading
import time
from typing import Callable, TextIO

__all__ = ["EXIT_EXPECT_TIMEOUT", "EXIT_SCRIPT_ERROR", "ScriptRunner", "LOOKBACK_LINES"]

EXIT_EXPECT_TIMEOUT = 110
EXIT_SCRIPT_ERROR = 2
LOOKBACK_LINES = 1024
_POLL = 0.1
_SIMPLE = {"reset", "bootloader", "output", "log", "timestamps"}
_FLASH = {"flash": "flash", "flash-all": "flash", "flash-app": "flash-app", "app-flash": "flash-app"}


class ScriptRunner:
    """Reads commands from ``source`` on its own thread; ``command(name, arg)`` delivers
    them to the monitor (in order), ``stop(code)`` ends the monitor."""

    def __init__(
        self,
        source: TextIO,
        command: Callable[[str, str], None],
        stop: Callable[[int], None],
        say: Callable[[str], None],
    ) -> None:
        self._source = source
        self._command = command
        self._stop = stop
        self._say = say
        self._alive = threading.Event()
        self._alive.set()
        self._lock = threading.Lock()
        self._seen: collections.deque[str] = collections.deque(maxlen=LOOKBACK_LINES)
        self._pattern: re.Pattern[str] | None = None
        self._matched = threading.Event()
        self._thread: threading.Thread | None = None
        self.idle = False  # an empty stdin: no script, nothing to observe

    def start(self) -> None:
        # A daemon: a thread blocked in readline() cannot be interrupted.
        self._thread = threading.Thread(target=self._run, name="espmon-script", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._alive.clear()

    def observe_line(self, line: str) -> None:
        """Every device line (plain text), from the thread that runs the engine."""
        if self.idle:
            return
        with self._lock:
            pattern = self._pattern
            if pattern is not None and pattern.search(line):
                self._pattern = None
                self._matched.set()
            elif pattern is None:
                self._seen.append(line)

    # -- the script thread ------------------------------------------------------------
    def _run(self) -> None:
        read_any = False
        while self._alive.is_set():
            line = self._source.readline()
            if not line:
                if read_any:
                    self._say("EOF on standard input: exiting")
                    self._stop(0)
                else:
                    self._say("no commands on standard input: watching the port only")
                    self.idle = True
                return
            read_any = True
            if not self._handle(line.rstrip("\r\n")):
                return

    def _handle(self, line: str) -> bool:
        if not line.strip() or line.lstrip().startswith("#"):
            return True
        self._say(f"Command: {line!r}")
        name, _, arg = line.partition(" ")
        name = name.lower()
        if name == "send":
            self._command("send", arg)
        elif name == "sleep":
            try:
                seconds = float(arg)
            except ValueError:
                self._say(f"invalid sleep duration {arg!r}: skipped")
                return True
            self._sleep(seconds)
        elif name == "expect":
            return self._expect_command(arg)
        elif name == "exit":
            self._stop(0)
            return False
        elif name in _SIMPLE:
            self._command(name, arg)
        elif name in _FLASH:
            self._command(_FLASH[name], arg)
        else:
            self._say(f"unknown command {line!r}: skipped")
        return True

    def _expect_command(self, arg: str) -> bool:
        timeout: float | None = None
        regex = arg
        if arg.startswith("--timeout"):
            parts = arg.split(None, 2)
            if len(parts) < 3 or not parts[2].strip():
                return self._fail("'expect --timeout' needs <seconds> and then a <regex>")
            try:
                timeout = float(parts[1])
            except ValueError:
                return self._fail(f"invalid expect timeout {parts[1]!r} (a number of seconds > 0)")
            if not math.isfinite(timeout) or timeout <= 0:
                return self._fail(f"invalid expect timeout {parts[1]!r} (a finite number > 0)")
            regex = parts[2]
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            return self._fail(f"invalid expect pattern {regex!r}: {exc}")
        if self._expect(pattern, timeout):
            return True
        self._say(f"expect {pattern.pattern!r} timed out after {timeout:g} s: exiting")
        self._stop(EXIT_EXPECT_TIMEOUT)
        return False

    def _fail(self, message: str) -> bool:
        self._say(f"{message}: exiting")
        self._stop(EXIT_SCRIPT_ERROR)
        return False

    def _expect(self, pattern: re.Pattern[str], timeout: float | None) -> bool:
        with self._lock:
            self._matched.clear()
            seen = list(self._seen)
            self._seen.clear()
            hit = next((i for i, line in enumerate(seen) if pattern.search(line)), None)
            if hit is not None:
                self._seen.extend(seen[hit + 1 :])
                self._matched.set()
            else:
                self._pattern = pattern
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self._alive.is_set() and not self._matched.wait(_POLL):
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            with self._lock:
                self._pattern = None
        if self._matched.is_set():
            self._say(f"expect {pattern.pattern!r} matched")
            return True
        return deadline is None or time.monotonic() < deadline

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._alive.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(_POLL, left))
