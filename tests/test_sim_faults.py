"""Every fault of the virtual board, each a case of esptool's troubleshooting guide, seen
through the real esptool (its exact message) or through what the board prints."""

from __future__ import annotations

import re

import pytest

from conftest import SAMPLES
from test_sim_esptool import wait_for_output

needs_samples = pytest.mark.skipif(not (SAMPLES / "esp32" / "flash_args").is_file(),
                                   reason="samples/firmware not built")
TWO_ATTEMPTS = ("--connect-attempts", "2")  # same message as the default 7, in a third of the time


def _fails_with(result: tuple[int, str], message: str) -> str:
    rc, out = result
    assert rc != 0, out
    assert message in out, out
    return out


@pytest.mark.parametrize("chip, strap", [("esp32", "0x13"), ("esp32c3", "0xc")])
def test_no_autoreset_gives_wrong_boot_mode(sim_server, run_esptool, chip, strap):
    board = sim_server(chip, "--fault", "no-autoreset")
    _fails_with(run_esptool(board.url, *TWO_ATTEMPTS, "chip-id"),
                f"Wrong boot mode detected ({strap})! The chip needs to be in download mode.")


def test_dead_tx_gives_no_serial_data(sim_server, run_esptool):
    board = sim_server("esp32", "--fault", "dead-tx")
    _fails_with(run_esptool(board.url, *TWO_ATTEMPTS, "chip-id"),
                "Failed to connect to Espressif device: No serial data received.")
    assert "waiting for download" in board.output_text()  # the board did talk


def test_dead_rx_gives_download_mode_but_no_sync_reply(sim_server, run_esptool):
    board = sim_server("esp32s3", "--fault", "dead-rx")
    _fails_with(run_esptool(board.url, *TWO_ATTEMPTS, "chip-id"),
                "Download mode successfully detected, but getting no sync reply: "
                "The serial TX path seems to be down.")
    assert not [r for r in board.records() if r.get("dir") == "in"]  # it never heard a byte


def test_noise_gives_invalid_head_of_packet(sim_server, run_esptool):
    board = sim_server("esp32", "--fault", "noise")
    out = _fails_with(run_esptool(board.url, "chip-id"), "Possible serial noise or corruption.")
    assert re.search(r"Invalid head of packet \(0x[0-9A-F]{2}\)", out)


@needs_samples
@pytest.mark.parametrize("chip, after", [
    ("esp32", r"Brownout detector was triggered\r\n\r\nets Jul 29 2019 12:21:46\r\n\r\nrst:0xc \(SW_CPU_RESET\)"),
    ("esp32s2", r"rst:0xf \(BROWN_OUT_RST\)"),
])
def test_brownout_resets_the_chip_part_way_through_a_write(sim_server, run_esptool, chip, after):
    board = sim_server(chip, "--fault", "brownout")
    # esptool 5.6 reads the reset's boot output as a bad packet, then its packet reader is
    # spent; what it prints in the end is this:
    _fails_with(run_esptool(board.url, "write-flash", "@flash_args", cwd=SAMPLES / chip),
                "No more data to read from the serial port.")
    wait_for_output(board, after)
    assert "Compressed" in run_esptool(board.url, "write-flash", "@flash_args", cwd=SAMPLES / chip)[1]


@needs_samples
def test_dio_only_flash_takes_a_qio_image_but_does_not_boot(sim_server, run_esptool):
    board = sim_server("esp32", "--fault", "dio-only")
    out = run_esptool(board.url, "write-flash", "0x1000", "bootloader-qio.bin", "0x8000", "partition-table.bin",
                      "0x10000", "app-qio.bin", cwd=SAMPLES / "esp32")
    assert out[0] == 0 and out[1].count("Hash of data verified.") == 3, out[1]
    text = wait_for_output(board, r"mode:QIO, clock div:2.*entry 0x40080400.*rst:0x10 \(RTCWDT_RTC_RESET\)")
    assert "2nd stage bootloader" not in text


@needs_samples
def test_no_bootloader_loops_on_invalid_header(sim_server):
    board = sim_server("esp32s2", "--fault", "no-bootloader", "--firmware", "demo")
    board.reset("flash")
    wait_for_output(board, r"invalid header: 0xffffffff.*rst:0x10 \(RTCWDT_RTC_RST\)")
