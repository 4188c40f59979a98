"""The real full-screen console in a real terminal (tmux), against virtual boards.

Each test runs ``espmon monitor`` in a private tmux server (its own socket), types keys
with ``send-keys`` and reads the screen with ``capture-pane``. Ground truth for what the
board sent comes from the board's ``record=`` JSON Lines file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from monitor_support import wait_for
from tmux_support import ROOT

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it: apt-get install tmux)"),
]
pytest.importorskip("espmon.sim.protocol_sim", reason="the virtual board (espmon.sim) is not in this checkout")

ELF = {chip: ROOT / "samples" / "firmware" / chip / "app.elf" for chip in ("esp32", "esp32c3")}


def _lines_after(screen: str, start: str) -> list[str]:
    lines = screen.splitlines()
    i = next(i for i, line in enumerate(lines) if start in line)
    return lines[i:]


def test_boot_banner_is_annotated_and_ctrl_bracket_exits(tmux):
    tmux.start(["sim://esp32?firmware=demo", "--no-reset"])
    screen = tmux.wait_screen("demo: hello from espmon-demo")
    assert "running" in screen and "ESP32" in screen  # the status bar
    tmux.keys(":/^rst:0x", "Enter")  # the banner has scrolled away: search back for it
    screen = tmux.wait_screen("search /^rst:0x/")
    after = _lines_after(screen, "rst:0x1 (POWERON_RESET)")
    assert after[1].startswith("  \u2514 "), after[:3]  # the dim explanation right under the reset line
    tmux.exit_cleanly()


def test_panic_backtrace_is_decoded_from_the_elf(tmux):
    tmux.start(["sim://esp32?firmware=demo&fault=panic", "--no-reset", "--elf", str(ELF["esp32"])])
    tmux.wait_screen("Rebooting...")
    tmux.keys(":/^Backtrace: 0x", "Enter")
    screen = tmux.wait_screen("search /^Backtrace")
    after = _lines_after(screen, "Backtrace: 0x")
    decoded = [line for line in after[1:6] if "\u2192" in line]
    assert any("store_reading at src/app.c:26" in line for line in decoded), after[:8]
    assert any("(inlined by) crash_here at src/app.c:32" in line for line in decoded), after[:8]
    assert any("app_main at src/app.c:" in line for line in after[:8])
    tmux.exit_cleanly()


def test_riscv_panic_is_unwound_from_the_stack_dump(tmux):
    tmux.start(["sim://esp32c3?firmware=demo&fault=panic", "--no-reset", "--elf", str(ELF["esp32c3"])])
    tmux.wait_screen("Rebooting...")
    tmux.keys(":/unwound from the stack", "Enter")
    screen = tmux.wait_screen("search /unwound")
    after = _lines_after(screen, "Backtrace (unwound from the stack dump)")
    assert "store_reading at src/app.c:26" in after[1]
    assert any("app_main at src/app.c:" in line for line in after[1:7])
    tmux.exit_cleanly()


def _record_out_bytes(record: Path) -> bytes:
    """What the board sent while a host could read it. From a reset that makes the USB port
    vanish until the port is back, output goes nowhere (as with a real re-enumeration)."""
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    out = bytearray()
    skipping = False
    for i, entry in enumerate(entries):
        if entry.get("event") == "reset":
            gone_next = next((e for e in entries[i + 1:] if e.get("event") in ("reset", "port")), None)
            skipping = gone_next is not None and gone_next.get("event") == "port" and not gone_next["present"]
        elif entry.get("event") == "port" and entry["present"]:
            skipping = False
        elif entry.get("dir") == "out" and "bytes" in entry and not skipping:
            out += bytes.fromhex(entry["bytes"])
    return bytes(out)


def test_usb_reenumeration_is_survived_with_nothing_lost(tmux, tmp_path):
    record, log = tmp_path / "board.jsonl", tmp_path / "console.log"
    url = f"sim://esp32c3?firmware=demo&fault=usb-reenumerate&record={record}&heartbeat=0.2"
    tmux.start([url, "--no-reset", "--log", str(log)])
    tmux.wait_screen("demo: hello from espmon-demo")
    tmux.keys("C-t", "C-r")
    screen = tmux.wait_screen("is back after")
    assert "(not reset)" in screen
    # the app keeps printing after the port came back, and it reaches the screen
    ticks_before = log.read_bytes().count(b"app: tick")
    assert wait_for(lambda: log.read_bytes().count(b"app: tick") >= ticks_before + 3, 20)
    tmux.exit_cleanly()
    sent = _record_out_bytes(record)
    got = log.read_bytes()
    assert got == sent, f"log and board differ: {len(got)} vs {len(sent)} bytes"
    text = (tmp_path / "console.log.txt").read_text()
    assert "disappeared" in text and "is back after" in text


def test_rfc2217_board_reset_key(tmux, tmp_path, sim_server):
    board = sim_server("esp32", "--firmware", "demo")  # `espmon sim` in its own process
    tmux.start([board.url, "--no-reset", "--log", str(tmp_path / "c.log")])
    tmux.wait_screen("app: tick", 30)  # the board booted before we connected: no banner yet

    def resets() -> int:
        return sum(1 for r in board.records() if r.get("event") == "reset")

    before = resets()
    tmux.keys("C-t", "C-r")
    assert wait_for(lambda: resets() > before, 20), board.output_text()[-2000:]
    text = tmp_path / "c.log.txt"
    assert wait_for(lambda: "demo: hello from espmon-demo" in text.read_text(), 20), text.read_text()[-2000:]
    assert "rst:0x1 (POWERON_RESET)" in text.read_text()
    tmux.wait_screen("demo: hello from espmon-demo")
    tmux.exit_cleanly()
