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

from espmon.commands.decode import _open, read_text_chunks
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
    from espmon.diagnose.findings import findings
    from espmon.diagnose.reader import TRACE_HINT, DoctorReader
    from espmon.diagnose.report import panic_json
    from parsers.text_kind import describe_text

    source = _Input(chunks)
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
    report: dict[str, Any] = {
        "input": kind,
        "chip": facts.chip.key if facts.chip else None,
        "resets": facts.resets,
        "panics": [panic_json(p, symbolizer) for p in facts.panics],
        "findings": findings(facts),
        "lines": reader.lines,
        "chip_line": facts.chip_line,
        "reset_count": facts.reset_count,
        "panic_count": facts.panic_count,
        "session": _session(summary) if trace_records and summary else None,
    }
    return report


def _session(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("esptool", "chip", "commands", "responses", "timeouts", "retries", "outcome", "errors", "error_line",
            "evidence", "line")
    return {k: summary.get(k) for k in keep}


def run(args: argparse.Namespace) -> int:
    symbolizer = None
    if args.elf:
        from espmon.monitor.knowledge import load_symbolizer

        symbolizer = load_symbolizer(args.elf)
    stream, name = _open(args.file)
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
