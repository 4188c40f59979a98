"""espmon doctor on captures: each fault of the virtual board, captured with espmon capture
(the real esptool 5 in-process), is diagnosed with the right rule first; a clean session
has no findings; every line number is a line of the capture file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FAULT_RULE = {"no-autoreset": "wrong-boot-mode", "dead-tx": "no-serial-data", "dead-rx": "no-sync-reply",
              "noise": "invalid-head", "brownout": "brownout"}


def _capture(tmp_path: Path, fault: str | None, *esptool: str) -> Path:
    out = tmp_path / f"{fault or 'clean'}.jsonl"
    url = "sim://esp32?firmware=demo" + (f"&fault={fault}" if fault else "")
    subprocess.run([sys.executable, "-m", "espmon", "capture", url, "-o", str(out), "--quiet", "--",
                    "--connect-attempts", "2", *esptool], capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    return out


def _doctor(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "espmon", "doctor", str(path), "--json"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("fault", sorted(FAULT_RULE))
def test_each_fault_captured_is_diagnosed_with_its_rule_first(tmp_path, fault):
    app = Path(__file__).resolve().parents[1] / "samples" / "firmware" / "esp32" / "app.bin"
    extra = ["write-flash", "0x10000", str(app)] if fault == "brownout" else ["chip-id"]
    path = _capture(tmp_path, fault, *extra)
    report = _doctor(path)
    assert report["input"] == "capture"
    assert report["findings"], report
    assert report["findings"][0]["rule"] == FAULT_RULE[fault], [f["rule"] for f in report["findings"]]
    lines = len(path.read_text().splitlines())
    for finding in report["findings"]:
        assert all(1 <= n <= lines for n in finding["evidence"])


def test_a_clean_capture_has_no_findings(tmp_path):
    report = _doctor(_capture(tmp_path, None, "chip-id"))
    assert report["input"] == "capture" and report["chip"] == "esp32"
    assert report["findings"] == []
    assert report["session"]["outcome"] == "ok"
