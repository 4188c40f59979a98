"""``espmon doctor FILE|- [--elf APP.elf ...] [--json]``: the troubleshooting guide's answer
for a trace, a boot log, esptool's console output, or a paste of several.

Streams the file (a 100 MB log stays in a few MB): the device-log and esptool-output
parsers read every line, the trace analyzer reads a trace; the rule table
(``espmon.diagnose.rules``) turns what they found into ranked findings with line numbers.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from typing import Any

from espmon.commands.decode import open_input, read_text_chunks
from espmon.errors import UserError

__all__ = ["add_arguments", "run", "diagnose"]

_SAMPLE = 1 << 16
_DOCUMENT = re.compile(r"#{1,2} \S")  # a Markdown title or section heading on the first line
_TRACE_KINDS = frozenset({"command", "response", "frame", "timeout", "invalid"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a trace dump, device log or esptool output (or a paste of "
                                                     "several), or - for stdin")
    parser.add_argument("--elf", action="append", default=[], metavar="APP.elf",
                        help="decode panic backtraces with this ELF (repeat for the bootloader, ROM)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the schema is in README.md)")


class _Input:
    """The chunks of the input, with a sample of its head kept to say what it is."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.head = next(chunks, "")
        self.sample = self.head[:_SAMPLE]

    def __iter__(self) -> Iterator[str]:
        if self.head:
            yield self.head
        yield from self._chunks


def diagnose(chunks: Iterator[str], name: str, symbolizer: Any = None) -> dict[str, Any]:
    """The doctor's report (the --json object) for the text in ``chunks``; UserError if it holds
    no trace, device log or esptool output."""
    from espmon.diagnose.reader import TRACE_HINT, DoctorReader
    from parsers.text_kind import describe_text

    source = _Input(chunks)
    from parsers.capture import looks_like_capture

    if looks_like_capture(source.sample):
        return _capture(source, symbolizer)
    described = describe_text(source.sample)
    if described.startswith(("JSON", "empty")):
        raise UserError(f"{name}: not a trace, a device log or esptool's output: {described.split(',')[0]}")
    if _DOCUMENT.match(source.sample.lstrip("\ufeff \r\n")):
        # a README quotes logs to explain them; an issue paste starts with its template's ### headings
        raise UserError(f"{name}: not a trace, a device log or esptool's output: a Markdown document "
                        "(line 1 is a '#' title); paste the log itself")
    trace = bool(TRACE_HINT.search(source.sample))
    reader = DoctorReader(trace=trace)
    trace_records = 0
    summary = None
    if trace:
        from espmon.conversation.analyzer import analyze_lines

        def teed() -> Iterator[str]:
            for chunk in source:
                reader.feed(chunk)
                yield chunk

        for rec in analyze_lines(teed()):
            if rec.kind in _TRACE_KINDS:
                trace_records += 1
            elif rec.kind == "summary":
                summary = rec.to_json()
    else:
        for chunk in source:
            reader.feed(chunk)
    facts = reader.end()
    if trace_records and summary is not None:
        facts.add_summary(summary)
    device = (reader.device_lines > 0 or facts.device_events > 0
              or (not trace_records and described.startswith("a device log")))
    esptool = reader.esptool_lines > 0
    if trace_records:
        kind = "mixed" if facts.reset_count or facts.panic_count else "trace"
    elif device and esptool:
        kind = "mixed"
    elif esptool:
        kind = "esptool-output"
    elif device:
        kind = "device-log"
    else:
        raise UserError(f"{name}: not a trace, a device log or esptool's output ({reader.lines} lines, none "
                        "of them esptool's, a trace's or a chip's)")
    return _report(kind, facts, symbolizer, reader.lines, summary if trace_records else None)


def _report(kind: str, facts: Any, symbolizer: Any, lines: int, summary: dict[str, Any] | None,
            line: Any = lambda n: n, drop: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The --json object. ``line`` maps the reader's line numbers to the input's (a capture's
    reader sees one line per record); ``drop``: rules that do not apply to this input."""
    from espmon.diagnose.findings import findings
    from espmon.diagnose.report import panic_json

    found = [{**f, "evidence": [line(n) for n in f.get("evidence", [])]} for f in findings(facts)
             if f["rule"] not in drop]
    return {
        "input": kind,
        "chip": facts.chip.key if facts.chip else None,
        "resets": [{**r, "line": line(r.get("line"))} for r in facts.resets],
        "panics": [{**p, "line": line(p.get("line"))} for p in (panic_json(p, symbolizer) for p in facts.panics)],
        "findings": found,
        "lines": lines,
        "chip_line": line(facts.chip_line),
        "reset_count": facts.reset_count,
        "panic_count": facts.panic_count,
        "session": _session(summary) if summary else None,
    }


_HOST_DRIVEN = frozenset({"stuck-after-entry", "download-mode"})


def _capture(source: Any, symbolizer: Any) -> dict[str, Any]:
    """An espmon capture: its loader traffic through the trace analyser, and the chip's own
    output and esptool's words through the doctor's reader, one line each; every line
    number in the report is then the capture's record line."""
    from espmon.conversation.analyzer import analyze_lines
    from espmon.diagnose.reader import DoctorReader
    from parsers.capture_trace import DEVICE_PREFIX, CaptureTraceParser

    reader = DoctorReader()
    origin = [0]  # reader line n (1-based) came from capture line origin[n]
    summary = None
    commands = 0
    parser = CaptureTraceParser()
    for rec in analyze_lines(source, parser):
        if rec.kind == "text":
            text = rec.text[len(DEVICE_PREFIX):] if rec.text.startswith(DEVICE_PREFIX) else rec.text
            reader.feed(text.replace("\n", " ") + "\n")
            origin.append(rec.line)
        elif rec.kind == "summary":
            summary = rec.to_json()
        elif rec.kind in _TRACE_KINDS:
            commands += 1
    facts = reader.end()
    if commands and summary is not None:
        facts.add_summary(summary)
        _boot_after_reset(facts, summary)

    def line(n: Any) -> Any:
        return origin[n] if isinstance(n, int) and 0 < n < len(origin) else n

    # The host reset the chip into its loader (esptool's DTR/RTS dance, in the capture): a
    # boot it cut short is not stuck, and download mode is what it asked for.
    drop = _HOST_DRIVEN if commands and parser.line_changes else frozenset()
    return _report("capture", facts, symbolizer, parser.lines, summary if commands else None, line, drop)


def _boot_after_reset(facts: Any, summary: dict[str, Any]) -> None:
    """Nothing came back, but the capture holds what the chip printed after the host's reset
    (the bytes the host threw away unread): the boot mode it printed tells the two faults
    esptool's own reset would have named apart."""
    if summary.get("responses") or not facts.has("err:no_serial_data") or not facts.resets:
        return
    last = facts.resets[-1]
    if last["mode"] == "download":
        facts.note("err:no_sync_reply", last["line"], "the chip printed its download-mode banner after the "
                   "reset and never answered: it does not hear the host")
    elif last["mode"] == "flash":
        facts.note("trace_boot_log", last["line"], f"after the host's reset the chip booted from flash "
                   f"({last['boot_name']}) instead of the download mode")


def _session(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("esptool", "chip", "commands", "responses", "timeouts", "retries", "outcome", "errors", "error_line",
            "evidence", "line")
    return {k: summary.get(k) for k in keep}


def run(args: argparse.Namespace) -> int:
    symbolizer = None
    if args.elf:
        from espmon.monitor.knowledge import load_symbolizer

        symbolizer = load_symbolizer(args.elf)
    stream, name = open_input(args.file)
    try:
        report = diagnose(read_text_chunks(stream, name), name, symbolizer)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        if symbolizer is not None:
            symbolizer.close()
    out = sys.stdout
    if args.json:
        import json

        out.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        from espmon.diagnose.report import render_text

        for line in render_text(report, name):
            out.write(line + "\n")
    out.flush()
    return 0
