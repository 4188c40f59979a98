"""``espmon plot FILE|- -o OUT.png|.svg [--kind timeline|latency|throughput|boot|all ...]``.

An esptool ``--trace`` dump is told by its ``TRACE +0.000`` lines and plots as a command
timeline (default), reply latency per request, and data throughput; anything else is read
as a device log and plots as a boot timeline. Streams the input once (the records are
reduced as they come, see espmon/plot/trace_data.py and boot_data.py). A file that is
neither, a kind the input cannot give, or an output that cannot be written is one line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator

from espmon.commands.decode import open_input, read_text_chunks
from espmon.errors import UserError

__all__ = ["add_arguments", "run", "load"]

KINDS = ("timeline", "latency", "throughput", "boot", "all")
TRACE_KINDS = ("timeline", "latency", "throughput")
_TRACE_LINE = re.compile(r"TRACE \+\d+\.\d{3}")
_SAMPLE = 1 << 16
_MIN_SHARE = 0.1  # of the non-blank lines holding device events, for a text to be a device log


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="FILE", help="esptool --trace dump (any esptool 2.2-5.x), a device log, or -")
    parser.add_argument("-o", "--output", metavar="OUT", required=True, help="the picture to write: OUT.png or OUT.svg")
    parser.add_argument("--kind", action="append", choices=KINDS,
                        help="what to draw, may be repeated (default: timeline for a trace, boot for a device log; "
                             "all: every kind the input has)")


def _check_output(path: str) -> None:
    """Fail before the input is read when the picture could not be written anyway."""
    from espmon.plot.figure import FORMATS

    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, expected OUT.png or OUT.svg")
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise UserError(f"{path}: unknown picture format '.{ext}', expected .png or .svg" if ext else
                        f"{path}: no extension, expected OUT.png or OUT.svg")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "not a directory" if os.path.exists(folder) else "no such directory"
        raise UserError(f"{path}: cannot write: {what}: {folder}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UserError(f"{path}: cannot write: permission denied")


def _lines(chunks: Iterator[str]) -> Iterator[str]:
    """Text chunks -> lines without their newline (a CR stays, as the device parser expects)."""
    rest = ""
    for chunk in chunks:
        if not chunk:
            continue
        parts = (rest + chunk).split("\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def load(path: str):
    """``("trace", TraceData)`` or ``("device-log", BootData)`` of the file; UserError for anything else."""
    stream, name = open_input(path, "an esptool --trace dump or a device log")
    try:
        chunks = read_text_chunks(stream, name)
        try:
            head = next(chunks, "")
        except UserError as exc:  # decode's words for binary input name only the trace
            raise UserError(str(exc).replace("the text esptool --trace prints",
                                             "an esptool --trace dump or a device log")) from None
        whole = _chain(head, chunks)
        from parsers.capture import looks_like_capture

        if looks_like_capture(head):  # an espmon capture: the same records as a trace, timed to the us
            return "trace", _trace(whole, head, name, capture=True), name
        if _TRACE_LINE.search(head):
            return "trace", _trace(whole, head, name), name
        return "device-log", _device_log(whole, head, name), name
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _chain(head: str, chunks: Iterator[str]) -> Iterator[str]:
    yield head
    yield from chunks


def _trace(chunks: Iterator[str], head: str, name: str, capture: bool = False):
    from espmon.conversation.analyzer import analyze_lines
    from espmon.plot.trace_data import trace_data
    from parsers.text_kind import describe_text

    if capture:
        from parsers.capture_trace import CaptureTraceParser

        data = trace_data(analyze_lines(chunks, CaptureTraceParser()))
    else:
        data = trace_data(analyze_lines(chunks))
    if not data.exchanges and not data.invalid:
        raise UserError(f"{name}: nothing to plot: no esptool request in its TRACE lines "
                        f"({describe_text(head[:_SAMPLE])}); expected an esptool --trace dump or a device log")
    return data


def _device_log(chunks: Iterator[str], head: str, name: str):
    from espmon.plot.boot_data import BootCollector
    from parsers.device_log import DeviceLogParser
    from parsers.text_kind import describe_text

    what = describe_text(head[:_SAMPLE])
    if what.startswith(("JSON", "Markdown", "empty")):  # a document that quotes log lines is no log
        raise UserError(f"{name}: nothing to plot: {what}; expected an esptool --trace dump or a device log")
    parser = DeviceLogParser()
    collector = BootCollector()
    feed, collect = parser.feed, collector.feed
    lines = blank = hits = 0
    for line in _lines(chunks):
        lines += 1
        events = feed(line)
        if events:
            hits += _covered(events)
            collect(events)
        elif not line.strip():
            blank += 1
    events = parser.end()
    hits += _covered(events)
    collect(events)
    data = collector.data
    data.lines, data.event_lines = lines, hits
    if data.chip is None and parser.chip is not None:
        data.chip = parser.chip.name
    if hits == 0 or hits < _MIN_SHARE * (lines - blank):
        if what.startswith("a device log"):  # a few device lines in other text
            what = f"only {hits} of its {lines - blank} lines are what a chip prints"
        raise UserError(f"{name}: nothing to plot: {what}; expected an esptool --trace dump or a device log")
    return data


def _covered(events: list) -> int:
    """Lines the events stand for: one, or the whole dump of a panic (reported at its end)."""
    if not events:
        return 0
    return max(1, *(getattr(e, "end_line", 0) - e.line + 1 for e in events))


def _kinds(asked: list[str] | None, source: str, data) -> list[str]:
    from espmon.plot.trace_plots import missing

    name = "a trace" if source == "trace" else "a device log"
    if not asked:
        asked = ["timeline" if source == "trace" else "boot"]
    if "all" in asked:
        if source != "trace":
            return ["boot"]
        usable = [k for k in TRACE_KINDS if missing(k, data) is None]
        return usable or ["timeline"]  # timeline then says why there is nothing
    kinds = list(dict.fromkeys(asked))
    for kind in kinds:
        if (kind == "boot") != (source == "device-log"):
            want = "a device log (what the chip prints)" if kind == "boot" else "an esptool --trace dump"
            raise UserError(f"--kind {kind} needs {want}; the input is {name}"
                            f" (it plots as --kind {'boot' if source == 'device-log' else 'timeline'})")
    return kinds


def run(args: argparse.Namespace) -> int:
    _check_output(args.output)
    source, data, name = load(args.input)
    kinds = _kinds(args.kind, source, data)
    if source == "trace":
        from espmon.plot.figure import trace_figure
        from espmon.plot.trace_plots import missing

        for kind in kinds:
            reason = missing(kind, data)
            if reason:
                raise UserError(f"{name}: {reason}")
        fig = trace_figure(data, kinds, name)
    else:
        from espmon.plot.boot_plot import missing
        from espmon.plot.figure import boot_figure

        reason = missing(data)
        if reason:
            raise UserError(f"{name}: {reason}")
        fig = boot_figure(data, name)
    from espmon.plot.figure import save

    save(fig, args.output)
    print(f"{args.output}: {', '.join(kinds)} of {name}")
    return 0
