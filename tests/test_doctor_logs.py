"""`espmon doctor` reads each device log of samples/logs/ with the facts its .expected.json holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from espmon.commands.decode import read_text_chunks
from espmon.commands.doctor import diagnose
from parsers.chips import find_chip

LOGS = Path(__file__).resolve().parents[1] / "samples" / "logs"
CASES = sorted(p.with_suffix("").with_suffix("").name for p in LOGS.glob("*.expected.json"))


def _doctor(path: Path) -> dict:
    with open(path, "rb") as f:
        return diagnose(read_text_chunks(f, str(path)), str(path))


def _frame(f) -> list[int]:
    if isinstance(f, str):
        f = f.split(":")
    return [int(v, 16) if isinstance(v, str) else v for v in f]


def test_the_corpus_is_all_there():
    assert len(CASES) >= 80


@pytest.mark.parametrize("name", CASES)
def test_doctor_reads_the_expected_facts(name):
    expected = json.loads((LOGS / f"{name}.expected.json").read_text())
    report = _doctor(LOGS / f"{name}.txt")
    events = expected["events"]
    assert report["input"] in ("device-log", "mixed")
    resets = [e for e in events if e["event"] in ("ResetInfo", "Esp8266Reset")]
    assert [r["line"] for r in report["resets"]] == [e["line"] for e in resets]
    for got, want in zip(report["resets"], resets):
        assert got["rst"] == (want.get("code") if "code" in want else want.get("cause"))
        if want.get("name"):
            assert got["name"] == want["name"]
        if want["event"] == "ResetInfo":
            assert (got["mode"] == "download") == want["download"]
    panics = [e for e in events if e["event"] == "Panic"]
    assert [(p["line"], p["cause"]) for p in report["panics"]] == [(e["line"], e["cause"]) for e in panics]
    for got, want in zip(report["panics"], panics):
        assert got["backtrace"] == [_frame(f) for f in want["backtrace"]]
        assert got["corrupted"] == want["corrupted"]
    if expected["chip"]:
        assert report["chip"] == find_chip(expected["chip"]).key
    # a finding always points at lines of the file
    for finding in report["findings"]:
        assert finding["evidence"] and all(1 <= n <= report["lines"] for n in finding["evidence"])
