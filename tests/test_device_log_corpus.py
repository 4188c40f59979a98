"""Every log in samples/logs parses to the events its .expected.json lists, and keeps doing
so when the transport or the terminal mangles it (CRLF, timestamp prefixes, indentation).

Regenerate expectations deliberately: ``python tests/device_log_corpus.py --update NAME``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_log_corpus import corpus_files, describe, expected_path, parse, read_lines, to_json  # noqa: E402

FILES = corpus_files()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_corpus_file_gives_its_expected_events(path):
    expected = expected_path(path)
    assert expected.exists(), f"{expected.name} missing: run python tests/device_log_corpus.py --update {path.stem}"
    assert describe(path) == json.loads(expected.read_text(encoding="utf-8"))


def _same_events(lines: list[str], mangled: list[str]) -> None:
    want = [to_json(e) for e in parse(lines)[0]]
    got = [to_json(e) for e in parse(mangled)[0]]
    assert got == want


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_crlf_does_not_change_the_events(path):
    lines = read_lines(path)
    _same_events(lines, [line + "\r" for line in lines])


@pytest.mark.parametrize("prefix", ["12:34:56.789 -> ", "12:34:56.789 > ", "[Tue Feb 19 18:02:49.225 2019] "])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_terminal_timestamps_do_not_change_the_events(path, prefix):
    lines = read_lines(path)
    _same_events(lines, [prefix + line for line in lines])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_collapsed_whitespace_keeps_the_event_kinds(path):
    lines = read_lines(path)
    collapsed = [re.sub(r"[ \t]+", " ", line) for line in lines]
    kinds = [type(e).__name__ for e in parse(lines)[0]]
    assert [type(e).__name__ for e in parse(collapsed)[0]] == kinds


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_line_cut_in_two_never_breaks_the_parser(path):
    """A terminal that wraps at 80 columns: every long line becomes two."""
    wrapped = []
    for line in read_lines(path):
        wrapped += [line[:80], line[80:]] if len(line) > 80 else [line]
    events, parser = parse(wrapped)
    assert all(e.line >= 1 for e in events)


def test_corpus_is_big_enough_and_covers_every_chip_family_and_event_kind():
    assert len(FILES) >= 30
    chips, kinds = set(), set()
    for path in FILES:
        data = json.loads(expected_path(path).read_text(encoding="utf-8"))
        chips.add(data["chip"])
        for event in data["events"]:
            kinds.add(event["event"])
            if event["event"] in ("RomBanner", "ResetInfo"):
                chips.add(event["chip"])
    assert {"ESP32", "ESP32-S2", "ESP32-S3", "ESP32-C2", "ESP32-C3", "ESP32-C6", "ESP32-P4", "ESP8266"} <= chips
    assert {
        "RomBanner", "RomBuild", "ResetInfo", "SavedPC", "RomFlashMode", "RomLoad", "RomEntry",
        "WaitingForDownload", "InvalidHeader", "FlashReadError", "ChecksumError", "RomHalt", "RomHashMismatch",
        "Esp8266Reset",
        "BootloaderStart", "BootloaderError", "LogLine", "Brownout", "GuruMeditation", "Abort", "AssertFailed",
        "StackOverflow", "StackSmashing", "HeapCorruption", "TaskWatchdog", "Backtrace", "Panic",
        "Esp8266Exception", "SoftWatchdog", "Rebooting", "CpuHalted",
    } <= kinds


def test_every_corpus_file_has_a_provenance_row():
    readme = (FILES[0].parent / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in FILES if f"`{p.name}`" not in readme]
    assert not missing, f"samples/logs/README.md lacks {missing}"
