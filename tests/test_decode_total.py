"""The whole decode pipeline is total: shapes the hand-written generators of test_trace.py
never made (numbers past Python's 4,300-digit int limit, command payloads past the 16-bit
size field, real captures cut at any offset) give records and a summary, never an exception."""

from __future__ import annotations

import collections
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_support import FORMATS, Conversation, render

from espmon.conversation.analyzer import analyze_lines
from espmon.conversation.outcome import CLOSING
from espmon.conversation.records import CommandRecord, Summary, WarningRecord
from espmon.conversation.render import TextRenderer

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "traces"
TRACES = sorted(SAMPLES.glob("*/*.trace.txt"))
_TEXTS: dict[Path, str] = {}


def sample_text(path: Path) -> str:
    if path not in _TEXTS:
        _TEXTS[path] = path.read_text(encoding="utf-8", errors="replace")
    return _TEXTS[path]


def decode(text: str) -> list:
    records = list(analyze_lines([text]))
    assert isinstance(records[-1], Summary)
    return records


# --- long numbers ----------------------------------------------------------------------

_LONG = st.integers(4_290, 6_000).map(lambda n: "9" * n)
_WITH_NUMBER = st.sampled_from([
    "TRACE +0.000 Write {} bytes: c0c0",
    "TRACE +0.000 Read {} bytes:",
    "  TRACE +0.000   Read {} bytes:              c0",
    "TRACE +0.000 command op=0x08 data len={} wait_response=1 timeout=0.100 data=",
    "TRACE +0.000 command op=0x08 data len=4 wait_response={} timeout={} data=00000000",
    "  TRACE +0.000   --- Cmd SYNC (0x08) | data_len {} | wait_response 1 | timeout 0.100 | data",
    "  TRACE +0.000   --- Cmd SYNC (0x08) | data_len 0 | wait_response {} | timeout {} | data ---",
    "TRACE +0.000 Packet content transfer stopped (received {} bytes)",
    "TRACE +{} Read 1 bytes: c0",
    "TRACE +-{}.{} Read 1 bytes: c0",
])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_WITH_NUMBER, _LONG), min_size=1, max_size=4),
       st.sampled_from(["\n", "\r\n", "\r"]))
def test_numbers_past_the_int_string_limit_never_raise(lines, newline):
    text = newline.join(template.replace("{}", number) for template, number in lines) + newline
    decode(text)


def test_a_long_count_is_a_warning_on_its_line():
    records = decode("Connecting...\nTRACE +0.000 Write " + "9" * 5000 + " bytes: c0c0\n")
    warning = next(r for r in records if isinstance(r, WarningRecord))
    assert warning.line == 2 and "5,000 digits" in warning.message


# --- payloads past the 16-bit size field ------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(65_536, 70_000), st.sampled_from(FORMATS), st.booleans())
def test_command_payloads_past_65535_bytes_are_reported(size, fmt, with_write):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = _oversized(0x07, payload)
    conv = Conversation()
    conv.request(frame)
    text = render(conv, fmt)
    if not with_write:
        text = "\n".join(line for line in text.split("\n") if "Write" not in line)
    records = decode(text)
    cmd = next(r for r in records if isinstance(r, CommandRecord))
    assert cmd.problem  # the size field cannot say how long it is


def _oversized(op: int, payload: bytes) -> bytes:
    """A request frame with a payload no 16-bit size field can announce (esptool could not
    send it; a damaged or forged trace can hold it)."""
    return bytes([0, op]) + (len(payload) & 0xFFFF).to_bytes(2, "little") + bytes(4) + payload


# --- real captures cut anywhere ---------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TRACES), st.integers(0, 1 << 30), st.sampled_from(["\n", "\r\n", "\r"]))
def test_a_sample_cut_at_any_offset_decodes(path, offset, newline):
    text = sample_text(path)
    cut = text[: offset % (len(text) + 1)]
    decode(cut if newline == "\n" else cut.replace("\n", newline))


# --- line ends: LF, CRLF or a lone CR tell the same story --------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TRACES), st.lists(st.integers(0, 1 << 30), max_size=30), st.sampled_from(["\r\n", "\r"]))
def test_line_ends_do_not_change_the_records(path, cuts, newline):
    text = sample_text(path)
    other = text.replace("\n", newline)
    points = sorted({c % (len(other) + 1) for c in cuts})
    pieces = [other[a:b] for a, b in zip([0, *points], [*points, len(other)])]
    assert [r.to_json() for r in analyze_lines(pieces)] == [r.to_json() for r in analyze_lines([text])]


# --- the outcome follows from the evidence, wherever the trace stops ---------------------

_NEWLINES = ("\n", "\r\n", "\r")
_SMALL = sorted(TRACES, key=lambda p: p.stat().st_size)[:3]


def _cuts() -> list[tuple[Path, int]]:
    """Every sample cut every 4 KB (the real-size writes of up to 1 MB every 32 KB) and
    whole, and the smallest ones cut at every offset."""
    cuts = []
    for path in TRACES:
        size = len(sample_text(path))
        step = 4096 if size < 1 << 18 else 1 << 15
        offsets = range(0, size + 1) if path in _SMALL else [*range(0, size, step), size]
        cuts += [(path, k) for k in offsets]
    return cuts


def test_a_cut_session_is_never_ok():
    renderer = TextRenderer()
    seen = collections.Counter()
    for i, (path, k) in enumerate(_cuts()):
        whole = sample_text(path)
        newline = _NEWLINES[i % 3]
        text = whole[:k].replace("\n", newline)
        s = list(analyze_lines([text]))[-1]
        data = s.data
        seen[data["outcome"]] += 1
        shown = "\n".join(renderer.render(s))
        assert f"outcome   {data['outcome'] if data['outcome'] == 'ok' else data['outcome'].upper()}" in shown
        if data["outcome"] != "ok":
            continue
        where = f"{path.relative_to(SAMPLES)} cut at {k}"
        assert all(r["complete"] for r in data["regions"]) and "INCOMPLETE" not in shown, where
        assert all(r["received"] >= r["size"] for r in data["reads"]), where
        assert "fatal error" not in text and "Traceback" not in text, where
        assert CLOSING.search(text), where  # esptool's --after line is in the part kept
    assert seen["ok"] and seen["failed"] and seen["incomplete"]


def test_a_broken_deflate_stream_stops_the_md5_not_the_decoder():
    from espmon.conversation.story import Region

    region = Region(0x10000, 4096, 3, 0x4000, True, False, 1, 0.0)
    region.add_block(0, b"not zlib at all", 0.0)  # a block short of the rows esptool 5.6 dropped
    region.add_block(1, b"\x78\x9c more", 0.0)  # was AttributeError: 'bool' object has no attribute 'decompress'
    assert region.blocks == 2 and region.md5_of(4096) is None
