"""The real esp-idf-monitor (1.10, non-TTY script mode) on the virtual board over RFC 2217:
it shows the boot log, and its reset (Ctrl+T Ctrl+R in a terminal) reaches the board."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import SAMPLES, esptool_env

needs_samples = pytest.mark.skipif(not (SAMPLES / "esp32" / "flash_args").is_file(),
                                   reason="samples/firmware not built")


def run_monitor(url: str, script: str, timeout: float = 60) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "esp_idf_monitor", "-p", url], input=script,
                          capture_output=True, text=True, timeout=timeout, env=esptool_env(fast=True))
    return proc.returncode, proc.stdout + proc.stderr


@needs_samples
def test_monitor_shows_the_flashed_boot_log_and_its_reset_reaches_the_board(sim_server, run_esptool):
    board = sim_server("esp32c3")
    rc, out = run_esptool(board.url, "write-flash", "@flash_args", cwd=SAMPLES / "esp32c3")
    assert rc == 0, out
    script = "\n".join([
        # the monitor resets the board when it starts: the whole boot log
        r"expect --timeout 10 rst:0x1 \(POWERON\),boot:0xc \(SPI_FAST_FLASH_BOOT\)",
        r"expect --timeout 5 Project name: +espmon-demo",
        r"expect --timeout 5 hello from espmon-demo on ESP32-C3",
        r"expect --timeout 5 tick 1",
        "reset",  # what Ctrl+T Ctrl+R does in a terminal
        r"expect --timeout 5 ESP-ROM:esp32c3-api1-20210207",
        r"expect --timeout 5 App version: +1.0.0",
        "send panic",
        r"expect --timeout 5 Store access fault",
        r"expect --timeout 5 rst:0x3 \(RTC_SW_SYS_RST\)",
        "exit", ""])
    boots_before = board.status()["boots"]
    rc, out = run_monitor(board.url, script)
    assert rc == 0, out
    assert board.status()["boots"] >= boots_before + 3  # monitor start, its reset, the panic
    resets = [r for r in board.records() if r.get("event") == "reset"]
    assert [r["mode"] for r in resets[-3:]] == ["flash", "flash", "flash"]


def test_monitor_bootloader_command_enters_download_mode(sim_server):
    board = sim_server("esp32", "--firmware", "demo")
    rc, out = run_monitor(board.url, "\n".join([
        r"expect --timeout 10 Project name: +espmon-demo",
        "bootloader",  # Ctrl+T Ctrl+P
        r"expect --timeout 5 boot:0x3 \(DOWNLOAD_BOOT\(UART0/UART1/SDIO_REI_REO_V2\)\)",
        r"expect --timeout 5 waiting for download",
        "exit", ""]))
    assert rc == 0, out
    assert board.status()["state"] == "download"
