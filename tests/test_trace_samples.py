"""The real captures in samples/traces (esptool 2.3 .. 5.6 against the virtual board):
every frame the trace shows is a frame the board recorded, byte for byte, both ways;
failures report the error esptool printed; successes tell the right story."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from espmon.conversation.analyzer import analyze_lines
from espmon.conversation.records import Summary
from parsers.trace import TraceParser, TraceWarning
from parsers.trace_frames import CHIP, HOST, Frame, FrameAssembler

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "traces"
MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())
FAILURES = [m for m in MANIFEST if m["fault"]]
SUCCESSES = [m for m in MANIFEST if not m["fault"] and m["expect"] != "markup-crash"]
# esptool 5.6 writes of real-size images: its rich console dropped hexdump rows.
DROPPED = [m for m in MANIFEST if m["expect"] in ("rows-dropped", "markup-crash")]
CHIP_NAMES = {"esp32": "ESP32", "esp32s2": "ESP32-S2", "esp32s3": "ESP32-S3", "esp32c3": "ESP32-C3",
              "esp32c6": "ESP32-C6", "esp8266": "ESP8266"}


def ident(entry: dict) -> str:
    return f"{entry['version']}-{entry['name']}"


def text_of(entry: dict) -> str:
    return (SAMPLES / entry["trace"]).read_text(encoding="utf-8", errors="replace")


def trace_events(entry: dict) -> list:
    parser, frames = TraceParser(), FrameAssembler()
    out = []
    for ev in parser.feed(text_of(entry)) + parser.end():
        out += frames.feed(ev)
    return out + frames.end()


def board_frames(entry: dict) -> tuple[list[bytes], list[bytes]]:
    records = [json.loads(line) for line in (SAMPLES / entry["board"]).read_text().splitlines() if line]
    inbound = [bytes.fromhex(r["frame"]) for r in records if r.get("dir") == "in" and "frame" in r]
    outbound = [bytes.fromhex(r["frame"]) for r in records if r.get("dir") == "out" and "frame" in r]
    return inbound, outbound


def is_subsequence(part: list[bytes], whole: list[bytes]) -> bool:
    it = iter(whole)
    return all(any(p == w for w in it) for p in part)


def test_the_samples_cover_every_version_scenario_and_fault():
    versions = {m["version"] for m in MANIFEST}
    assert {"2.3.1", "2.8", "3.3.3", "4.7.0", "5.0.0", "5.6.0"} <= versions
    names = {m["name"] for m in MANIFEST}
    assert {"chip-id", "flash-id", "write-flash-baud", "write-flash-no-stub", "read-flash", "erase-flash"} <= names
    assert {m["fault"] for m in FAILURES} == {"no-autoreset", "dead-tx", "dead-rx", "noise", "brownout"}


@pytest.mark.parametrize("entry", DROPPED, ids=ident)
def test_rows_esptool_dropped_are_reported_and_every_other_frame_is_the_boards(entry):
    events = trace_events(entry)
    host = [e for e in events if isinstance(e, Frame) and e.sender == HOST]
    chip = [e.data for e in events if isinstance(e, Frame) and e.sender == CHIP]
    board_in, board_out = board_frames(entry)
    warnings = [e.message for e in events if isinstance(e, TraceWarning)]
    short = [f for f in host if not f.complete]
    assert short and len(warnings) >= len(short)
    if entry["expect"] == "markup-crash":
        # esptool died while printing a block's header, before its Write: the board never
        # got that block (rich printed the rest of the dump in its traceback).
        assert len(host) == len(board_in) + 1 and not host[-1].complete
        host = host[:-1]
        warnings = [w for w in warnings if "no Write record" not in w and "no TRACE record before" not in w]
    assert all(" dump has " in w and " of " in w for w in warnings)
    assert len(host) == len(board_in)
    for got, sent in zip(host, board_in):
        if got.complete:
            assert got.data == sent
        else:
            # What survived: the op and the block header (length, seq); not all the bytes.
            assert got.data[:2] == sent[:2] and got.data[8:24] == sent[8:24] and len(got.data) < len(sent)
    assert chip == board_out[:len(chip)] and (entry["expect"] == "markup-crash" or chip == board_out)


@pytest.mark.parametrize("entry", DROPPED, ids=ident)
def test_a_write_with_dropped_rows_says_its_md5_was_not_checked_and_goes_on(entry):
    from espmon.conversation.render import TextRenderer

    records = list(analyze_lines([text_of(entry)]))
    s = records[-1].data
    region = s["regions"][0]
    assert region["md5"] is None and region["missing_bytes"] > 0 and region["damaged_blocks"] > 0
    shown = "\n".join(TextRenderer().render(records[-1]))
    assert "MD5 not checked: " in shown and " are missing from the trace" in shown
    if entry["expect"] == "markup-crash":
        assert s["outcome"] == "failed" and "MarkupError" in s["errors"][0] and not region["complete"]
    else:
        # Every block was sent and acknowledged, and the chip's MD5 matched esptool's.
        assert s["outcome"] == "ok" and region["complete"] and region["blocks"] == region["blocks_expected"]
        assert region["size"] == entry["image_size"]
        assert "Hash of data verified" in text_of(entry)


@pytest.mark.parametrize("entry", [m for m in MANIFEST if m not in DROPPED], ids=ident)
def test_capture_decodes_to_the_frames_the_board_recorded(entry):
    events = trace_events(entry)
    host = [e.data for e in events if isinstance(e, Frame) and e.sender == HOST]
    chip = [e.data for e in events if isinstance(e, Frame) and e.sender == CHIP]
    board_in, board_out = board_frames(entry)
    assert [e for e in events if isinstance(e, TraceWarning)] == []
    assert all(e.complete for e in events if isinstance(e, Frame))
    if entry["fault"] == "dead-rx":
        # The board never heard the host: esptool's requests are all in the trace, unanswered.
        assert board_in == [] and chip == [] and host and all(f[1] == 0x08 for f in host)
        return
    assert host == board_in
    if entry["fault"] == "dead-tx":
        assert chip == [] and board_out  # the board answered into a dead line
    elif entry["expect"] == "exact":
        assert chip == board_out
    else:
        # esptool flushed what came after a bad byte without tracing it.
        assert chip and is_subsequence(chip, board_out)


@pytest.mark.parametrize("entry", FAILURES, ids=ident)
def test_failure_captures_report_the_error_esptool_printed(entry):
    records = list(analyze_lines([text_of(entry)]))
    summary = records[-1]
    assert isinstance(summary, Summary)
    s = summary.data
    assert s["outcome"] == "failed"
    assert any(expected in s["errors"][0] for expected in entry["errors"]), s["errors"]
    assert s["error_line"] is not None and s["advice"]


@pytest.mark.parametrize("entry", SUCCESSES, ids=ident)
def test_success_captures_tell_the_story(entry):
    s = list(analyze_lines([text_of(entry)]))[-1].data
    assert s["outcome"] == "ok", s["errors"]
    assert s["chip"] == CHIP_NAMES[entry["chip"]]
    assert s["stub"] is ("no-stub" not in entry["name"])
    assert s["esptool"] == entry["version"].rstrip(".0") or s["esptool"].startswith(entry["version"])
    assert s["timeouts"] == 0 and s["invalid"] == 0 and (s["warnings"] == 0 or entry in DROPPED)
    if entry in DROPPED:
        assert s["warnings"] > 0 and all(r["complete"] and r["md5"] is None for r in s["regions"])
    elif "write-flash" in entry["name"]:
        assert s["regions"] and all(r["complete"] and r["md5"] == "ok" for r in s["regions"])
    if "baud" in entry["name"]:
        assert s["baud"] and s["baud"][-1] in (460800, 446148)  # the ESP32 ROM gets a crystal-scaled value
    if entry["name"] == "read-flash":
        assert s["reads"][0]["received"] == 0x2000 and s["reads"][0]["md5"] == "ok"
    if entry["name"] == "erase-flash":
        assert s["erased"]
