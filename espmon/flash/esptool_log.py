"""esptool's messages and progress, routed to an espmon report instead of stdout.

esptool 5 prints through one process-global logger (``esp_pylib.logger.EspLog.instance``);
:func:`routed_to` installs a bridge for the length of one loader job and puts the previous
logger back, so espmon's own output and esptool's never interleave on the terminal.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any, Protocol, TextIO

from esp_pylib.logger import EspLog, EspLogBase

__all__ = ["Report", "LineReport", "EsptoolBridge", "routed_to"]

# esptool's messages carry rich markup ("[bold]...[/bold]"); the bridge shows plain text
_MARKUP = re.compile(r"\[/?(?:bold|dim|italic|red|green|yellow|blue|cyan|magenta|white|link[^\]]*)\]")


class Report(Protocol):
    """Where a loader job's words go: the console, a terminal line, a pipe, a test."""

    def message(self, level: str, text: str) -> None:
        """level: ``info`` (esptool's print), ``note``, ``warning``, ``error``."""

    def progress(self, done: int, total: int, what: str) -> None:
        """``what``: esptool's own description (``Writing at 0x00010000``)."""


class LineReport:
    """esptool's words and progress as espmon lines: a bar rewritten in place on a terminal,
    a percentage line per tenth when piped."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._shown = -1
        self._bar = False

    def message(self, level: str, text: str) -> None:
        self._end_bar()
        prefix = {"warning": "warning: ", "error": "error: "}.get(level, "")
        self.out.write(f"--- {prefix}{text}\n")
        self.out.flush()

    def progress(self, done: int, total: int, what: str) -> None:
        percent = 100 * done // total if total else 100
        if self.tty:
            filled = percent * 30 // 100
            self.out.write(f"\r--- {what} [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%")
            self._bar = True
            if done >= total:
                self._end_bar()
        else:
            tenth = percent // 10
            if tenth != self._shown:
                self._shown = tenth
                self.out.write(f"--- {what} {percent}%\n")
        if done >= total:
            self._shown = -1
        self.out.flush()

    def _end_bar(self) -> None:
        if self._bar:
            self.out.write("\n")
            self._bar = False


def _text(args: tuple[Any, ...]) -> str:
    return _MARKUP.sub("", " ".join(str(a) for a in args))


class EsptoolBridge(EspLogBase):
    """An esptool logger that hands each finished line to a :class:`Report`."""

    def __init__(self, report: Report, hide: tuple[str, ...] = ()) -> None:
        self.report = report
        self.hide = hide  # message beginnings that would only mislead here
        self._partial = ""  # "Connecting...." is printed a dot at a time (end="")

    def print(self, *args: Any, **kwargs: Any) -> None:
        text = self._partial + _text(args) + kwargs.get("end", "\n")
        *lines, self._partial = text.split("\n")
        for line in lines:
            if line.strip() and not line.startswith(self.hide):
                self.report.message("info", line.rstrip())

    def flush(self) -> None:
        if self._partial.strip():
            self.report.message("info", self._partial.rstrip())
        self._partial = ""

    def _say(self, level: str, args: tuple[Any, ...], suggestion: str | None = None) -> None:
        self.flush()
        text = _text(args).strip()
        if suggestion:
            text = f"{text} ({suggestion})"
        if text and not text.startswith(self.hide):
            self.report.message(level, text)

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        self._say("error", args, suggestion)

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        self._say("warning", args, suggestion)

    def note(self, *args: Any) -> None:
        self._say("note", args)

    def hint(self, *args: Any) -> None:
        self._say("note", args)

    def debug(self, *args: Any) -> None:
        pass  # esptool's verbose mode; the capture has the bytes

    def set_verbosity(self, mode: int | str) -> None:
        pass

    def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "",
                     bar_length: int = 30) -> None:
        self.flush()
        self.report.progress(cur_iter, total_iters, prefix.strip().rstrip(":"))

    # the legacy names, for code that still calls them
    warning = warn
    error = err


@contextlib.contextmanager
def routed_to(report: Report, hide: tuple[str, ...] = ()) -> Iterator[EsptoolBridge]:
    bridge = EsptoolBridge(report, hide)
    previous = EspLog.instance
    EspLog.instance = bridge
    try:
        yield bridge
    finally:
        bridge.flush()
        EspLog.instance = previous
