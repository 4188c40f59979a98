"""Plain streaming monitor: used when stdout is not a terminal (pipes, CI, files).

Same engine and annotations as the console, no prompt_toolkit. The reader thread puts
chunks on a queue; this thread turns them into text and writes it (one write and flush
per batch). A partial last line is printed after 100 ms without data and completed when
its newline arrives. With a non-TTY stdin, commands are read from it (``script``).
"""

from __future__ import annotations

import contextlib
import queue
import select
import signal
import sys
import time
from typing import Any, BinaryIO, TextIO

from espmon.monitor import records as R
from espmon.monitor.engine import MonitorEngine
from espmon.monitor.sanitize import strip_sgr
from espmon.monitor.script import ScriptRunner
from espmon.monitor.settings import MonitorSettings, Stamper

__all__ = ["PlainMonitor", "IDLE_FLUSH"]

IDLE_FLUSH = 0.1  # seconds without data before a partial line is shown
BATCH = 1 << 16  # bytes processed as one block when the stream is faster than us (64 KiB: cache-sized)


class _Stop(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class PlainMonitor:
    def __init__(
        self,
        session: Any,
        engine: MonitorEngine,
        settings: MonitorSettings,
        *,
        out: BinaryIO,
        err: TextIO,
        script_source: TextIO | None = None,
        color: bool = False,
        flash_set: Any = None,
    ) -> None:
        self.session = session
        self.engine = engine
        self.settings = settings
        self.out = out
        self.err = err
        self.color = color
        self.show_output = True
        self.timestamps = settings.timestamps
        self._stamp = Stamper(settings.timestamp_format)
        self._queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._printed_partial = ""
        self._terminating = False
        # bytes handed over / processed: each counter written by one thread only
        self._bytes_in = 0
        self._bytes_done = 0
        engine.keep_sgr = color
        self.flash_set = flash_set  # what `flash` in a script writes (espmon flash --monitor's set)
        self._jobs: Any = None
        engine.baud_of = lambda: getattr(session, "baud", settings.baud)
        self.script: ScriptRunner | None = None
        if script_source is not None:
            self.script = ScriptRunner(script_source, self._script_command, self._script_stop, self.say)
            engine.line_observer = self.script.observe_line

    # -- callbacks from other threads -------------------------------------------------
    def _on_data(self, data: bytes, t: float) -> None:
        self._bytes_in += len(data)
        self._queue.put(("data", data, t))

    def _on_event(self, kind: str, text: str) -> None:
        self._queue.put(("event", kind, text))

    def _script_command(self, name: str, arg: str) -> None:
        self._queue.put(("cmd", name, arg))

    def _script_stop(self, code: int) -> None:
        self._queue.put(("stop", code))

    def say(self, text: str) -> None:
        """espmon's own remarks go to stderr, so stdout carries only the device's story."""
        # One write with its newline: when stderr and stdout share a pipe (2>&1), the device
        # text written from another thread must not land between the note and its newline.
        self.err.write(f"--- {text}\n")
        self.err.flush()

    # -- main loop --------------------------------------------------------------------
    def run(self) -> int:
        self.session.on_data = self._on_data
        self.session.on_event = self._on_event
        if self.engine.log is not None:  # a log that cannot be written (a full disk) is said once
            self.engine.log.on_failure = lambda text: self._on_event("error", text)
        self.session.backlog = lambda: self._bytes_in - self._bytes_done
        previous = signal.getsignal(signal.SIGTERM)
        with contextlib.suppress(ValueError):  # not the main thread (tests)
            signal.signal(signal.SIGTERM, self._sigterm)
        code = 0
        try:
            if self.settings.reset:
                self.engine.host_reset(time.time())
            self.session.start(reset=self.settings.reset)
            if self.script is not None:
                self.script.start()
            code = self._loop()
        except KeyboardInterrupt:
            code = 0
        finally:
            if self.script is not None:
                self.script.cancel()
            self.session.stop()
            self._drain_pending()
            self._emit(self.engine.end(time.time()), time.time())
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, previous)
        return code

    def _sigterm(self, signum: int, frame: Any) -> None:
        # Stop after what is queued (a KeyboardInterrupt raised inside _handle dropped the
        # chunk in hand: in the raw log, never printed). SimpleQueue.put is reentrant, safe in
        # a signal handler. A second SIGTERM stops at once (stdout may be blocked).
        if self._terminating:
            raise KeyboardInterrupt
        self._terminating = True
        self._queue.put(("stop", 0))

    def _loop(self) -> int:
        get = self._queue.get
        while True:
            try:
                item = get(timeout=IDLE_FLUSH if self.engine.has_partial else None)
            except queue.Empty:
                self._show_partial()
                continue
            try:
                if item[0] == "data" and not self._queue.empty():
                    item = self._gather(item)
                self._handle(item)
                while not self._queue.empty():
                    self._handle(get())
            except _Stop as stop:
                return stop.code

    def _gather(self, item: tuple[Any, ...]) -> tuple[Any, ...]:
        """A fast stream: join the data chunks already queued (up to BATCH bytes) into one."""
        chunks, size, t = [item[1]], len(item[1]), item[2]
        while size < BATCH and not self._queue.empty():
            nxt = self._queue.get()
            if nxt[0] != "data":
                self._handle(("data", b"".join(chunks), t))
                return nxt
            chunks.append(nxt[1])
            size += len(nxt[1])
            t = nxt[2]
        return ("data", b"".join(chunks), t)

    def _drain_pending(self) -> None:
        while not self._queue.empty():
            item = self._queue.get()
            if item[0] == "data":
                self._handle(item)

    def _handle(self, item: tuple[Any, ...]) -> None:
        tag = item[0]
        if tag == "data":
            self._bytes_done += len(item[1])
            if self.engine.streams_text:  # the common case: whole blocks of text, no records
                self._emit_text(self.engine.feed_text(item[1], item[2]), item[2])
            else:
                self._emit(self.engine.feed(item[1], item[2]), item[2])
        elif tag == "event":
            kind, text = item[1], item[2]
            self.say(text)
            log = self.engine.log
            if log is not None:
                log.note(text)
        elif tag == "cmd":
            self._command(item[1], item[2])
        elif tag == "stop":
            raise _Stop(item[1])

    def _command(self, name: str, arg: str) -> None:
        if name == "send":
            self.session.write(arg.encode(self.settings.encoding, "replace") + self.settings.eol_bytes)
            if self.engine.log is not None:
                self.engine.log.write_lines([R.plain_text(R.SENT + arg)])
        elif name == "reset":
            self.engine.host_reset(time.time())
            self.session.reset()
        elif name == "bootloader":
            self.engine.host_reset(time.time())
            self.session.bootloader()
        elif name == "output":
            self.show_output = not self.show_output
        elif name == "timestamps":
            self.timestamps = not self.timestamps
        elif name == "log":
            self.say("'log' toggling is only available with --log FILE given at start (the log always records)")
        elif name in ("flash", "flash-app"):
            self._flash(name)

    def _flash(self, name: str) -> None:
        """``flash`` / ``flash-app`` from a script: a loader job on the same port, off this thread."""
        if self.flash_set is None:
            self.say(f"'{name}': nothing to flash here (start with espmon flash --project BUILD --monitor): skipped")
            return
        from espmon.errors import UserError
        from espmon.flash.esptool_log import LineReport
        from espmon.flash.jobs import FlashJobs

        if self._jobs is None:
            self._jobs = FlashJobs(self.session, LineReport(self.err),
                                   before_reset=lambda: self.engine.host_reset(time.time()))
        try:
            flash_set = self.flash_set.app_only() if name == "flash-app" else self.flash_set
        except UserError as exc:
            self.say(f"'{name}': {exc}: skipped")
            return
        self._jobs.flash(flash_set)

    # -- output -----------------------------------------------------------------------
    def _emit(self, records: list[str], t: float) -> None:
        if not records or not self.show_output:
            return
        lines = list(map(R.plain_text, records))  # device lines come without colours unless --color
        if self.timestamps:
            stamp = self._stamp(t) + " "
            lines = [stamp + line for line in lines]
        head = ""
        if self._printed_partial:
            shown = self._printed_partial
            self._printed_partial = ""
            first = records[0]
            if R.kind(first) == R.DEVICE and strip_sgr(first).startswith(shown) and not self.timestamps:
                lines[0] = strip_sgr(lines[0])[len(shown):]
            else:
                head = "\n"
        self._write(head + "\n".join(lines) + "\n")

    def _emit_text(self, text: str, t: float) -> None:
        """``_emit`` for the engine's text form (its first line is always a device line)."""
        if not text or not self.show_output:
            return
        head = ""
        if self._printed_partial:
            shown = self._printed_partial
            self._printed_partial = ""
            nl = text.find("\n")
            first = strip_sgr(text[:nl])
            if first.startswith(shown) and not self.timestamps:
                text = first[len(shown):] + text[nl:]
            else:
                head = "\n"
        if self.timestamps:
            stamp = self._stamp(t) + " "
            text = stamp + text[:-1].replace("\n", "\n" + stamp) + "\n"
        self._write(head + text)

    def _show_partial(self) -> None:
        records = self.engine.idle(time.time())  # a garbage run (wrong baud) ends as a line, hinted
        if records:
            self._emit(records, time.time())
            return
        if not self.show_output:
            return
        partial = self.engine.partial_text()
        plain = strip_sgr(partial)
        if not plain.startswith(self._printed_partial) or plain == self._printed_partial:
            return
        new = plain[len(self._printed_partial):]
        if not self._printed_partial and self.timestamps:
            new = self._stamp(time.time()) + " " + new
        self._printed_partial = plain
        self._write(new)

    def _write(self, text: str) -> None:
        data = text.encode("utf-8", "backslashreplace")
        out = self.out
        try:
            # with python -u (PYTHONUNBUFFERED) stdout.buffer is a raw FileIO: one write() call,
            # which a signal (SIGWINCH, a debugger) can cut short; never drop the rest
            view = memoryview(data)
            while view:
                n = out.write(view)
                if n is None:  # a non-blocking stdout that is full
                    select.select([], [out], [], 0.1)
                    continue
                view = view[n:]
            out.flush()
        except BrokenPipeError:
            raise KeyboardInterrupt from None
