"""Loader jobs for a running monitor session: ``:flash``, ``:read``, ``:chip`` ... in the console.

A job runs on its own thread (the UI stays responsive), borrows the session's open port
with ``Session.hold()`` (its reader and control threads park, so nothing else reads what
esptool expects), runs the loader, and gives the port back after the chip's reset: the
reader then reads the new boot log from the same port. One job at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from espmon.errors import UserError
from espmon.flash.engine import FlashError, Loader, LoaderOptions, loader_on
from espmon.flash.esptool_log import Report
from espmon.flash.flash_set import FlashSet
from espmon.port.proxy import TeeTap

__all__ = ["FlashJobs"]


class FlashJobs:
    def __init__(self, session: Any, report: Report, *, before_reset: Callable[[], None] = lambda: None,
                 options: LoaderOptions = LoaderOptions(baud=460800)) -> None:
        self.session = session
        self.report = report
        self.options = options
        self.before_reset = before_reset  # marks the new boot in the monitor before its bytes come
        self.flash_set: FlashSet | None = None  # the last set written: ':flash' with no files
        self.tap: Any = None  # sees the loader's traffic (`:trace on`); the session's capture sees it too
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, title: str, job: Callable[[Loader], None], *,
              after: str = "hard-reset") -> threading.Thread | None:
        """Run ``job`` on its own thread; ``after`` is esptool's reset when it is done."""
        if self.busy:
            self.report.message("error", f"{title}: the loader is busy with another job")
            return None
        thread = threading.Thread(target=self._run, args=(title, job, after), name="espmon-flash", daemon=True)
        self._thread = thread
        thread.start()
        return thread

    def flash(self, flash_set: FlashSet | None = None, *, skip_unchanged: bool = False) -> threading.Thread | None:
        flash_set = flash_set or self.flash_set
        if flash_set is None:
            self.report.message("error", "flash: nothing to flash yet (give ADDR FILE pairs)")
            return None
        try:
            pairs = [(f.offset, f.read()) for f in flash_set.files]
        except UserError as exc:
            self.report.message("error", str(exc))
            return None
        self.flash_set = flash_set

        # what the set says, as `espmon flash` does it: encrypted entries written encrypted
        encrypted = [(f.offset, data) for f, (_, data) in zip(flash_set.files, pairs) if f.encrypted]
        plain = [(f.offset, data) for f, (_, data) in zip(flash_set.files, pairs) if not f.encrypted]

        def write(loader: Loader) -> None:
            loader.write(plain, flash_mode=flash_set.flash_mode, flash_size=flash_set.flash_size,
                         flash_freq=flash_set.flash_freq, skip_unchanged=skip_unchanged,
                         encrypt_files=encrypted or None)

        after = (flash_set.after or "hard-reset").replace("_", "-")
        return self.start("flash", write, after=after)

    def _run(self, title: str, job: Callable[[Loader], None], after: str) -> None:
        self.report.message("note", f"{title}: the monitor hands the port to the loader")
        try:
            taps = [t for t in (self.tap, getattr(self.session, "tap", None)) if t is not None]
            tap = TeeTap(*taps) if len(taps) > 1 else (taps[0] if taps else None)
            report = _Recorded(self.report, tap) if tap is not None else self.report
            with self.session.hold() as port:
                self.before_reset()
                _mode(tap, "loader")
                try:
                    with loader_on(port, report, self.options, usb_jtag=self.session.usb_jtag,
                                   after=after, tap=tap) as loader:
                        job(loader)
                finally:
                    _mode(tap, "monitor")
        except FlashError as exc:
            self.report.message("error", str(exc))
            for line in exc.advice_lines():
                self.report.message("note", line)
            return
        except UserError as exc:
            self.report.message("error", str(exc))
            return
        if after in ("no-reset", "no-reset-stub"):
            self.report.message("note", f"{title}: done; the chip was not reset (--after {after})")
        else:
            self.report.message("note", f"{title}: done; the chip was reset on the same port")


def _mode(tap: Any, mode: str) -> None:
    """Tell a capture who holds the port (its decoder reads loader traffic as frames)."""
    mark = getattr(tap, "mode", None)
    if mark is not None:
        mark(mode)


class _Recorded:
    """A job's report that also puts esptool's words into the capture."""

    def __init__(self, report: Report, tap: Any) -> None:
        self.report = report
        self.tap = tap

    def message(self, level: str, text: str) -> None:
        record = getattr(self.tap, "message", None)
        if record is not None:
            record(level, text)
        self.report.message(level, text)

    def progress(self, done: int, total: int, what: str) -> None:
        self.report.progress(done, total, what)
