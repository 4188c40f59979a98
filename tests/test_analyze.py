"""espmon.conversation.analyzer: pairing, latency, retries, the session story and the JSON Lines schema,
on conversations rendered the way esptool prints them; and the whole pipeline never raises."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from trace_support import Conversation, render

from espmon.conversation.analyzer import analyze_lines
from espmon.conversation.records import (
    CommandRecord,
    FrameRecord,
    InvalidRecord,
    ResponseRecord,
    Summary,
    TimeoutRecord,
    WarningRecord,
)
from espmon.conversation.render import TextRenderer
from parsers.protocol import OHAI, SYNC_DATA, build_request, build_response
from parsers.slip import slip_encode

SYNC = build_request(0x08, SYNC_DATA)


def words(*values: int) -> bytes:
    return b"".join(struct.pack("<I", v) for v in values)


def exchange(conv: Conversation, request: bytes, *replies: bytes, delta: float = 0.004) -> None:
    conv.request(request)
    stream = b"".join(slip_encode(r) for r in replies)
    if stream:
        conv.chip(stream, delta=delta)
    for r in replies:
        conv.packet(r)


def analyze(conv: Conversation, fmt: str = "v5") -> list:
    return list(analyze_lines([render(conv, fmt)]))


def summary(records) -> dict:
    assert isinstance(records[-1], Summary)
    return records[-1].to_json()


def connect(conv: Conversation, magic: int = 0x00F01D83, status_len: int = 4) -> None:
    conv.text("Connecting...")
    exchange(conv, SYNC, *[build_response(0x08, 0x20120707, status_len=status_len)] * 8)
    exchange(conv, build_request(0x0A, words(0x40001000)), build_response(0x0A, magic, status_len=status_len))


def upload_stub(conv: Conversation) -> None:
    exchange(conv, build_request(0x05, words(16, 1, 0x1800, 0x40090000)), build_response(0x05))
    exchange(conv, build_request(0x07, words(16, 0, 0, 0) + bytes(16)), build_response(0x07))
    exchange(conv, build_request(0x06, words(0, 0x40090004)), build_response(0x06), OHAI)


def test_sync_replies_pair_with_latency_and_repeats():
    conv = Conversation()
    connect(conv)
    assert summary(analyze(conv))["outcome"] == "incomplete"  # no closing line yet
    conv.text("Hard resetting via RTS pin...")
    records = analyze(conv)
    responses = [r for r in records if isinstance(r, ResponseRecord)]
    assert [r.repeat for r in responses[:8]] == list(range(8))
    assert responses[0].latency == 0.004 and all(r.latency is None for r in responses[1:8])
    assert responses[0].command_line == next(r for r in records if isinstance(r, CommandRecord)).line
    s = summary(records)
    assert s["chip"] == "ESP32" and s["commands"] == 2 and s["responses"] == 9 and s["outcome"] == "ok"


def test_chip_from_uart_date_register_and_from_security_info():
    conv = Conversation()
    exchange(conv, build_request(0x0A, words(0x60000078)), build_response(0x0A, 0x00062000, status_len=2))
    assert summary(analyze(conv, "v2-repr"))["chip"] == "ESP8266"
    conv = Conversation()
    info = struct.pack("<IB7BII", 0, 0, *([0] * 7), 5, 0)
    exchange(conv, build_request(0x14), build_response(0x14, data=info))
    s = summary(analyze(conv))
    assert s["chip"] == "ESP32-C3" and "chip_id = 5" in s["chip_evidence"]


def test_stub_write_with_md5_baud_and_throughput():
    image = bytes(range(256)) * 40
    packed = zlib.compress(image, 9)
    conv = Conversation()
    connect(conv)
    upload_stub(conv)
    exchange(conv, build_request(0x0F, words(460800, 115200)), build_response(0x0F, status_len=2))
    exchange(conv, build_request(0x10, words(len(image), 1, 0x4000, 0x10000, 0)), build_response(0x10, status_len=2))
    exchange(conv, build_request(0x11, words(len(packed), 0, 0, 0) + packed), build_response(0x11, status_len=2),
             delta=0.020)
    exchange(conv, build_request(0x13, words(0x10000, len(image), 0, 0)),
             build_response(0x13, data=hashlib.md5(image).digest(), status_len=2))
    conv.text("Hash of data verified.")
    conv.text("Staying in flasher stub.")
    records = analyze(conv)
    frames = [r for r in records if isinstance(r, FrameRecord)]
    assert [f.what for f in frames] == ["OHAI"]
    s = summary(records)
    assert s["stub"] is True and s["baud"] == [115200, 460800]
    (region,) = s["regions"]
    assert region["offset"] == 0x10000 and region["size"] == len(image)
    assert region["compressed_size"] == len(packed) and region["blocks"] == 1 and region["md5"] == "ok"
    assert region["seconds"] > 0 and region["kbit_s"] > 0
    assert s["md5_checks"][0]["result"] == "ok" and s["outcome"] == "ok"


def test_md5_mismatch_is_an_error():
    block = b"\x11" * 0x400
    conv = Conversation()
    exchange(conv, build_request(0x02, words(0x400, 1, 0x400, 0x1000)), build_response(0x02))
    exchange(conv, build_request(0x03, words(0x400, 0, 0, 0) + block), build_response(0x03))
    exchange(conv, build_request(0x13, words(0x1000, 0x400, 0, 0)),
             build_response(0x13, data=hashlib.md5(b"other").hexdigest().encode()))
    s = summary(analyze(conv))
    assert s["regions"][0]["md5"] == "mismatch" and any("MD5" in e for e in s["errors"])


def test_read_flash_data_acks_and_digest():
    data = bytes(range(64))
    conv = Conversation()
    exchange(conv, build_request(0xD2, words(0, 64, 32, 2)), build_response(0xD2, status_len=2), data[:32])
    conv.ack(32)
    conv.chip(slip_encode(data[32:]))
    conv.ack(64)  # esptool acks the last block too, then reads the digest
    conv.chip(slip_encode(hashlib.md5(data).digest()))
    records = analyze(conv)
    frames = [(f.sender, f.what) for f in records if isinstance(f, FrameRecord)]
    assert frames == [("chip", "read_data"), ("host", "read_ack"), ("chip", "read_data"), ("host", "read_ack"),
                      ("chip", "read_md5")]
    s = summary(records)
    assert s["reads"][0]["received"] == 64 and s["reads"][0]["md5"] == "ok"


def test_error_status_retries_and_failure_without_esptool_text():
    block = b"\x22" * 16
    req = build_request(0x03, words(16, 0, 0, 0) + block)
    conv = Conversation()
    exchange(conv, req, build_response(0x03, status=0xC1, status_len=2))
    exchange(conv, req, build_response(0x03, status=0xC1, status_len=2))
    records = analyze(conv)
    commands = [r for r in records if isinstance(r, CommandRecord)]
    assert [c.retry for c in commands] == [0, 1]
    bad = [r for r in records if isinstance(r, ResponseRecord)]
    assert bad[0].error == 0xC1 and bad[0].error_text == "bad data checksum"
    s = summary(records)
    assert s["outcome"] == "failed" and "bad data checksum" in s["errors"][0]


def test_timeouts_and_stray_bytes_are_reported_and_advice_quoted():
    conv = Conversation()
    conv.request(SYNC, timeout=0.1)
    conv.timeout("No serial data received.")
    conv.request(SYNC, timeout=0.1)
    conv.chip(b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13\r\n")
    conv.text("A fatal error occurred: Failed to connect to ESP32: Wrong boot mode detected (0x13)! "
              "The chip needs to be in download mode.")
    records = analyze(conv, "v2-v4")
    assert [r.op for r in records if isinstance(r, TimeoutRecord)] == ["SYNC"]
    (invalid,) = [r for r in records if isinstance(r, InvalidRecord)]
    assert invalid.byte == ord("e") and invalid.to_json()["text"].startswith("ets Jun")
    s = summary(records)
    assert s["outcome"] == "failed" and s["errors"][0].startswith("A fatal error occurred: Failed to connect")
    assert s["advice"][0]["section"].startswith("Wrong boot mode detected")
    assert "boot log" in s["evidence"]


def test_truncated_trace():
    conv = Conversation()
    conv.request(SYNC, timeout=0.1)
    conv.chip(slip_encode(build_response(0x08, 0x20120707))[:7])
    records = analyze(conv)
    assert any(isinstance(r, WarningRecord) and "cut short" in r.message for r in records)
    s = summary(records)
    assert s["outcome"] == "incomplete" and "SYNC" in s["errors"][-1] and "waits for its reply" in s["errors"][-1]


def test_json_schema_keys():
    conv = Conversation()
    connect(conv)
    conv.timeout("Serial data stream stopped: Possible serial noise or corruption.")
    conv.chip(b"\x1b\xc0")
    conv.text("esptool.py v4.7.0")
    lines = [json.loads(json.dumps(r.to_json())) for r in analyze(conv, "v2-v4")]
    required = {
        "command": {"kind", "line", "t", "op", "opcode", "fields"},
        "response": {"kind", "line", "t", "op", "opcode", "value", "status", "error", "error_text", "latency", "fields"},
        "timeout": {"kind", "line"}, "invalid": {"kind", "line", "byte"}, "text": {"kind", "line", "text"},
        "warning": {"kind", "line", "message"},
        "summary": {"kind", "format", "chip", "stub", "commands", "responses", "timeouts", "baud", "regions",
                    "outcome", "errors"},
    }
    seen = set()
    for rec in lines:
        seen.add(rec["kind"])
        assert required.get(rec["kind"], {"kind", "line"}) <= set(rec), rec
        assert isinstance(rec["line"], int) and rec["line"] >= 1
    assert {"command", "response", "timeout", "invalid", "text", "summary"} <= seen
    assert lines[-1]["kind"] == "summary" and lines[-1]["format"] == "v2-v4"
    first = next(r for r in lines if r["kind"] == "command")
    assert first["op"] == "SYNC" and first["opcode"] == 8
    assert lines[-1]["outcome"] in ("ok", "failed", "incomplete", "unknown")


def test_renderer_folds_sync_replies_and_never_prints_controls():
    conv = Conversation()
    connect(conv)
    conv.text("evil \x1b]0;title\x07 text")
    renderer = TextRenderer(color=False)
    lines: list[str] = []
    for rec in analyze(conv):
        lines += renderer.render(rec)
    lines += renderer.flush()
    text = "\n".join(lines)
    assert "(x8)" in text and "\x1b" not in text and "\x07" not in text
    assert "CHIP_DETECT_MAGIC" in text and "Session" in text


_alphabet = st.sampled_from(
    ["TRACE +0.001 ", "  TRACE +0.000   ", "Read 14 bytes: ", "Write 14 bytes: ", "Received full packet: ",
     "command op=0x0a data len=4 wait_response=1 timeout=3.000 data=", "c0", "01", "0a", "04", "00", "db", "d2",
     "13", "10", "11", "4f484149", "\n", " ", "|", "A fatal error occurred: x", "Traceback (most recent call last)",
     "ValueError: y", "Chip is ESP32", "Timed out waiting for packet header", "Read invalid data: 1b"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_alphabet, st.text(max_size=12)), max_size=80))
def test_pipeline_never_raises(parts):
    records = list(analyze_lines(["".join(parts)]))
    assert isinstance(records[-1], Summary)
    json.dumps([r.to_json() for r in records])
    renderer = TextRenderer(color=True)
    for r in records:
        renderer.render(r)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["5.6.0/write-flash-baud", "2.3.1/read-flash", "2.8/fault-noise", "4.7.0/fault-brownout"]),
       st.lists(st.integers(0, 10**6), max_size=20))
def test_records_do_not_depend_on_the_chunking(sample, cuts):
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "samples" / "traces" / f"{sample}.trace.txt").read_text()
    whole = [r.to_json() for r in analyze_lines([text])]
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
    assert [r.to_json() for r in analyze_lines(pieces)] == whole
    assert [r.to_json() for r in analyze_lines(text.splitlines(keepends=True))] == whole


def test_rows_eaten_by_esptool_5_6s_rich_console_and_its_crash():
    block = bytes(range(256)) * 4
    conv = Conversation()
    exchange(conv, build_request(0x02, words(len(block), 1, 0x400, 0x1000)), build_response(0x02))
    exchange(conv, build_request(0x03, words(len(block), 0, 0, 0) + block), build_response(0x03))
    lines = render(conv, "v5").split("\n")
    # rich dropped rows 10-15 of both the command dump and the Write dump.
    cmd = next(i for i, l in enumerate(lines) if "Cmd FLASH_DATA" in l)
    write = next(i for i, l in enumerate(lines) if "Write 1054 bytes" in l or ("Write" in l and i > cmd))
    for start in (write + 10, cmd + 10):
        del lines[start:start + 6]
    lines += ["Traceback (most recent call last):", '  File "esptool/loader.py", line 599, in command',
              "rich.errors.MarkupError: closing tag '[/3K%...' at position 40 doesn't match any open tag"]
    records = list(analyze_lines(["\n".join(lines)]))
    (data_cmd,) = [r for r in records if isinstance(r, CommandRecord) and r.op == "FLASH_DATA"]
    assert data_cmd.fields["seq"] == 0 and "missing from the trace" in data_cmd.problem
    assert "checksum_ok" not in data_cmd.fields
    s = summary(records)
    assert s["outcome"] == "failed" and s["errors"][0].startswith("esptool crashed: rich.errors.MarkupError")
    assert "bug of esptool 5.6" in s["errors"][1]
    assert s["regions"][0]["md5"] is None


def test_a_loopback_port_echoes_every_request():
    conv = Conversation()
    for _ in range(2):
        conv.request(SYNC, timeout=0.1)
        conv.chip(slip_encode(SYNC))
        conv.packet(SYNC)
        conv.timeout("Serial data stream stopped: Possible serial noise or corruption.")
    records = analyze(conv)
    assert [r.what for r in records if isinstance(r, FrameRecord)] == ["echo", "echo"]
    s = summary(records)
    assert s["echoes"] == 2 and "loopback" in s["evidence"] and s["outcome"] == "failed"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["A fatal error occurred: x", "FatalError: y", "esptool.util.FatalError: z",
                                 "A serial exception error occurred: ", "Hard resetting", "Leaving...",
                                 "Staying in bootloader", "Hash of data verified", "Flash memory erased",
                                 "Chip erase completed", "Erase completed", "Read 4096 bytes at 0x0",
                                 "Read 16 bytes from", "Chip ID:", "Detected flash size", "MAC:", "Manufacturer:",
                                 " ", "  ", "ERROR", "error", "Read", "bytes", "\t", "x"]), max_size=6),
       st.text(max_size=20))
def test_the_story_skips_a_search_only_where_it_could_not_match(pieces, noise):
    # Story.text searches a line for a fatal error or a line of success only when it
    # holds a word each pattern needs; the skip must never change what is found.
    from espmon.conversation import story

    for line in ("".join(pieces) + noise, noise + "".join(pieces), " ".join(pieces)):
        if story._FATAL.search(line):
            assert story._FATAL_WORD in line
        if story._DONE.search(line.strip()):
            assert any(word in line for word in story._DONE_WORDS)
