"""``espmon decode TRACE|- [--json]``: annotate an esptool ``--trace`` dump.

Reads the file in chunks (never whole: a 200 MB dump stays in a few MB of memory),
prints one line per packet and the session story, or JSON Lines with ``--json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

from espmon.errors import UserError

__all__ = ["add_arguments", "run", "read_text_chunks"]

CHUNK = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE", help="esptool --trace output (any esptool 2.2-5.x), or - for stdin")
    parser.add_argument("--json", action="store_true", help="print JSON Lines records instead of text")
    parser.add_argument("--summary", action="store_true",
                        help="only the session story and the advice (no packet lines)")
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


def read_text_chunks(stream: BinaryIO, name: str) -> Iterator[str]:
    """Decoded text of ``stream`` in chunks; UserError if it is not text or cannot be read."""
    import codecs

    try:
        head = stream.read(CHUNK)
    except OSError as exc:
        raise UserError(f"{name}: cannot read: {exc.strerror or exc}") from None
    decoder = codecs.getincrementaldecoder(_sniff(name, head))(errors="replace")
    chunk = head
    while chunk:
        yield decoder.decode(chunk)
        try:
            chunk = stream.read(CHUNK)
        except OSError as exc:
            raise UserError(f"{name}: read failed: {exc.strerror or exc}") from None
    yield decoder.decode(b"", final=True)


def _open(path: str) -> tuple[BinaryIO, str]:
    if path == "-":
        return sys.stdin.buffer, "<stdin>"
    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, expected an esptool --trace text file")
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


def run(args: argparse.Namespace) -> int:
    from espmon.conversation.analyzer import analyze_lines

    stream, name = _open(args.trace)
    out = sys.stdout
    try:
        sample: list[str] = []
        records = _trace_only(analyze_lines(_teed(read_text_chunks(stream, name), sample)), sample, name)
        if args.summary:
            records = (rec for rec in records if rec.kind == "summary")
        if args.json:
            import json

            dumps = json.JSONEncoder(separators=(",", ":")).encode
            batch = []
            try:
                for rec in records:
                    batch.append(dumps(rec.to_json()))
                    if len(batch) >= _BATCH:
                        batch.append("")
                        out.write("\n".join(batch))
                        batch.clear()
            finally:
                if batch:
                    batch.append("")
                    out.write("\n".join(batch))
        else:
            from espmon.conversation.render import TextRenderer

            color = args.color == "always" or (args.color == "auto" and out.isatty() and not os.environ.get("NO_COLOR"))
            encoding = (getattr(out, "encoding", None) or "").lower()
            renderer = TextRenderer(color=color, unicode="utf" in encoding)
            # Lines go out in batches: one write (and on a terminal one flush) per batch,
            # not per line.
            batch: list[str] = []
            add = batch.append
            started = not args.summary  # the story alone starts with its first line, not a gap
            # On a terminal, a first-time reader gets the columns and arrows named once.
            legend = not args.summary and out.isatty()
            try:
                for rec in records:
                    for line in renderer.render(rec):
                        if not started and not line.strip():
                            continue
                        started = True
                        if legend:
                            add(renderer.legend())
                            legend = False
                        add(line)
                    if len(batch) >= _BATCH:
                        batch.append("")
                        out.write("\n".join(batch))
                        batch.clear()
                batch += renderer.flush()
            finally:
                if batch:
                    batch.append("")
                    out.write("\n".join(batch))
        out.flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0
