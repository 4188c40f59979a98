"""The console's loader commands in a real terminal: flash, flash again, Ctrl+T Ctrl+A, each
time the new boot log appears and typing still reaches the board (the port never closes)."""

from __future__ import annotations

import re
import shutil

import pytest
from monitor_support import wait_for
from tmux_support import ROOT

pytestmark = [pytest.mark.tmux, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def _project_console(tmux, tmp_path):
    """`espmon flash --project ... --monitor` in the console on an empty board (the first flash
    makes it boot), with a text log; returns (the log's path, count(text) in the log)."""
    text = tmp_path / "c.log.txt"
    tmux.start(["sim://esp32?heartbeat=0", "--project", str(ROOT / "samples" / "project" / "esp32"), "--monitor",
                "--log", str(tmp_path / "c.log")], command="flash")
    tmux.wait_screen("demo: hello from espmon-demo", 30)

    def count(what: str) -> int:
        return text.read_text(errors="replace").count(what) if text.exists() else 0

    return text, count


def test_flash_twice_then_the_app_only_in_the_console(tmux, tmp_path):
    text, count = _project_console(tmux, tmp_path)

    for round_, keys in enumerate(([":flash", "Enter"], [":flash", "Enter"], ["C-t", "C-a"]), 1):
        boots, done = count("hello from espmon-demo"), count("the chip was reset on the same port")
        tmux.keys(*keys)
        assert wait_for(lambda: count("the chip was reset on the same port") > done, 30), text.read_text()[-3000:]
        assert wait_for(lambda: count("hello from espmon-demo") > boots, 20), text.read_text()[-3000:]
        tmux.keys(f"echo typed-after-flash-{round_}", "Enter")  # the demo app logs what it is told to echo
        echoed = re.compile(rf"I \(\d+\) \w+: typed-after-flash-{round_}")
        assert wait_for(lambda: echoed.search(text.read_text(errors="replace")), 10), text.read_text()[-2000:]
    assert count("Hash of data verified") >= 3 + 3 + 1  # two full sets, then the app alone
    assert "Traceback" not in tmux.stderr(), tmux.stderr()


def test_capture_and_trace_in_the_console_hold_the_boot_log_and_the_loader(tmux, tmp_path):
    """`:capture on`, `:trace on`, `:flash`, `:capture off`: the capture decodes to the
    loader's packets with the chip's boot output around them, and the trace showed the
    packets inline while the flash ran."""
    import json
    import subprocess
    import sys

    capture = tmp_path / "console.jsonl"
    text, count = _project_console(tmux, tmp_path)

    tmux.keys(f":capture on {capture}", "Enter")
    assert wait_for(lambda: count("capture on") == 1, 10)
    tmux.keys(":trace on", "Enter")
    boots, done = count("hello from espmon-demo"), count("the chip was reset on the same port")
    tmux.keys(":flash-app", "Enter")
    assert wait_for(lambda: count("the chip was reset on the same port") > done, 30), text.read_text()[-3000:]
    assert wait_for(lambda: count("hello from espmon-demo") > boots, 20)
    tmux.keys(":capture off", "Enter")
    assert wait_for(lambda: count("capture off") == 1, 10), text.read_text()[-2000:]
    log_text = text.read_text(errors="replace")
    assert "FLASH_DEFL_DATA" in log_text  # the trace showed the loader's packets inline
    tmux.exit_cleanly()
    done = subprocess.run([sys.executable, "-m", "espmon", "decode", str(capture), "--json"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    ops = [r["op"] for r in records if r["kind"] == "command"]
    assert "FLASH_DEFL_DATA" in ops and "SYNC" in ops
    device = [r["text"] for r in records if r["kind"] == "text" and r["text"].startswith("device: ")]
    assert any("hello from espmon-demo" in line for line in device)  # the new boot, after the flash
    assert records[-1]["outcome"] == "ok"


def test_erase_asks_first_and_verify_reads_back(tmux, tmp_path):
    text, count = _project_console(tmux, tmp_path)
    tmux.keys(":verify", "Enter")
    assert wait_for(lambda: count("verify: done") == 1, 30), text.read_text()[-2000:]
    assert count("Verification successful") == 3  # esptool's own words, one per image
    tmux.keys(":erase", "Enter")
    tmux.wait_screen("[y/N]")
    tmux.keys("n")
    tmux.wait_screen("not done: erase the WHOLE flash")
    assert count("erase: done") == 0
    tmux.keys(":erase", "Enter")
    tmux.wait_screen("[y/N]")
    tmux.keys("y")
    assert wait_for(lambda: count("erase: done") == 1, 30), text.read_text()[-2000:]
    assert wait_for(lambda: count("invalid header: 0xffffffff") >= 1, 20)  # nothing left to boot
    tmux.exit_cleanly()


def test_a_brownout_during_flash_is_one_line_and_the_console_stays_usable(tmux, tmp_path):
    log = tmp_path / "c.log"
    text = tmp_path / "c.log.txt"
    app = ROOT / "samples" / "firmware" / "esp32" / "app.bin"
    tmux.start(["sim://esp32?firmware=demo&fault=brownout&heartbeat=0", "--no-reset", "--log", str(log)])
    tmux.wait_screen("espmon", 20)

    def read() -> str:
        return text.read_text(errors="replace") if text.exists() else ""

    tmux.keys(f":flash 0x10000 {app}", "Enter")
    assert wait_for(lambda: "flash: " in read() and "failed" in read(), 60), read()[-3000:]
    failure = [line for line in read().splitlines() if "failed" in line and "error" in line]
    assert failure and "brownout" in read().lower()
    # The guide's advice is its own log line, written just after the error line.
    assert wait_for(lambda: "troubleshooting guide" in read(), 10), read()[-3000:]
    tmux.keys(":chip", "Enter")  # the console and the loader still work
    assert wait_for(lambda: "chip: done" in read(), 60), read()[-2000:]
    tmux.exit_cleanly()
