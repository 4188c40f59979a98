"""``:capture on [FILE]`` / ``:capture off`` (everything on the port, device output and loader
traffic, into a capture file) and ``:trace on|off`` (the loader's packets shown inline,
annotated, while ``:flash`` and the other loader commands run)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from espmon.console.app import Console

__all__ = ["cmd_capture", "cmd_trace", "stop_capture"]


def _usage(con: "Console", text: str) -> None:
    con.message(f"usage: {text}", error=True)


def cmd_capture(con: "Console", arg: str) -> None:
    from espmon.capture.writer import CaptureWriter

    words = arg.split(maxsplit=1)
    what = words[0] if words else ("off" if con.capture is not None else "on")
    if what == "off":
        if con.capture is None:
            con.message("no capture is on")
            return
        stop_capture(con, "capture off")
        return
    if what != "on":
        _usage(con, ":capture on [FILE] | :capture off")
        return
    if con.capture is not None:
        con.message(f"a capture is already on: {con.capture.name}", error=True)
        return
    path = words[1].strip() if len(words) > 1 else time.strftime("espmon-capture-%Y%m%d-%H%M%S.jsonl")
    try:
        writer = CaptureWriter.open(path, port=con.session.url, baud=con.session.baud, by="espmon monitor :capture")
    except OSError as exc:
        con.message(f"{path}: cannot write the capture: {exc.strerror or exc}", error=True)
        return
    writer.mode("monitor")
    con.capture = writer
    con.session.tap = writer
    con.note(f"capture on: every byte on the port goes to {path}")


def stop_capture(con: "Console", reason: str) -> None:
    writer = con.capture
    if writer is None:
        return
    con.session.tap = None
    con.capture = None
    writer.close(reason)
    if writer.failed is not None:
        con.message(f"{writer.name}: the capture is incomplete: {writer.failed.strerror or writer.failed}", error=True)
    con.note(f"capture off: {writer.name} ({writer.counts['tx']:,} bytes sent, {writer.counts['rx']:,} received); "
             f"espmon decode {writer.name}")


class _Notes:
    """A text stream whose lines become console notes (from the loader's thread)."""

    encoding = "utf-8"

    def __init__(self, con: "Console") -> None:
        self.con = con
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.strip():
                self.con._call_soon(self.con.note, line)
        return len(text)

    def flush(self) -> None:
        pass


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _trace_tap(con: "Console") -> Any:
    """A capture that is not kept: its records go straight to a live view of notes."""
    from espmon.capture.live import LiveView
    from espmon.capture.writer import CaptureWriter

    class _Trace:
        def __init__(self) -> None:
            self.view: LiveView | None = None
            self.writer: CaptureWriter | None = None

        def _begin(self) -> CaptureWriter:
            self.view = LiveView(_Notes(con))
            self.writer = CaptureWriter(_Discard(), name="trace", port=con.session.url, baud=None, by="trace",
                                        echo=self.view.feed)
            return self.writer

        def data(self, direction: str, data: bytes, t: float) -> None:
            (self.writer or self._begin()).data(direction, data, t)

        def change(self, kind: str, value: Any, t: float) -> None:
            (self.writer or self._begin()).change(kind, value, t)

        def message(self, level: str, text: str) -> None:
            pass  # the job's report shows esptool's words already

        def mode(self, mode: str) -> None:
            writer = self.writer or self._begin()
            writer.mode(mode)
            if mode == "monitor":  # the job is over; its story is the job's own notes
                writer.close("job done")
                self.writer = self.view = None

    return _Trace()


def cmd_trace(con: "Console", arg: str) -> None:
    from espmon.console.flash_actions import _jobs

    what = arg.strip() or ("off" if _jobs(con).tap is not None else "on")
    if what not in ("on", "off"):
        _usage(con, ":trace on|off")
        return
    _jobs(con).tap = _trace_tap(con) if what == "on" else None
    con.note("trace on: the loader's packets are shown, annotated, while it runs" if what == "on"
             else "trace off")
