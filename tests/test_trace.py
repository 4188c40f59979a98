"""parsers.trace / parsers.hexdump / parsers.trace_frames: every esptool format, real
paste damage, any chunking, and garbage that never raises."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_support import FORMATS, Conversation, mangle, render

from parsers.hexdump import format_hexdump, is_cut_marker, parse_dump_line, parse_joined_dump, parse_repr_bytes
from parsers.protocol import SYNC_DATA, build_request, build_response
from parsers.slip import slip_encode
from parsers.trace import (
    FORMAT_HEX,
    FORMAT_REPR,
    FORMAT_V5,
    TextLine,
    TraceBytes,
    TraceCommand,
    TraceFormat,
    TraceMessage,
    TraceParser,
    TraceTimeout,
    TraceWarning,
    parse_trace,
)
from parsers.trace_frames import CHIP, HOST, EscapeError, Frame, FrameAssembler, PartialFrame, Stray

SYNC_REQ = build_request(0x08, SYNC_DATA)
SYNC_REPLY = build_response(0x08, 0x20120707, status_len=4)


def frames_of(text: str, chunks: list[str] | None = None) -> list:
    parser, asm = TraceParser(), FrameAssembler()
    out = []
    for chunk in chunks if chunks is not None else [text]:
        for ev in parser.feed(chunk):
            out += asm.feed(ev)
    for ev in parser.end():
        out += asm.feed(ev)
    return out + asm.end()


def wire(events) -> list[tuple[str, bytes]]:
    return [(e.sender, e.data) for e in events if isinstance(e, Frame)]


def warnings(events) -> list:
    return [e for e in events if isinstance(e, TraceWarning)]


# --- hexdump ---------------------------------------------------------------------------


def test_dump_line_forms():
    canonical = "    0707122055555555 5555555555555555 | ... UUUUUUUUUUUU"
    data = bytes.fromhex("07071220" + "55" * 12)
    assert parse_dump_line(canonical) == data
    assert parse_dump_line(canonical.strip()) == data  # indentation lost
    assert parse_dump_line("0707122055555555 5555555555555555 | ... UUUUUUUUUUUU") == data
    assert parse_dump_line("    55555555                          | UUUU ---") == b"U" * 4
    assert parse_dump_line("55555555 | UUUU") == b"U" * 4  # spaces collapsed
    assert parse_dump_line("    0707122055555555 5555555555555555") == data  # ASCII view cut
    assert parse_dump_line("Chip is ESP32-D0WD (revision 1)") is None
    assert parse_dump_line("abc | x") is None  # odd number of digits
    assert parse_dump_line("07071220 55555555 | x") is None  # first group short while a second follows


def test_joined_dump_rows_are_split_by_their_ascii_width():
    data = bytes(range(0x20, 0x20 + 40))
    rows = format_hexdump(data).strip("\n").split("\n")
    joined = " ".join(" ".join(r.split()) for r in rows)
    assert parse_joined_dump(joined, len(data)) == data


def test_repr_bytes():
    assert parse_repr_bytes("b'\\xc0\\x00\\x08$ UU\\xc0'") == (b"\xc0\x00\x08$ UU\xc0", True, "")
    assert parse_repr_bytes("'\\x07\\x07\\x12 UU'") == (b"\x07\x07\x12 UU", True, "")
    assert parse_repr_bytes('b"it\'s"') == (b"it's", True, "")
    assert parse_repr_bytes("b'\\n\\r\\t\\\\'") == (b"\n\r\t\\", True, "")
    assert parse_repr_bytes("b'\\xc0\\x00") == (b"\xc0\x00", False, "")  # cut paste
    assert parse_repr_bytes("c0000824") is None


def test_cut_markers():
    assert is_cut_marker(".") and is_cut_marker("...") and is_cut_marker("  [...] ")
    assert not is_cut_marker("") and not is_cut_marker("Changed.")


# --- single lines of each format ---------------------------------------------------------


def test_v2_repr_lines():
    text = (
        "esptool.py v2.3.1\n"
        "Connecting...TRACE +0.000 command op=0x08 data len=36 wait_response=1 timeout=0.100 data=b'\\x07\\x07\\x12 "
        + "U" * 32 + "'\n"
        "TRACE +0.000 Write 46 bytes: " + repr(slip_encode(SYNC_REQ)) + "\n"
        "TRACE +0.100 Timed out waiting for packet header\n"
        ".TRACE +0.050 Full packet: b'\\x01\\x08'\n"
    )
    events = parse_trace(text)
    assert events[0] == TextLine(1, "esptool.py v2.3.1")
    assert events[1] == TextLine(2, "Connecting...")
    assert events[2] == TraceFormat(2, FORMAT_REPR)
    assert events[3] == TraceCommand(2, 0.0, 8, None, 36, True, 0.1, SYNC_DATA, True)
    assert events[4] == TraceBytes(3, 0.0, "write", slip_encode(SYNC_REQ), 46, True)
    assert events[5] == TraceTimeout(4, 0.1, "Timed out waiting for packet header", None)
    assert events[6] == TextLine(5, ".")
    assert events[7] == TraceBytes(5, 0.15, "packet", b"\x01\x08", None, True)


def test_v5_lines_and_empty_payloads():
    text = (
        "\n  TRACE +0.000   --- Cmd GET_SECURITY_INFO (0x14) | data_len 0 | wait_response 1 | timeout 3.000 | data  ---\n"
        "  TRACE +0.000   Write 10 bytes:       c00014000000000000c0\n"
        "  TRACE +0.002   Packet content transfer stopped \n"
        "  TRACE +0.001   --- Cmd READ_REG (0x0a) | data_len 4 | wait_response 1 | timeout 3.000 | data 00100040 ---\n"
        "  TRACE +0.000   Retrying... whatever a patched esptool says\n"
    )
    events = [e for e in parse_trace(text) if not isinstance(e, TraceFormat)]
    assert events[0] == TraceCommand(2, 0.0, 0x14, "GET_SECURITY_INFO", 0, True, 3.0, b"", True)
    assert isinstance(events[1], TraceBytes) and events[1].declared == 10 and events[1].complete
    assert events[2] == TraceTimeout(4, 0.002, "Packet content transfer stopped", None)
    assert events[3] == TraceCommand(5, 0.003, 0x0A, "READ_REG", 4, True, 3.0, bytes.fromhex("00100040"), True)
    assert events[4] == TraceMessage(6, 0.003, "Retrying... whatever a patched esptool says")


def test_v5_rich_markup_around_the_name():
    line = "  TRACE +0.000   --- Cmd [not dim blue]SYNC[/not dim blue] (0x08) | data_len 0 | wait_response 1 | timeout 0.100 | data  ---"
    (fmt, cmd) = parse_trace(line)
    assert fmt == TraceFormat(1, FORMAT_V5) and cmd.name == "SYNC"


def test_h2_timeout_with_count_and_ansi_codes():
    events = parse_trace("\x1b[2mTRACE +3.001 Packet content transfer stopped (received 6 bytes)\x1b[0m\n")
    assert events == [TraceTimeout(1, 3.001, "Packet content transfer stopped (received 6 bytes)", 6)]


def test_foreign_formats_are_flagged_once():
    text = "TRACE 4983.000 Read 1 bytes: c0\nTRACE 4984.000 Read 1 bytes: 01\n"
    events = parse_trace(text)
    assert [type(e) for e in events] == [TraceWarning, TextLine, TextLine]
    assert "esptool-js" in events[0].message


def test_orphan_dump_lines_give_one_warning():
    text = "    5555555555555555 5555555555555555 | UUUUUUUUUUUUUUUU\n    55555555 | UUUU\nChanged.\n"
    events = parse_trace(text)
    assert len(warnings(events)) == 1 and events[-1] == TextLine(3, "Changed.")


def test_overlong_line_is_cut_not_buffered(monkeypatch):
    import parsers.trace as trace

    monkeypatch.setattr(trace, "MAX_LINE", 100)
    parser = TraceParser()
    events = parser.feed("x" * 250) + parser.feed("y" * 50 + "\nnext\n") + parser.end()
    assert events[0] == TextLine(1, "x" * 100)
    assert isinstance(events[1], TraceWarning)
    assert events[2] == TextLine(2, "next")


# --- whole conversations in every format -------------------------------------------------


def sample_conversation(rng: random.Random) -> tuple[Conversation, list[tuple[str, bytes]]]:
    """A connect + detect + write + read conversation with random chunking of the reads."""
    conv, expect = Conversation(), []

    def req(frame: bytes, **kw) -> None:
        conv.request(frame, **kw)
        expect.append((HOST, frame))

    def chip(frames: list[bytes], noise: bytes = b"") -> None:
        stream = noise + b"".join(slip_encode(f) for f in frames)
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(0, 4))))
        last = 0
        for cut in [*cuts, len(stream)]:
            conv.chip(stream[last:cut])
            last = cut
        for f in frames:
            conv.packet(f)
            expect.append((CHIP, f))

    conv.text("Connecting...")
    req(SYNC_REQ, timeout=0.1)
    chip([SYNC_REPLY] * 8)
    conv.text("Detecting chip type... ESP32")
    req(build_request(0x0A, (0x40001000).to_bytes(4, "little")))
    chip([build_response(0x0A, 0x00F01D83)])
    block = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) + b"\xc0\xdb"
    req(build_request(0x02, b"".join(x.to_bytes(4, "little") for x in (len(block), 1, 0x400, 0x1000))))
    chip([build_response(0x02)])
    req(build_request(0x03, len(block).to_bytes(4, "little") + (0).to_bytes(4, "little") + bytes(8) + block))
    chip([build_response(0x03, data=b"")])
    req(build_request(0xD2, b"".join(x.to_bytes(4, "little") for x in (0, 64, 32, 2))))
    chip([build_response(0xD2, status_len=2), block[:32]])
    conv.ack(32)
    expect.append((HOST, (32).to_bytes(4, "little")))
    chip([block[32:64], b"\x11" * 16])
    conv.ack(64)
    expect.append((HOST, (64).to_bytes(4, "little")))
    conv.text("Hard resetting via RTS pin...")
    return conv, expect


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("how", [None, "crlf", "rstrip", "dedent", "collapse", "fence"])
def test_every_format_and_paste_damage_gives_the_frames(fmt, how):
    for seed in range(5):
        conv, expect = sample_conversation(random.Random(seed))
        text = render(conv, fmt)
        if how is not None:
            if fmt == "v2-repr" and how == "collapse":
                continue  # repr() strings hold meaningful runs of spaces
            text = mangle(text, how)
        events = frames_of(text)
        assert wire(events) == expect, (fmt, how, seed)
        assert warnings(events) == [], warnings(events)
        formats = [e.family for e in events if isinstance(e, TraceFormat)]
        assert formats == [{"v2-repr": FORMAT_REPR, "v2-v4": FORMAT_HEX, "v5": FORMAT_V5}[fmt]]


def test_glued_one_line_paste_gives_the_frames():
    conv, expect = sample_conversation(random.Random(1))
    text = mangle(render(conv, "v2-v4"), "collapse").replace("\n", " ")
    assert wire(frames_of(text)) == expect


def test_timeout_resets_the_reader_and_reports_the_partial_reply():
    conv = Conversation()
    conv.request(SYNC_REQ, timeout=0.1)
    reply = slip_encode(SYNC_REPLY)
    conv.chip(reply[:10])
    conv.timeout("Packet content transfer stopped (received 9 bytes)")
    conv.request(SYNC_REQ, timeout=0.1)
    conv.chip(reply)
    conv.packet(SYNC_REPLY)
    events = frames_of(render(conv, "v2-v4"))
    assert wire(events) == [(HOST, SYNC_REQ), (HOST, SYNC_REQ), (CHIP, SYNC_REPLY)]
    partial = [e for e in events if isinstance(e, PartialFrame)]
    assert len(partial) == 1 and partial[0].data == SYNC_REPLY[:9] and partial[0].reason == "timeout"
    assert warnings(events) == []


def test_noise_becomes_stray_and_later_frames_are_marked_discarded():
    text = (
        "TRACE +0.000 command op=0x08 data len=36 wait_response=1 timeout=0.100 data=" + str_hexdump(SYNC_DATA) + "\n"
        "TRACE +0.000 Write 46 bytes: " + str_hexdump(slip_encode(SYNC_REQ)) + "\n"
        "TRACE +0.001 Read 5 bytes: 1b2c3dc0c0\n"
        "TRACE +0.000 Read invalid data: 1b2c3dc0c0\n"
        "TRACE +0.000 Remaining data in serial buffer: " + slip_encode(b"\x01\x08\x00\x00abcd").hex() + "\n"
    )
    events = frames_of(text)
    stray = [e for e in events if isinstance(e, Stray)]
    assert stray == [Stray(9, 0.001, b"\x1b\x2c\x3d", 0)]  # the Read record's line
    chip = [e for e in events if isinstance(e, Frame) and e.sender == CHIP]
    assert [(f.data, f.discarded) for f in chip] == [(b"\x01\x08\x00\x00abcd", True)]


def test_bad_escape_is_reported():
    text = "TRACE +0.000 Read 6 bytes: c00108db41c0\nTRACE +0.000 Read invalid data: c00108db41c0\n"
    events = frames_of(text)
    assert [e for e in events if isinstance(e, EscapeError)] == [EscapeError(1, 0.0, 0x41)]


def test_missing_read_bytes_fall_back_to_the_packet_line():
    text = "TRACE +0.001 Received full packet: " + SYNC_REPLY.hex() + "\n"
    events = frames_of(text)
    assert wire(events) == [(CHIP, SYNC_REPLY)] and events[0].source == "packet"


def test_missing_write_falls_back_to_the_command_header():
    text = "TRACE +0.000 command op=0x0a data len=4 wait_response=1 timeout=3.000 data=00100040\n"
    events = frames_of(text)
    assert wire(events) == [(HOST, build_request(0x0A, bytes.fromhex("00100040")))]
    assert len(warnings(events)) == 1


def test_cut_dump_lines_are_reported_and_the_reader_resyncs():
    conv = Conversation()
    conv.request(SYNC_REQ, timeout=0.1)
    replies = [SYNC_REPLY] * 3
    conv.chip(b"".join(slip_encode(f) for f in replies))
    text = render(conv, "v2-v4").split("\n")
    # Replace the middle row of the Read dump with "...".
    read_at = next(i for i, l in enumerate(text) if "Read " in l)
    text[read_at + 2] = "..."
    events = frames_of("\n".join(text))
    assert len(warnings(events)) >= 1
    assert (CHIP, SYNC_REPLY) in wire(events)


def str_hexdump(data: bytes) -> str:
    return format_hexdump(data)


# --- chunking never matters; garbage never raises ----------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from(FORMATS), st.lists(st.integers(0, 100_000), max_size=40))
def test_any_split_gives_the_same_events(seed, fmt, cuts):
    conv, _ = sample_conversation(random.Random(seed))
    text = render(conv, fmt)
    whole = frames_of(text)
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
    assert frames_of(text, pieces) == whole
    assert parse_trace(text) == _by_chunks(text, pieces)


def _by_chunks(text: str, pieces: list[str]) -> list:
    parser = TraceParser()
    out = []
    for p in pieces:
        out += parser.feed(p)
    return out + parser.end()


def test_byte_by_byte_gives_the_same_events():
    conv, _ = sample_conversation(random.Random(7))
    text = render(conv, "v5")
    assert frames_of(text, list(text)) == frames_of(text)


_trace_alphabet = st.sampled_from(
    ["TRACE +0.001 ", "  TRACE +0.000   ", "Read 5 bytes: ", "Write 46 bytes: ", "Received full packet: ",
     "command op=0x08 data len=36 wait_response=1 timeout=0.100 data=", "--- Cmd SYNC (0x08) | data_len 36 | "
     "wait_response 1 | timeout 0.100 | data ", "    0707122055555555 5555555555555555 | ... UUUUUUUUUUUU",
     "c0", "db", "dc", "0108", " ", "\n", "\r\n", "|", "---", ".", "...", "b'\\xc0", "'", "Read invalid data: ",
     "Remaining data in serial buffer: ", "Timed out waiting for packet header", "\x1b[2m", "TRACE +", "TRACE 12.0 "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_trace_alphabet, st.text(max_size=20)), max_size=60))
def test_random_trace_like_text_never_raises(parts):
    text = "".join(parts)
    frames_of(text)
    frames_of(text, list(text[:200]))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(FORMATS), st.integers(0, 2**32), st.data())
def test_mangled_real_traces_never_raise(seed, fmt, mangle_seed, data):
    conv, _ = sample_conversation(random.Random(seed))
    lines = render(conv, fmt).split("\n")
    rng = random.Random(mangle_seed)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(lines))
        op = rng.choice(["drop", "cut", "dup", "swap", "flip"])
        if op == "drop":
            del lines[i]
        elif op == "cut":
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif lines[i]:
            j = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:j] + rng.choice("0f c|.-") + lines[i][j + 1:]
        if not lines:
            break
    frames_of("\n".join(lines))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["x" * 7, "TRACE +0.001 Read 2 bytes: c0c0", "\n", "    0707 | ..", "y"]),
                max_size=30), st.lists(st.integers(0, 400), max_size=10))
def test_overlong_lines_do_not_depend_on_the_chunking(parts, cuts):
    import parsers.trace as trace

    text = "".join(parts)
    saved = trace.MAX_LINE
    trace.MAX_LINE = 20
    try:
        points = sorted({c % (len(text) + 1) for c in cuts})
        pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
        assert _by_chunks(text, pieces) == parse_trace(text) == _by_chunks(text, list(text))
    finally:
        trace.MAX_LINE = saved


# --- the short ways of TraceParser.feed are what feed_line does ----------------------------

_SAMPLES = sorted((Path(__file__).resolve().parent.parent / "samples" / "traces").glob("*/*.trace.txt"))


def _line_by_line(text: str) -> list:
    parser = TraceParser()
    out = []
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        out += parser.feed_line(line)
    return out + parser.end()


def _damaged(text: str, rng: random.Random) -> str:
    """Lines a paste or a terminal damaged: colour codes, upper-case hex, a lost digit,
    text glued in front, a CR inside, two records on one line."""
    lines = text.split("\n")
    for i in rng.sample(range(len(lines)), min(len(lines), 40)):
        line = lines[i]
        how = rng.randrange(7)
        if how == 0:
            lines[i] = line.replace("TRACE", "\x1b[2mTRACE\x1b[0m", 1)
        elif how == 1:
            lines[i] = line.upper().replace("TRACE +", "TRACE +")
        elif how == 2 and len(line) > 3:
            lines[i] = line[:-1]
        elif how == 3:
            lines[i] = "Connecting..." + line.lstrip()
        elif how == 4:
            lines[i] = line.replace("   ", " \r ", 1)
        elif how == 5 and i + 1 < len(lines):
            lines[i] = line + lines[i + 1]
        else:
            lines[i] = line.replace(" | data", " | data ---", 1).replace("bytes:", "bytes: ", 1)
    return "\n".join(lines)


@pytest.mark.parametrize("path", _SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_feed_gives_what_feed_line_gives_on_every_sample(path):
    text = path.read_text(encoding="utf-8")
    assert parse_trace(text) == _line_by_line(text)
    for how in ("rstrip", "dedent", "collapse", "fence"):
        mangled = mangle(text, how)
        assert parse_trace(mangled) == _line_by_line(mangled), how
    damaged = _damaged(text, random.Random(path.name))
    assert parse_trace(damaged) == _line_by_line(damaged)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from(FORMATS), st.integers(0, 2**32))
def test_feed_gives_what_feed_line_gives_on_generated_traces(seed, fmt, damage):
    conv, _ = sample_conversation(random.Random(seed))
    text = _damaged(render(conv, fmt), random.Random(damage))
    assert parse_trace(text) == _line_by_line(text)
