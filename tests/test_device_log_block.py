"""The parser's block API (``feed_text``/``feed_lines``) against ``feed`` line by line.

The block API skips the lines its pre-filter (``parsers/device_scan.py``) deems ordinary, so
the property that matters is equivalence: the same events for every line that has more than
ordinary ``LogLine``s, the same line numbers, the same state afterwards (chip, an open
panic, what ``end()`` reports). Checked on every corpus log, raw and as the monitor hands
lines over (colours stripped, CRLF cut), and on random mixtures of their lines with
fragments that trigger the recognisers in odd places.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_log_corpus import corpus_files, read_lines
from parsers.device_log import _BY_FIRST, _BY_TAG, _GLUE, DeviceLogParser, LogLine

_SGR = re.compile(r"\x1b\[[0-9;:]*m")


def _by_feed(lines: list[str], chip: str | None = None):
    parser = DeviceLogParser(chip)
    hits = []
    for i, line in enumerate(lines):
        events = parser.feed(line)
        if any(type(e) is not LogLine for e in events):
            hits.append((i, events))
    return hits, parser


def _by_block(lines: list[str], chip: str | None = None, cuts: tuple[int, ...] = ()):
    """feed_lines over the lines cut into blocks at ``cuts``."""
    parser = DeviceLogParser(chip)
    hits, start = [], 0
    for end in [*sorted(set(c for c in cuts if 0 < c < len(lines))), len(lines)]:
        hits += [(start + i, events) for i, events in parser.feed_lines(lines[start:end])]
        start = end
    return hits, parser


def _assert_same(lines: list[str], chip: str | None = None, cuts: tuple[int, ...] = ()) -> None:
    expected, p1 = _by_feed(lines, chip)
    got, p2 = _by_block(lines, chip, cuts)
    assert got == expected
    assert p2._n == p1._n == len(lines)
    assert p2.chip == p1.chip
    assert p2.end() == p1.end()


def _monitor_form(lines: list[str]) -> list[str]:
    """What the monitor hands over: no colours, no CR before the newline."""
    return [_SGR.sub("", line[:-1] if line.endswith("\r") else line) for line in lines]


_CORPUS = {path.name: read_lines(path) for path in corpus_files()}


@pytest.mark.parametrize("name", sorted(_CORPUS))
def test_corpus_log_block_equals_line_by_line(name):
    lines = _CORPUS[name]
    _assert_same(lines)
    _assert_same(_monitor_form(lines))
    _assert_same(_monitor_form(lines), cuts=tuple(range(0, len(lines), 3)))


def test_feed_text_offsets_name_the_line():
    text = "I (1) app: hi\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\nplain\n"
    hits = DeviceLogParser().feed_text(text)
    assert [(text[s:e], type(ev[0]).__name__) for s, e, ev in hits] == [
        ("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)", "ResetInfo")]


def test_block_edges_count_lines():
    parser = DeviceLogParser()
    assert parser.feed_text("") == [] and parser._n == 0
    assert parser.feed_text("a\n\nb") == [] and parser._n == 3  # the last line needs no newline
    assert parser.feed_lines(["", ""]) == [] and parser._n == 5
    [(index, events)] = parser.feed_lines(["x", "", "Rebooting..."])
    assert index == 2 and events[0].line == 8


# Fragments that start recognisers, glue markers, prefixes clean_line removes, special tags.
_FRAGMENTS = sorted(
    {prefix for handlers in _BY_FIRST.values() for prefix, _ in handlers}
    | set(_GLUE)
    | {f"I (42) {tag}: " for tag in _BY_TAG}
    | {"I (5) boot.esp32c3: ", "E (7) boot: ", "12:34:56.789 -> ", "[12:34:56]", "> ", "  ", "\t", "`",
       "\x1b[0;32m", "\x1b[0m", "[0;31m", "\r", "\x00", "\xff", "␛", "␊", "2024-01-02 03:04:05 ", "0x4008",
       "Core  0 register dump:", "PC      : 0x400d1234  PS      : 0x00060030", "Backtrace: 0x400d1:0x3ffb 0x4000",
       "Stack memory:", "3fc8f3d0: 0x00000000 0x3fc8f3e0", "ELF file SHA256: 1234abcd", "Aborting."}
)
_POOL = sorted({line for lines in _CORPUS.values() for line in lines})


def _means_something(line: str) -> bool:
    """Events besides LogLines, or a state change (a crash report or watchdog list opened,
    the chip named), for a fresh parser (no panic open before the line)."""
    parser = DeviceLogParser()
    events = parser.feed(line)
    return any(type(e) is not LogLine for e in events) or bool(parser.end()) or parser.chip is not None


_INTERESTING = [line for line in _POOL if _means_something(line)]


_ORDINARY = ["I (1) wifi: connected", "W (20) app: low", "E (3) nvs: fail", "plain text", "D (9) x.y: z"]
# what may stand between junk and a recogniser's text: clean_line cuts or keeps it
_SEPARATORS = ["\r", "\x1b[0m", "\x1b[0;32m", "\x1b[K", " ", "\t", "\x00", "\xff", "[0;33m", "> ", "12:00:01.5 -> ", ""]


@st.composite
def _line(draw, kinds: tuple[int, int] = (0, 5)) -> str:
    kind = draw(st.integers(*kinds))
    if kind == 0:
        return draw(st.sampled_from(_POOL))
    if kind == 1:  # an ordinary log line, the bulk of any log
        return draw(st.sampled_from(_ORDINARY))
    if kind == 2:  # junk or an ordinary line, then a recogniser's text glued or hidden behind it
        head = draw(st.one_of(st.sampled_from(_ORDINARY), st.text(max_size=4)))
        tail = draw(st.sampled_from(_FRAGMENTS + _INTERESTING))
        return (head + draw(st.sampled_from(_SEPARATORS)) + tail).replace("\n", " ")
    if kind == 3:  # a meaningful line with a colour code, a CR or junk inside it
        line = draw(st.sampled_from(_INTERESTING))
        at = draw(st.integers(0, len(line)))
        return (line[:at] + draw(st.sampled_from(_SEPARATORS)) + line[at:]).replace("\n", " ")
    parts = draw(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.sampled_from(_SEPARATORS), st.text(max_size=6)),
                          max_size=4))
    return "".join(parts).replace("\n", " ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_line(), max_size=40), st.lists(st.integers(0, 40), max_size=4),
       st.sampled_from([None, "esp32", "esp32c3", "esp8266"]))
def test_random_mixtures_block_equals_line_by_line(lines, cuts, chip):
    _assert_same(lines, chip, tuple(cuts))
    _assert_same(_monitor_form(lines), chip, tuple(cuts))


@settings(max_examples=500, deadline=None)
@given(_line(kinds=(2, 3)), st.sampled_from([None, "esp32", "esp8266"]))
def test_one_odd_line_among_ordinary_ones(line, chip):
    """The pre-filter's own job, with the parser idle around the line (in a run of odd lines
    an open panic takes the lines one by one, which hides a miss)."""
    lines = ["I (1) wifi: connected", line, "I (2) wifi: connected", "plain text"]
    _assert_same(lines, chip)
    _assert_same(_monitor_form(lines), chip)


@pytest.mark.parametrize("sep", _SEPARATORS)
def test_every_meaningful_line_glued_after_text(sep):
    """Each corpus line that means something, behind ordinary text or junk (a glued line)."""
    for head in ("plain text", "I (1) wifi: up", "ab", "\x00"):
        for line in _INTERESTING:
            lines = ["I (1) wifi: connected", head + sep + line, "plain text"]
            _assert_same(lines)
            _assert_same(_monitor_form(lines))


@pytest.mark.parametrize("sep", ["\r", "\x1b[0m", "\x1b[K", "\x00", " "])
def test_every_meaningful_line_with_something_inside_its_start(sep):
    for line in _INTERESTING:
        for at in range(min(len(line), 14) + 1):
            _assert_same(["I (1) wifi: connected", line[:at] + sep + line[at:], "plain text"])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="*ERO\n xJets", max_size=300), st.sampled_from(["***ERROR", "ets J", "ERR", "*"]),
       st.integers(0, 5))
def test_marker_search_finds_every_line_holding_it(text, marker, skip_lines):
    """By its rarest character with a check in place, falling back to the whole marker
    when that character turns out to be common (the alphabet makes it common here)."""
    from parsers.device_scan import _anchor, _find_marker

    lines = text.split("\n")
    pos = sum(len(line) + 1 for line in lines[:skip_lines]) if skip_lines < len(lines) else 0
    found: set[int] = set()
    _find_marker(text, pos, marker, *_anchor(marker), found)
    expected, start = set(), 0
    for line in lines:
        if start >= pos and marker in line:
            expected.add(start)
        start += len(line) + 1
    assert found == expected
