"""``espmon sim``: help, the pty transport with the control channel, one-line errors and
a clean exit on SIGTERM."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


def test_help_lists_faults_and_the_control_commands():
    out = subprocess.run([sys.executable, "-m", "espmon", "sim", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=30).stdout
    for word in ("--rfc2217", "--pty", "--control", "--record", "--firmware", "no-autoreset", "dead-tx",
                 "dead-rx", "noise", "brownout", "dio-only", "no-bootloader", "panic", "usb-reenumerate",
                 "reset download", "reset flash", "status", "50 ms", "--pty"):
        assert word in out, word


@pytest.mark.parametrize("args, message", [
    (["--flash", "/nonexistent/image.bin"], "/nonexistent/image.bin: No such file or directory"),
    (["--record", "/nonexistent/dir/board.jsonl"], "/nonexistent/dir/board.jsonl: No such file or directory"),
    (["--fault", "smoke"], "unknown fault 'smoke'"),
    (["--flash-size", "3MB"], "flash size must be a power of two"),
])
def test_bad_options_give_one_line_errors(args, message):
    proc = subprocess.run([sys.executable, "-m", "espmon", "sim", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.startswith("espmon: error: ") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_pty_transport_with_control_channel_resets(sim_server, run_esptool, tmp_path):
    board = sim_server("esp32c6", "--pty", "--start", "download")
    assert board.url.startswith("/dev/pts/")
    rc, out = run_esptool(board.url, "--before", "no-reset", "--after", "no-reset", "chip-id")
    assert rc == 0 and "ESP32-C6 (QFN40) (revision v0.1)" in out, out
    # The stub keeps running after --after no-reset; a control reset brings the ROM back.
    board.reset("download")
    image = tmp_path / "img.bin"
    image.write_bytes(bytes(range(256)) * 64)
    rc, out = run_esptool(board.url, "--before", "no-reset", "--baud", "921600", "write-flash", "0x20000", str(image))
    assert rc == 0 and "Hash of data verified." in out, out
    assert board.status()["state"] == "download"  # no modem lines on a pty: no hard reset
    board.reset("flash")
    assert board.status()["state"] in ("booting", "loop")


def test_sigterm_stops_the_board_cleanly(sim_server):
    board = sim_server("esp32")
    assert board.status()["chip"] == "esp32"
    assert board.stop() == 0
    assert board.records()[0] == {**board.records()[0], "event": "reset", "mode": "flash"}


def test_a_port_out_of_range_is_refused_by_the_parser():
    proc = subprocess.run([sys.executable, "-m", "espmon", "sim", "--rfc2217", "127.0.0.1:99999"],
                          capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert proc.returncode == 2
    assert "port from 0 to 65535" in proc.stderr and "Traceback" not in proc.stderr


def _hint(board) -> str:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in board.log.read_text().splitlines():
            if "esptool --port" in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no esptool hint on stderr: {board.log.read_text()}")


def test_pty_prints_the_esptool_command_that_works_with_default_options(sim_server, run_esptool, tmp_path):
    """Stock esptool and pyserial, esptool's default --before/--after, the command as printed."""
    import shlex

    board = sim_server("esp32c3", "--pty")
    hint = _hint(board)
    words = shlex.split(hint.split("espmon sim: ", 1)[1].split(" works", 1)[0])
    assert words[:3] == ["esptool", "--port", board.url], hint
    for _ in range(2):  # and again after esptool's hard reset, which a pty cannot carry
        rc, out = run_esptool(*words[2:], fast=False)
        assert rc == 0 and "ESP32-C3" in out, out
    image = tmp_path / "app.bin"
    image.write_bytes(bytes(range(256)) * 256)
    rc, out = run_esptool(board.url, "write-flash", "0x10000", str(image), fast=False)
    assert rc == 0 and "Hash of data verified." in out, out
    board.reset("flash")  # the control channel boots what was written
    assert board.status()["state"] in ("booting", "loop")


def test_rfc2217_and_pty_in_flash_mode_say_what_esptool_needs(sim_server):
    assert "about 9 s a command with stock pyserial" in _hint(sim_server("esp32"))
    assert "--before no-reset chip-id" in _hint(sim_server("esp32", "--pty", "--start", "flash"))
