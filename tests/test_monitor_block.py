"""The monitor's bulk path against its per-line path: same records, same text, same log.

The engine's hot path cleans whole blocks on their bytes (``clean_block``), lets the
parser's block API pick the lines that mean something, and hands the plain monitor text
instead of records. The per-line path (taken whenever a script observes lines) is the
reference: both must produce the same records, annotations and text log, however the
stream is cut into reads.
"""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_log_corpus import corpus_files
from espmon.logfile import SessionLog
from espmon.monitor import records as R
from espmon.monitor.engine import MonitorEngine
from espmon.monitor.knowledge import Knowledge, load_knowledge
from espmon.monitor.plain import PlainMonitor
from espmon.monitor.sanitize import clean_block, decode, sanitize, strip_sgr
from espmon.monitor.settings import MonitorSettings

_BYTES = st.sampled_from(
    [b"a", b"I (1) t: m", b"\r", b"\n", b"\r\n", b"\x1b", b"[0;31m", b"\x1b[0m", b"\x1b[2J", b"\x1b]0;x\x07", b"\x00",
     b"\x07", b"\x7f", b"\xc2\x9b", b"\xc2\x85", b"\xc2\xa0", b"\xe2\x98\x83", b"\xe2", b"\xff", b"\t", b"\x0b", b";", b"m"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_BYTES, max_size=30), st.sampled_from(["utf-8", "UTF8", "latin-1", "cp437"]))
def test_clean_block_equals_decode_then_sanitize(parts, encoding):
    block = b"".join(parts)
    text = decode(block, encoding).replace("\r\n", "\n")
    shown, plain = clean_block(block, encoding)
    assert shown == sanitize(text)
    assert plain == strip_sgr(sanitize(text))


def _stream() -> bytes:
    """Every corpus log, joined, with junk bytes and odd controls sprinkled in."""
    rng = random.Random(7)
    out = bytearray()
    for path in corpus_files():
        for line in path.read_bytes().splitlines(keepends=True):
            if rng.random() < 0.05:
                out += rng.choice([b"\xff\xfe", b"\x1b]0;t\x07", b"\xc2\x9b", b"\x00", b"\r", b"\x1b[0;32m"])
            out += line
    return bytes(out)


_STREAM = _stream()


def _chunks(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rng.choice([1, 5, 80, 700, 4096, 65536])
        out.append(data[i : i + n])
        i += n
    return out


def _run(engine: MonitorEngine, chunks: list[bytes], as_text: bool) -> list[str]:
    """Every output line as plain text (records through ``plain_text``)."""
    out: list[str] = []
    for k, chunk in enumerate(chunks):
        t = 1_700_000_000 + k * 0.5
        if as_text:
            out += engine.feed_text(chunk, t).split("\n")[:-1]
        else:
            out += map(R.plain_text, engine.feed(chunk, t))
    out += map(R.plain_text, engine.end(2e9))
    return out


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("keep_sgr", [True, False])
def test_bulk_path_equals_per_line_path(tmp_path, seed, keep_sgr):
    chunks = _chunks(_STREAM, seed)
    results = []
    for mode in ("per-line", "records", "text"):
        log = SessionLog(tmp_path / f"{mode}.log", append=False)
        engine = MonitorEngine(load_knowledge(), log=log)
        engine.keep_sgr = keep_sgr
        if mode == "per-line":
            engine.line_observer = lambda line: None  # an observer forces the per-line path
        assert engine.streams_text is (mode != "per-line")
        lines = _run(engine, chunks, as_text=mode == "text")
        log.close()
        results.append((lines, (tmp_path / f"{mode}.log.txt").read_text(), engine.resets, engine.crashes,
                        engine.boot_loops, engine.state, engine.chip))
    assert results[1] == results[0]
    assert results[2] == results[0]
    assert any(line.startswith("--- ") for line in results[0][0])  # annotations were compared too


def test_parser_without_block_api_is_fed_line_by_line():
    class Parser:
        chip = None

        def __init__(self):
            self.lines = []

        def feed(self, line):
            self.lines.append(line)
            return ["event"] if line == "b" else []

        def end(self):
            return []

    parser = Parser()
    engine = MonitorEngine(Knowledge(parser, lambda e, c: "explained", type("L", (), {"feed": lambda s, e, t: None})()))
    assert engine.feed_text(b"a\r\nb\r\nc\n", 0.0) == "a\nb\n--- explained\nc\n"
    assert parser.lines == ["a", "b", "c"]


class _ShortWrites(io.RawIOBase):
    """A raw stdout (python -u) whose write() is cut short, as a signal can do."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        n = min(len(b), 7)
        self.data += bytes(b[:n])
        return n


def _plain_monitor(out, **kw) -> PlainMonitor:
    engine = MonitorEngine(load_knowledge())
    return PlainMonitor(None, engine, MonitorSettings(url="x", baud=115200, **kw), out=out, err=io.StringIO())


def test_plain_output_survives_short_writes():
    out = _ShortWrites()
    mon = _plain_monitor(out)
    mon._handle(("data", b"I (1) app: " + b"x" * 100 + b"\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n", 0.0))
    text = out.data.decode()
    assert text.startswith("I (1) app: " + "x" * 100 + "\nrst:0x1 (POWERON_RESET)")
    assert text.endswith("\n") and "--- power-on" in text


def test_plain_text_path_completes_a_shown_partial_line():
    out = _ShortWrites()
    mon = _plain_monitor(out)
    mon._handle(("data", b"login: ", 0.0))
    mon._show_partial()
    mon._handle(("data", b"root\r\nnext\r\n", 0.1))
    assert out.data == b"login: root\nnext\n"
    stamped = _plain_monitor(out := _ShortWrites(), timestamps=True, timestamp_format="T")
    stamped._handle(("data", b"a\nb\n", 0.0))
    assert out.data == b"T a\nT b\n"
