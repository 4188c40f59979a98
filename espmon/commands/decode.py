"""``espmon decode TRACE|- [--json]``: annotate an esptool ``--trace`` dump.

Reads the file in chunks (never whole: a 200 MB dump stays in a few MB of memory),
prints one line per packet and the session story, or JSON Lines with ``--json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO

from espmon.errors import UserError

__all__ = ["add_arguments", "run", "read_text_chunks", "open_input"]

CHUNK = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE",
                        help="esptool --trace output (any esptool 2.2-5.x), an espmon capture, or - for stdin")
    parser.add_argument("--json", action="store_true", help="print JSON Lines records instead of text")
    parser.add_argument("--summary", action="store_true",
                        help="only the session story and the advice (no packet lines)")
    parser.add_argument("--follow", action="store_true",
                        help="follow a dump or capture that is still being written (like tail -f; Ctrl+C ends)")
    parser.add_argument("--trace-text", action="store_true",
                        help="write a capture as esptool --trace text (for people and older tools)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the text output (default: when stdout is a terminal)")


def _sniff(name: str, head: bytes) -> str:
    """The encoding of the input; a UserError for what is not text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # PowerShell's `>` writes UTF-16 with a BOM
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    nul = head.find(b"\0")
    if nul >= 0:
        raise UserError(f"{name}: binary data (NUL byte at offset {nul}), expected the text esptool --trace prints")
    sample = head[:65536]
    if sample:
        controls = sum(sample.count(bytes([c])) for c in (*range(1, 9), 0x0B, 0x0C, *range(0x0E, 0x1B), *range(0x1C, 0x20)))
        if controls > len(sample) // 10:
            raise UserError(f"{name}: binary data ({controls} control bytes in the first {len(sample)}), "
                            "expected the text esptool --trace prints")
    return "utf-8"


def read_text_chunks(stream: BinaryIO, name: str, *, waiting: Callable[[], None] | None = None,
                     follow: Callable[[], bool] | None = None) -> Iterator[str]:
    """Decoded text of ``stream`` in chunks; UserError if it is not text or cannot be read.

    Reads what is there (``read1``), so a pipe's lines are decoded as they arrive.
    ``waiting`` is called before each read (the caller flushes its output then: what was
    decoded is shown before the reader blocks). ``follow``: at the end of the file, wait
    for more while it returns True (``--follow``)."""
    import codecs

    read = getattr(stream, "read1", stream.read)

    def more() -> bytes:
        if waiting is not None:
            waiting()
        try:
            data = read(CHUNK)
            while not data and follow is not None and follow():
                data = read(CHUNK)
            return data
        except OSError as exc:
            raise UserError(f"{name}: read failed: {exc.strerror or exc}") from None

    head = more()
    # the encoding is told by the first bytes; a pipe may give only a few at first
    while head and len(head) < 4 and head[:1] in (b"\xff", b"\xfe", b"\xef"):
        extra = more()
        if not extra:
            break
        head += extra
    decoder = codecs.getincrementaldecoder(_sniff(name, head))(errors="replace")
    chunk = head
    while chunk:
        yield decoder.decode(chunk)
        chunk = more()
    yield decoder.decode(b"", final=True)


def open_input(path: str, expected: str = "an esptool --trace text file") -> tuple[BinaryIO, str]:
    """``path`` (or ``-``: stdin) opened for reading, and its name; one-line UserErrors."""
    if path == "-":
        return sys.stdin.buffer, "<stdin>"
    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, expected {expected}")
    try:
        return open(path, "rb"), path
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot open: {exc.strerror or exc}") from None


# Records that only a trace has: until one comes, the output is held back, so a file that
# is not a trace gets one line saying what it looks like instead of a verdict.
_TRACE_KINDS = frozenset({"command", "response", "frame", "timeout", "invalid"})
_HOLD_LIMIT = 20_000  # records held while looking for the first trace record
_SAMPLE = 1 << 16  # text kept to say what a non-trace looks like
_BATCH = 256  # output lines per write


class NotATrace(UserError):
    pass


def _trace_only(records: Iterator, sample: list[str], name: str) -> Iterator:
    """Pass records on once the input has shown it is a trace; else raise NotATrace."""
    from parsers.text_kind import describe_text

    held = []
    for rec in records:
        if held is None:
            yield rec
            continue
        held.append(rec)
        if rec.kind in _TRACE_KINDS:
            yield from held
            held = None
        elif len(held) > _HOLD_LIMIT:
            break
    if held is not None:
        raise NotATrace(f"{name}: no esptool trace found: {describe_text(''.join(sample))}")


def _teed(chunks: Iterator[str], sample: list[str]) -> Iterator[str]:
    size = 0
    for chunk in chunks:
        if size < _SAMPLE:
            sample.append(chunk[:_SAMPLE - size])
            size += len(sample[-1])
        yield chunk


class _Follow:
    """``--follow``: at the end of the file, wait for more; stop on Ctrl+C, or after a
    capture's end record."""

    def __init__(self, sleep: Callable[[float], None] | None = None, interval: float = 0.2) -> None:
        import signal
        import threading
        import time

        self.sleep = sleep or time.sleep
        self.interval = interval
        self.done = False
        if threading.current_thread() is threading.main_thread():
            # Ctrl+C ends the follow where it is, and the story is still printed
            signal.signal(signal.SIGINT, self._interrupted)

    def _interrupted(self, signum: int, frame: object) -> None:
        self.done = True

    def __call__(self) -> bool:
        if not self.done:
            self.sleep(self.interval)
        return not self.done

    def watch(self, chunks: Iterator[str]) -> Iterator[str]:
        for chunk in chunks:
            yield chunk
            if '"kind":"end"' in chunk:  # a capture's last record
                self.done = True


def _records(args: argparse.Namespace, stream: BinaryIO, name: str, waiting: Callable[[], None]) -> Iterator:
    from espmon.conversation.analyzer import analyze_lines
    from parsers.capture import looks_like_capture

    follow = _Follow() if args.follow else None
    chunks = read_text_chunks(stream, name, waiting=waiting, follow=follow)
    if follow is not None:
        chunks = follow.watch(chunks)
    first = next(chunks, "")
    chunks = itertools.chain([first], chunks)
    if looks_like_capture(first):
        from parsers.capture_trace import CaptureTraceParser

        if args.trace_text:
            from espmon.capture.trace_text import trace_text

            return trace_text(chunks), "text"
        return analyze_lines(chunks, CaptureTraceParser()), "records"
    if args.trace_text:
        from parsers.text_kind import describe_text

        raise UserError(f"{name}: --trace-text reads an espmon capture (espmon capture -o FILE), "
                        f"this is {describe_text(first[:_SAMPLE])}")
    sample: list[str] = []
    return _trace_only(analyze_lines(_teed(chunks, sample)), sample, name), "records"


def run(args: argparse.Namespace) -> int:
    stream, name = open_input(args.trace)
    out = sys.stdout
    live = args.follow or not _regular_file(stream)
    waiting = out.flush if live else (lambda: None)
    args.batch = 1 if live else _BATCH  # live input: each line goes out at once, before the next read
    try:
        records, shape = _records(args, stream, name, waiting)
        if shape == "text":
            for line in records:
                out.write(line)
                out.write("\n")
        elif args.json:
            import json

            dumps = json.JSONEncoder(separators=(",", ":")).encode
            batch = []
            try:
                for rec in records:
                    if args.summary and rec.kind != "summary":
                        continue
                    batch.append(dumps(rec.to_json()))
                    if len(batch) >= args.batch:
                        batch.append("")
                        out.write("\n".join(batch))
                        batch.clear()
            finally:
                if batch:
                    batch.append("")
                    out.write("\n".join(batch))
        else:
            _render(args, records, out)
        out.flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0


def _regular_file(stream: BinaryIO) -> bool:
    import stat

    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def _render(args: argparse.Namespace, records: Iterator, out) -> None:
    from espmon.conversation.render import TextRenderer

    color = args.color == "always" or (args.color == "auto" and out.isatty() and not os.environ.get("NO_COLOR"))
    encoding = (getattr(out, "encoding", None) or "").lower()
    renderer = TextRenderer(color=color, unicode="utf" in encoding)
    # Lines go out in batches: one write (and on a terminal one flush) per batch, not per line.
    batch: list[str] = []
    add = batch.append
    started = not args.summary  # the story alone starts with its first line, not a gap
    # On a terminal, a first-time reader gets the columns and arrows named once.
    legend = not args.summary and out.isatty()
    try:
        for rec in records:
            if args.summary and rec.kind != "summary":
                continue
            for line in renderer.render(rec):
                if not started and not line.strip():
                    continue
                started = True
                if legend:
                    add(renderer.legend())
                    legend = False
                add(line)
            if len(batch) >= getattr(args, "batch", _BATCH):
                batch.append("")
                out.write("\n".join(batch))
                batch.clear()
        batch += renderer.flush()
    finally:
        if batch:
            batch.append("")
            out.write("\n".join(batch))
