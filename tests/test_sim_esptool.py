"""The real esptool CLI (esptool 5.6 from PyPI, a separate process) against the virtual
board served over RFC 2217, with esptool's default reset (DTR/RTS over RFC 2217)."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from conftest import CHIPS, SAMPLES

DESCRIPTIONS = {
    "esp32": ("ESP32-D0WD-V3 (revision v3.0)", "40MHz", "24:6f:28:a1:b2:c4"),
    "esp32s2": ("ESP32-S2 (revision v0.0)", "40MHz", "7c:df:a1:02:33:44"),
    "esp32s3": ("ESP32-S3 (QFN56) (revision v0.2)", "40MHz", "f4:12:fa:4a:5b:6c"),
    "esp32c3": ("ESP32-C3 (QFN32) (revision v0.4)", "40MHz", "58:cf:79:12:34:56"),
    "esp32c6": ("ESP32-C6 (QFN40) (revision v0.1)", "40MHz", "40:4c:ca:1a:2b:3c"),
    "esp8266": ("ESP8266EX", "26MHz", "ac:d0:74:3e:5f:61"),
}
needs_samples = pytest.mark.skipif(not (SAMPLES / "esp32" / "flash_args").is_file(),
                                   reason="samples/firmware not built")


def _ok(result: tuple[int, str]) -> str:
    rc, out = result
    assert rc == 0, out
    return out


def wait_for_output(board, pattern: str, timeout: float = 5.0) -> str:
    """Wait until the board's record shows ``pattern`` in what it printed."""
    deadline = time.monotonic() + timeout
    while True:
        text = board.output_text()
        if re.search(pattern, text, re.DOTALL):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} not printed by the board; it printed {text[-800:]!r}")
        time.sleep(0.05)


@needs_samples
@pytest.mark.parametrize("chip", CHIPS)
def test_identify_then_flash_the_samples_and_boot(sim_server, run_esptool, chip):
    board = sim_server(chip)
    description, crystal, mac = DESCRIPTIONS[chip]
    out = _ok(run_esptool(board.url, "chip-id"))
    assert f"Chip type:          {description}" in out
    assert f"Crystal frequency:  {crystal}" in out
    assert re.search(rf"MAC:\s+{mac}", out)
    assert "Detected crystal freq" not in out and "doesn't appear to be" not in out
    if chip == "esp8266":
        assert "Chip ID: 0x013e5f61" in out
    out = _ok(run_esptool(board.url, "flash-id"))
    assert "Manufacturer: ef" in out and "Device: 4016" in out and "Detected flash size: 4MB" in out
    out = _ok(run_esptool(board.url, "read-mac"))
    assert re.search(rf"MAC:\s+{mac}", out)

    # write-flash @flash_args of the sample, then esptool's hard reset boots it
    out = _ok(run_esptool(board.url, "write-flash", "@flash_args", cwd=SAMPLES / chip))
    assert out.count("Hash of data verified.") == len((SAMPLES / chip / "flash_args").read_text().splitlines()) - 1
    assert "Hard resetting via RTS pin..." in out
    wait_for_output(board, r"Project name:     espmon-demo.*hello from espmon-demo")


@pytest.mark.parametrize("chip", ["esp32", "esp32s2", "esp32c3"])
def test_write_verify_read_erase_with_stub_rom_and_921600(sim_server, run_esptool, tmp_path, chip):
    board = sim_server(chip)
    text = tmp_path / "text.bin"  # compresses well: FLASH_DEFL_*
    text.write_bytes(b"".join(b"line %05d of the flash test\n" % n for n in range(2500)))
    noise = tmp_path / "noise.bin"  # incompressible: plain FLASH_DATA
    noise.write_bytes(hashlib.sha256(b"seed").digest() * 160)

    out = _ok(run_esptool(board.url, "write-flash", "0x10000", str(text)))
    assert re.search(r"Wrote \d+ bytes \(\d+ compressed\) at 0x00010000", out)
    _ok(run_esptool(board.url, "--no-stub", "write-flash", "0x40000", str(noise)))
    for offset, image in (("0x10000", text), ("0x40000", noise)):
        assert "Verification successful (digest matched)." in _ok(
            run_esptool(board.url, "verify-flash", offset, str(image)))
    back = tmp_path / "back.bin"
    _ok(run_esptool(board.url, "read-flash", "0x10000", str(text.stat().st_size), str(back)))
    assert back.read_bytes() == text.read_bytes()
    _ok(run_esptool(board.url, "--no-stub", "read-flash", "0x40000", "4096", str(back)))
    assert back.read_bytes() == noise.read_bytes()[:4096]

    out = _ok(run_esptool(board.url, "--baud", "921600", "write-flash", "0x80000", str(noise)))
    assert "Changed." in out and "Hash of data verified." in out
    out = _ok(run_esptool(board.url, "--baud", "921600", "read-flash", "0x80000", str(noise.stat().st_size), str(back)))
    assert back.read_bytes() == noise.read_bytes()
    out = _ok(run_esptool(board.url, "--baud", "921600", "--no-stub", "verify-flash", "0x10000", str(text)))
    assert "Verification successful" in out
    assert any(r.get("event") == "baud" and r["baud"] == 921600 for r in board.records())

    assert "Flash memory erased successfully" in _ok(run_esptool(board.url, "erase-flash"))
    _ok(run_esptool(board.url, "read-flash", "0x10000", "256", str(back)))
    assert back.read_bytes() == b"\xff" * 256


def test_stock_pyserial_without_the_test_speed_up(sim_server, run_esptool):
    board = sim_server("esp32")
    out = _ok(run_esptool(board.url, "--no-stub", "read-mac", fast=False))
    assert "MAC:                24:6f:28:a1:b2:c4" in out


def test_esptool_as_a_library_over_a_sim_url(sim_port):
    from esptool.cmds import detect_chip, read_flash, write_flash

    port = sim_port("esp32c3", start="download")
    url = port.url
    port.close()  # esptool opens the same board by its URL
    esp = detect_chip(url)
    try:
        assert esp.CHIP_NAME == "ESP32-C3"
        esp = esp.run_stub()
        data = bytes(range(256)) * 40
        write_flash(esp, [(0x10000, data)])
        assert read_flash(esp, 0x10000, len(data), None) == data
        assert esp._port.board.flash.read(0x10000, len(data)) == data
    finally:
        esp._port.close()
