"""Line assembly and sanitizing: split invariance under any chunking, bounded lines, escapes."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from espmon.monitor.lines import LineAssembler
from espmon.monitor.sanitize import decode, sanitize, strip_sgr


def _lines(chunks: list[bytes], max_line: int = 64) -> tuple[list[bytes], bytes]:
    asm = LineAssembler(max_line=max_line)
    out = b"".join(asm.feed(c) for c in chunks)
    tail = asm.partial
    return out.split(b"\n")[:-1], tail


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points + [len(data)]:
        pieces.append(data[last:p])
        last = p
    return pieces


line_bytes = st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")) | st.sampled_from(
    [b"I (29) boot: ok\r", "caf\u00e9 \u2603".encode() * 20, b"\xe2\x98", b"\x1b[0;32mI (1) x: y\x1b[0m\r"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(line_bytes, max_size=20), st.booleans(), st.lists(st.integers(0, 5000), max_size=30))
def test_any_chunking_gives_the_same_lines(lines, trailing_newline, cuts):
    data = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    whole = _lines([data])
    assert _lines(_chunked(data, cuts)) == whole
    assert _lines([bytes([b]) for b in data]) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(line_bytes, max_size=20))
def test_nothing_is_lost(lines):
    data = b"\n".join(lines)
    asm = LineAssembler(max_line=64)
    out = asm.feed(data) + asm.end()
    # cutting long lines only inserts newlines; every byte is still there, in order
    assert out.replace(b"\n", b"") == data.replace(b"\n", b"")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=12), st.lists(st.integers(0, 400), max_size=6))
def test_no_line_longer_than_the_cap(lengths, cuts):
    data = b"\n".join(b"x" * n for n in lengths) + b"\n"
    asm = LineAssembler(max_line=10)
    out = b"".join(asm.feed(c) for c in _chunked(data, cuts)) + asm.end()
    assert max(map(len, out.split(b"\n"))) <= 10
    assert out.replace(b"\n", b"") == data.replace(b"\n", b"")


def test_long_line_is_cut_at_a_character_boundary():
    asm = LineAssembler(max_line=10)
    block = asm.feed("aaaaaaaaa\u00e9bbb\n".encode())
    first, second, _ = block.split(b"\n")
    assert first == b"aaaaaaaaa"  # the 2-byte é is not split
    assert second.decode() == "\u00e9bbb"


def test_partial_line_is_kept_until_its_newline():
    asm = LineAssembler()
    assert asm.feed(b"abc") == b""
    assert asm.partial == b"abc"
    assert asm.feed(b"def\nxy") == b"abcdef\n"
    assert asm.end() == b"xy\n"


def test_sgr_passes_and_other_escapes_are_shown():
    assert sanitize("\x1b[0;32mI (1) t: m\x1b[0m") == "\x1b[0;32mI (1) t: m\x1b[0m"
    assert sanitize("a\x1b]52;c;aGk=\x07b") == "a\\x1b]52;c;aGk=\\x07b"
    assert sanitize("\x1b[2J\x1b[H") == "\\x1b[2J\\x1b[H"
    assert sanitize("x\x9b31m") == "x\\x9b31m"  # a C1 CSI some terminals obey
    assert sanitize("tab\tok\r") == "tab\tok\\r"
    assert strip_sgr("\x1b[0;31mE (5) t: bad\x1b[0m") == "E (5) t: bad"


def test_invalid_utf8_is_hex_escaped_not_dropped():
    assert decode(b"ok \xff\xfe \xe2\x98\x83") == "ok \\xff\\xfe \u2603"
    assert decode(b"\x80", "no-such-codec") == "\\x80"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab\t\x1b[0;31m]\x07\x9b\r\x00\u00e9\u2603;:")), max_size=60))
def test_only_sgr_survives_sanitizing(text):
    import re

    safe = sanitize(text)
    rest = re.sub(r"\x1b\[[0-9;:]*m", "", safe)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", rest)
    # nothing dropped: every escaped character is still there as visible text
    assert len(safe) >= len(text)
    assert sanitize(safe) == safe
