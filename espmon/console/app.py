"""The full-screen console: builds the prompt_toolkit Application and wires it to the session.

Data path: the session's reader thread calls ``_from_reader`` for each chunk, which only
appends to an inbox and, if the loop is not already due to look at it, wakes the loop with
``loop.call_soon_threadsafe``. The drain (on the event loop) feeds the engine and appends
the records to the scrollback. While data keeps coming, the loop looks again every
``DRAIN_INTERVAL`` on a timer instead of being woken for each chunk (a UART at 115200 baud
gives ~200 small chunks a second); the first chunk after a quiet spell is taken at once.
Redraws for data come at most every ``DATA_REDRAW`` (keys redraw at once). A partial last
line is shown after 100 ms without data by one re-armed timer. The UI never blocks on the
port: writes and resets go to the session's control thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import shutil
import signal
import sys
import time
from typing import Any

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import InMemoryHistory

from espmon.console.application import ConsoleApplication
from espmon.console.bindings import build_key_bindings
from espmon.console.commands import lookup
from espmon.console.exit_tail import exit_tail
from espmon.console.keys import KeyMap, control_char, describe, load_keymap
from espmon.console.layout import build_layout
from espmon.console.output_control import OutputControl
from espmon.console.scrollback import Scrollback
from espmon.console.style import build_style
from espmon.console.view import View
from espmon.logfile import SessionLog, default_log_name
from espmon.monitor import records as R
from espmon.monitor.engine import MonitorEngine
from espmon.monitor.settings import MonitorSettings, Stamper

__all__ = ["Console", "run_console", "IDLE_FLUSH"]

IDLE_FLUSH = 0.1
_STATUS_PROBE = b"\x1b[5n"
DATA_REDRAW = 0.2  # seconds between redraws caused by incoming data
# while data streams, the inbox is taken this often: as often as data is drawn (a slow stream
# woke the loop 20 times a second for 5 frames; item 15 of issue 8)
DRAIN_INTERVAL = DATA_REDRAW
_FAST_DRAIN = 16 << 10  # a drain this big means a fast stream: look again at once (less in memory)
# Under overload (device output as fast as we can process it) one drain must not run until
# the inbox is empty: the reader refills it as fast as it is taken, and keys waited seconds.
# A drain stops after DRAIN_SLICE seconds of work; the loop handles keys, then the next one.
DRAIN_SLICE = 0.02
# Bytes the reader may hand over ahead of the drain (then it waits, the data stays in the OS
# buffers): what exit must still process to put it in the scrollback and the text log.
CONSOLE_BACKLOG = 1 << 20
_LOOP_LOOKBACK = 30.0  # seconds back from a boot-loop alert to look for its first crash


class Console:
    def __init__(self, session: Any, engine: MonitorEngine, settings: MonitorSettings,
                 keymap: KeyMap | None = None, **app_kwargs: Any) -> None:
        self.session = session
        self.engine = engine
        self.settings = settings
        self.keymap = keymap or load_keymap(None)
        self.store = Scrollback(settings.scrollback)
        self.view = View(self.store)
        self.raw_mode = False
        self.prompt_open = False
        self.echo = False
        self.show_output = True
        self.timestamps = settings.timestamps
        self.freeze_on_crash = settings.freeze_on_crash
        self.mouse = False
        self.help_visible = False
        self.help_scroll = 0  # first row of the help shown
        self.flash_set: Any = None  # what ':flash' writes with no files (espmon flash --monitor's set)
        self.flash_jobs: Any = None  # espmon.flash.jobs.FlashJobs, made on the first loader command
        self.capture: Any = None  # espmon.capture.writer.CaptureWriter while `:capture on`
        self.progress: tuple[str, int] | None = None  # a loader job's (what, percent), in the status bar
        self.question: tuple[str, Any] | None = None  # a y/N question and what a "y" does
        self.status_message: tuple[str, bool, float] = ("", False, 0.0)
        self.output_window: Any = None
        self.input_window: Any = None
        self._inbox: collections.deque[tuple[bytes, float]] = collections.deque()
        self._bytes_in = 0  # written by the reader thread only
        self._bytes_done = 0  # written by the event loop only
        self._scheduled = False  # the loop will look at the inbox (woken, or on the drain timer)
        self._drain_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads_stopped = False
        self._last_data = 0.0
        self._idle_handle: asyncio.TimerHandle | None = None
        self._partial_visible = False
        self._loops_seen = 0
        self._probe_answered = False
        self._last_redraw = 0.0
        self._redraw_handle: asyncio.TimerHandle | None = None
        engine.baud_of = lambda: getattr(session, "baud", None)
        engine.baud_switch = (f"{describe((self.keymap.menu, 'b'))} then {{baud}} Enter, or :baud {{baud}}")
        self.input = Buffer(multiline=False, history=InMemoryHistory(), accept_handler=self._accept)
        self._stamp = Stamper(settings.timestamp_format)
        self.output_control = OutputControl(
            self.store, self.view, partial=self._partial, timestamp=self._stamp,
            show_timestamps=lambda: self.timestamps, on_scroll=self.view.scroll,
        )
        self.app = ConsoleApplication(
            menu_key=self.keymap.menu,
            layout=build_layout(self),
            key_bindings=build_key_bindings(self),
            style=build_style(),
            full_screen=True,
            mouse_support=Condition(lambda: self.mouse),
            **app_kwargs,
        )

    # -- life cycle ---------------------------------------------------------------------
    def run(self) -> int:
        code = asyncio.run(self.run_async())  # what Application.run does, with our coroutine
        self.print_tail()
        return code

    def print_tail(self) -> None:
        """The terminal is back to normal: leave the session's last screenful (and the last
        crash) on it, as a plain monitor would have."""
        text = exit_tail(self.store, shutil.get_terminal_size().lines - 2)
        if text:
            out = sys.stdout
            out.buffer.write(text.encode(out.encoding or "utf-8", "replace"))
            out.flush()

    async def run_async(self) -> int:
        self.session.on_data = self._from_reader
        self.session.on_event = self._event_from_thread
        self._watch_log(self.engine.log)
        self.session.backlog = lambda: self._bytes_in - self._bytes_done
        self.session.max_backlog = min(getattr(self.session, "max_backlog", CONSOLE_BACKLOG), CONSOLE_BACKLOG)
        try:
            return await self.app.run_async(pre_run=self._started) or 0
        finally:
            # while the loop still runs: a reader thread calling call_soon_threadsafe on a
            # closed loop died with "RuntimeError: Event loop is closed" on exit
            self._stop_threads()
            if self.capture is not None:
                from espmon.console.capture_actions import stop_capture

                stop_capture(self, "the console exited")

    def _started(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                # leave like Ctrl+]: the terminal is restored and the log closed
                self._loop.add_signal_handler(sig, self.exit)
        exit_keys = describe(self.exit_keys())
        self.note(f"espmon monitor on {self.session.url} at {self.session.baud} baud; {exit_keys} or "
                  f"{describe((self.keymap.menu, 'x'))} exits, {describe((self.keymap.menu, 'c-h'))} shows the keys")
        if getattr(self.session, "modem_lines", None) is False:
            self.note(f"{self.session.url} has no DTR/RTS lines: espmon cannot reset the chip "
                      "(use the board's EN/RST button)")
        start = self.engine.start_records(time.time())  # the print filter, a wrong --elf: said now
        if start:
            self.store.extend(start, time.time())
        if self.settings.reset:
            self.engine.host_reset(time.time())
        self.session.start(reset=self.settings.reset)

    def exit(self) -> None:
        if self.app.is_done or self.app.future is None or self.app.future.done():
            return
        self._stop_threads()  # first: what the reader took after this is still shown and logged
        self.flush_end()
        self.app.exit(result=0)

    def _stop_threads(self) -> None:
        """Stop the session's reader and control threads (they call into the loop)."""
        if not self._threads_stopped:
            self._threads_stopped = True
            self.session.stop()

    def flush_end(self) -> None:
        """Process what is still in the inbox and the partial line (on exit)."""
        self._drain(slice_=None)
        records = self.engine.end(time.time())
        if records:
            self.store.extend(records, time.time())

    # -- data from the reader thread ----------------------------------------------------
    def _from_reader(self, data: bytes, t: float) -> None:
        self._bytes_in += len(data)
        self._inbox.append((data, t))
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._call_soon(self._pump)

    def _call_soon(self, fn: Any, *args: Any) -> None:
        """From a thread. Should the loop be gone already (the session did not stop in time),
        the data is in the raw log and the inbox; nothing is left to draw it."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(fn, *args)  # type: ignore[union-attr]

    def _pump(self) -> None:
        """Take the inbox; while there was data, look again on a timer (the reader does not
        wake the loop meanwhile). When the timer finds nothing, the next chunk wakes us."""
        taken = self._drain()
        if taken:
            if self._drain_handle is None and self._loop is not None:
                # more waiting (the slice ran out) or a fast stream: look again once the loop
                # has handled what else is ready (keys first: asyncio runs readers before timers)
                wait = 0.0 if taken >= _FAST_DRAIN or self._inbox else DRAIN_INTERVAL
                self._drain_handle = self._loop.call_later(wait, self._drain_tick)
            return
        if self._drain_handle is None:
            self._scheduled = False
            if self._inbox:  # appended while the flag was still set: nobody woke us for it
                self._scheduled = True
                self._pump()

    def _drain_tick(self) -> None:
        self._drain_handle = None
        self._pump()

    def _drain(self, slice_: float | None = DRAIN_SLICE) -> int:
        """Feed what is in the inbox to the engine and the scrollback, for at most ``slice_``
        seconds (None: all of it); the bytes taken."""
        inbox, feed, store = self._inbox, self.engine.feed, self.store
        got = 0
        until = None if slice_ is None else time.monotonic() + slice_
        while inbox:
            if until is not None and got and time.monotonic() > until:
                break
            data, t = inbox.popleft()
            self._bytes_done += len(data)
            got += len(data)
            if _STATUS_PROBE in data:
                self._answer_probe()
            records = feed(data, t)
            if records and self.show_output:
                store.extend(records, t)
            elif records:
                # hidden output (Ctrl+Y): the session's alerts and notes still show, a line's
                # explanations (a crash's too) go with it
                store.extend([r for r in records if r[:1] in (R.ALERT, R.NOTE)], t)
        if not got:
            return 0
        if not self.engine.has_partial:
            self._partial_visible = False
        self._last_data = time.monotonic()
        if self.engine.boot_loops != self._loops_seen:
            self._loops_seen = self.engine.boot_loops
            if self.freeze_on_crash and not self.view.paused:
                self._freeze()
        self._arm_idle()
        self._redraw_soon()
        return got

    def _redraw_soon(self) -> None:
        """Data-driven redraws at most every DATA_REDRAW seconds; the first data after a
        quiet spell is drawn at once, and keys always redraw at once. A redraw while output
        scrolls costs ~1 ms (see OutputWindow); the cap keeps a fast stream from spending
        its time on frames nobody can read."""
        if self._redraw_handle is not None:
            return
        wait = self._last_redraw + DATA_REDRAW - time.monotonic()
        if wait <= 0:
            self._last_redraw = time.monotonic()
            self.app.invalidate()
            return
        self._redraw_handle = self._loop.call_later(wait, self._timed_redraw)  # type: ignore[union-attr]

    def _timed_redraw(self) -> None:
        self._redraw_handle = None
        # take what came since the last drain, so the frame shows it too (output is then
        # at most DATA_REDRAW old on screen, not DATA_REDRAW + DRAIN_INTERVAL)
        if not self._drain():
            self._last_redraw = time.monotonic()
            self.app.invalidate()

    def _answer_probe(self) -> None:
        """ESP-IDF's console (linenoise) asks "are you a terminal?" with ESC[5n; a terminal
        answers ESC[0n and line editing works. We answer for the terminal we stand in for."""
        self.session.write(b"\x1b[0n")
        if not self._probe_answered:
            self._probe_answered = True
            self.note("answered the device's terminal probe (ESC[5n): its line editing is on; "
                      f"{describe((self.keymap.menu, 'k'))} sends keys one by one")

    def _freeze(self) -> None:
        since = self.store.time_of(self.store.total - 1) - _LOOP_LOOKBACK
        first = self.store.find_kind(R.CRASH, since, self.store.total)
        if first is None:
            first = self.store.find_kind(R.RESET, since, self.store.total)
        if first is not None:
            self.view.show_from(max(self.store.first, first - 3), "frozen on the first crash of the boot loop")
        else:
            self.view.pause("boot loop: frozen")

    def _arm_idle(self) -> None:
        if self._idle_handle is None and self._loop is not None and self.engine.has_partial:
            self._idle_handle = self._loop.call_later(IDLE_FLUSH, self._idle)

    def _idle(self) -> None:
        self._idle_handle = None
        if not self.engine.has_partial:
            return
        wait = self._last_data + IDLE_FLUSH - time.monotonic()
        if self._inbox:  # data came but is not drained yet (a slow stream is taken every DRAIN_INTERVAL)
            wait = max(wait, IDLE_FLUSH)
        if wait > 0.005:
            self._idle_handle = self._loop.call_later(wait, self._idle)  # type: ignore[union-attr]
            return
        records = self.engine.idle(time.time())  # a garbage run (wrong baud) ends as a line, hinted
        if records:
            self.store.extend(records, time.time())
        self._partial_visible = self.engine.has_partial
        self.app.invalidate()

    def _partial(self) -> str:
        return self.engine.partial_text() if self._partial_visible and self.show_output else ""

    def _watch_log(self, log: Any) -> None:
        """A log that cannot be written (a full disk) is said once, from whichever thread found it."""
        if log is not None:
            log.on_failure = lambda text: self._event_from_thread("error", text)

    def _event_from_thread(self, kind: str, text: str) -> None:
        if self._loop is not None:
            self._call_soon(self._event, kind, text)

    def _event(self, kind: str, text: str) -> None:
        self.note(text)
        if kind == "error":
            self.message(text, error=True)
        elif kind in ("disconnected", "connected"):
            self.message(text)

    # -- output helpers -----------------------------------------------------------------
    def note(self, text: str) -> None:
        self.store.extend([R.NOTE + text], time.time())
        if self.engine.log is not None:
            self.engine.log.note(text)
        self.app.invalidate()

    def set_progress(self, progress: tuple[str, int] | None) -> None:
        self.progress = progress
        self.app.invalidate()

    def ask(self, question: str, action: Any) -> None:
        """A y/N question in the status bar: the next key answers it (anything but y is no)."""
        self.question = (question, action)
        self.app.invalidate()

    def answer(self, key: str) -> None:
        question, action = self.question or ("", None)
        self.question = None
        if key in ("y", "Y") and action is not None:
            action()
        else:
            self.message("not done: " + question.rstrip("?"))
        self.app.invalidate()

    def message(self, text: str, error: bool = False, seconds: float = 6.0) -> None:
        self.status_message = (text, error, time.monotonic() + seconds)
        self.app.invalidate()
        if self._loop is not None:  # redraw once more when it expires
            self._loop.call_later(seconds + 0.05, self.app.invalidate)

    def menu_key_text(self, key: str) -> str:
        """How the user types menu key + ``key`` ("Ctrl+T Ctrl+Y"), with the keys as mapped."""
        return describe((self.keymap.menu, key))

    def menu_pending(self) -> bool:
        return self.app.menu_pending()

    def exit_keys(self) -> tuple[str, ...]:
        seqs = self.keymap.bindings.get("exit") or [(self.keymap.menu, "x")]
        return seqs[0]

    def prompt_text(self) -> str:
        return ":" if self.prompt_open else "> "

    def raw_hint(self) -> str:
        return (f"raw keys: every key goes to the device ({describe((self.keymap.menu, 'k'))} line input, "
                f"{describe((self.keymap.menu, ':'))} a :command)")

    # -- sending ------------------------------------------------------------------------
    def send_line(self, text: str) -> None:
        self.session.write(text.encode(self.settings.encoding, "replace") + self.settings.eol_bytes)
        if self.engine.log is not None:  # the text log has both sides of the conversation
            self.engine.log.write_lines([R.plain_text(R.SENT + text)])
        if self.echo:
            self.store.extend([R.SENT + text], time.time())

    def send_raw(self, text: str) -> None:
        if text:
            self.send_raw_bytes(text.encode(self.settings.encoding, "replace"))

    def send_raw_bytes(self, data: bytes) -> None:
        self.session.write(data)

    def send_key(self, key: str) -> None:
        ch = control_char(key)
        if ch is not None:
            self.send_raw(ch)

    # -- input line and commands --------------------------------------------------------
    def _accept(self, buffer: Buffer) -> bool:
        text = buffer.text
        if self.prompt_open:
            self.close_prompt()
            self.run_line_command(text)
        elif text.startswith("::"):
            self.send_line(text[1:])
        elif text.startswith(":"):
            self.run_line_command(text[1:])
        else:
            self.send_line(text)
        return False

    def run_line_command(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        if line.startswith("/"):
            self.run_command("search", line[1:])
            return
        name, _, arg = line.partition(" ")
        self.run_command(name, arg.strip())

    def run_command(self, name: str, arg: str = "") -> None:
        cmd = lookup(name)
        if cmd is None:
            self.message(f":{name}: unknown command (:help lists them)", error=True)
            return
        cmd.handler(self, arg)
        self.app.invalidate()

    def open_prompt(self, prefill: str) -> None:
        """Open the ``:`` command line (also in raw mode) with some text typed."""
        if self.raw_mode:
            self.prompt_open = True
            self.input.text = prefill
        else:
            self.input.text = ":" + prefill
        self.input.cursor_position = len(self.input.text)
        self.app.layout.focus(self.input_window)

    def close_prompt(self) -> None:
        self.prompt_open = False
        self.input.reset()
        if self.raw_mode:
            self.app.layout.focus(self.output_window)

    def set_raw_mode(self, raw: bool) -> None:
        self.raw_mode = raw
        self.prompt_open = False
        self.app.layout.focus(self.output_window if raw else self.input_window)
        self.message("raw keys: each key is sent" if raw else "line input: Enter sends the line")

    def toggle_log(self, path: str | None) -> None:
        log = self.engine.log
        if log is not None and path is None:
            self.note(f"log closed: {log.raw_path} and {log.text_path}")
            self.engine.log = None
            self.session.log = None
            log.close()
            return
        if log is not None:
            log.close()
        name = path or self.settings.log_path or default_log_name()
        try:
            new = SessionLog(name)
        except OSError as exc:
            self.message(f"log: cannot write {name}: {exc.strerror or exc}", error=True)
            return
        self._watch_log(new)
        self.engine.log = new
        self.session.log = new
        self.note(f"logging to {new.raw_path} (raw bytes) and {new.text_path} (text)")


def run_console(session: Any, engine: MonitorEngine, settings: MonitorSettings, keymap: KeyMap | None,
                flash_set: Any = None) -> int:
    console = Console(session, engine, settings, keymap)
    console.flash_set = flash_set
    return console.run()
