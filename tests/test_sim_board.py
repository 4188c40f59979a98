"""The board's boot behaviour, in process through ``sim://``: ROM banners, the auto-reset
circuit and its latch model, what a flash boot prints for each chip, boot loops, the
app's commands and crash dumps, and a port that vanishes on reset."""

from __future__ import annotations

import json
import re
import time

import pytest
import serial

from conftest import CHIPS, SAMPLES, read_until
from espmon.sim import registry
from espmon.sim.control import handle_command

ESPTOOL_BOOT_RE = re.compile(rb"boot:(0x[0-9a-fA-F]+)(.*waiting for download)?", re.DOTALL)
needs_samples = pytest.mark.skipif(not (SAMPLES / "esp32" / "merged.bin").is_file(),
                                   reason="samples/firmware not built")


def classic_reset(port, step: float = 0.0, reset_delay: float = 0.05) -> None:
    """esptool's ClassicReset, with every line change stretched by ``step`` seconds the
    way an RFC 2217 link stretches it (one acknowledged SET_CONTROL per write)."""

    def dtr(value):
        port.dtr = value
        time.sleep(step)

    def rts(value):
        port.rts = value
        time.sleep(step)
        dtr(port.dtr)  # esptool re-writes DTR after every RTS change

    dtr(False)
    rts(True)
    time.sleep(0.1)
    dtr(True)
    rts(False)
    time.sleep(reset_delay)
    dtr(False)


def hard_reset(port) -> None:
    port.dtr = False
    port.rts = True
    time.sleep(0.1)
    port.rts = False


@pytest.mark.parametrize("chip, lines", [
    ("esp32", [b"ets Jul 29 2019 12:21:46",
               b"rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))"]),
    ("esp32s2", [b"ESP-ROM:esp32s2-rc4-20191025", b"Build:Oct 25 2019",
                 b"rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0/1))"]),
    ("esp32s3", [b"ESP-ROM:esp32s3-20210327", b"rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))"]),
    ("esp32c3", [b"ESP-ROM:esp32c3-api1-20210207", b"rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART0/1))"]),
    ("esp32c6", [b"ESP-ROM:esp32c6-20220919", b"rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART0/SDIO_FEI_FEO))"]),
])
def test_download_banner_is_what_esptool_looks_for(sim_port, chip, lines):
    data = read_until(sim_port(chip, start="download"), "waiting for download")
    for line in lines:
        assert line + b"\r\n" in data
    match = ESPTOOL_BOOT_RE.search(data)
    assert match and match.group(2) is not None


@pytest.mark.parametrize("chip, strap, wdt", [
    ("esp32", b"boot:0x13 (SPI_FAST_FLASH_BOOT)", b"rst:0x10 (RTCWDT_RTC_RESET)"),
    ("esp32s2", b"boot:0x8 (SPI_FAST_FLASH_BOOT)", b"rst:0x10 (RTCWDT_RTC_RST)"),
    ("esp32c3", b"boot:0xc (SPI_FAST_FLASH_BOOT)", b"rst:0x10 (RTCWDT_RTC_RST)"),
    ("esp32c6", b"boot:0x6c (SPI_FAST_FLASH_BOOT)", b"rst:0x10 (LP_WDT_SYS)"),
])
def test_blank_flash_boot_loops_on_invalid_header(sim_port, chip, strap, wdt):
    data = read_until(sim_port(chip), re.escape(wdt) + rb".*invalid header", timeout=5)
    assert strap in data
    assert b"invalid header: 0xffffffff\r\n" in data
    assert ESPTOOL_BOOT_RE.search(data).group(2) is None


def test_latch_model_survives_rfc2217_stretched_resets(sim_port):
    port = sim_port("esp32")
    for step in (0.0, 0.002, 0.05):
        port.reset_input_buffer()
        classic_reset(port, step)
        assert port.board.status()["state"] == "download", f"step {step}"
        read_until(port, "waiting for download")
    hard_reset(port)
    deadline = time.monotonic() + 2
    while port.board.status()["strap"] != 0x13:  # flash boot a few ms after EN rises
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_rc_strap_model_boots_from_flash_when_the_reset_is_stretched(sim_port):
    port = sim_port("esp32", strap="rc")
    classic_reset(port, 0.05)
    time.sleep(0.05)
    status = port.board.status()
    assert status["state"] != "download" and status["strap"] == 0x13


def test_no_autoreset_always_boots_from_flash(sim_port):
    port = sim_port("esp32s3", fault="no-autoreset")
    port.reset_input_buffer()
    classic_reset(port)
    data = read_until(port, "invalid header")
    assert ESPTOOL_BOOT_RE.search(data).group(1) == b"0x8"


def test_closing_the_port_drops_the_lines_without_a_reset(sim_port):
    port = sim_port("esp32", start="download")
    board = port.board
    boots = board.boots
    port.close()
    assert board.boots == boots and board.status()["state"] == "download"


@needs_samples
@pytest.mark.parametrize("chip", CHIPS)
def test_sample_firmware_boot_log_names_the_project(sim_port, chip):
    port = sim_port(chip, firmware="demo", heartbeat=0.2)
    hard_reset(port)
    data = read_until(port, rb"tick 1", timeout=4)
    assert b"Project name:     espmon-demo" in data
    assert b"App version:      1.0.0" in data
    assert b"I (312) demo: hello from espmon-demo on ESP" in data
    if chip == "esp8266":
        assert b"ets Jan" not in data  # the ROM spoke at 74880 baud: garbage at 115200
    else:
        assert b"load:0x" in data and b"entry 0x" in data
        assert b"2nd stage bootloader" in data and b"factory app" in data


@needs_samples
def test_esp8266_rom_lines_at_74880(sim_port):
    port = sim_port("esp8266", firmware="demo", baudrate=74880)
    hard_reset(port)
    data = read_until(port, rb"rst cause:2.*csum 0x", timeout=3)
    assert b" ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n" in data
    assert re.search(rb"load 0x40100000, len \d+, room 16 \r\n", data)


@needs_samples
@pytest.mark.parametrize("chip, header, marker, reboot", [
    ("esp32", b"Guru Meditation Error: Core  0 panic'ed (StoreProhibited)",
     b"Backtrace: 0x400d025b:0x3ffb5fd0 0x400d0276:0x3ffb5fd0 0x400d02a0:0x3ffb5fe0 0x400d02ca:0x3ffb5ff0",
     b"rst:0xc (SW_CPU_RESET)"),
    ("esp32s3", b"Guru Meditation Error: Core  0 panic'ed (StoreProhibited)", b"Backtrace: 0x4200025f:0x3fc99fd0",
     b"rst:0x3 (RTC_SW_SYS_RST)"),
    ("esp32c3", b"Guru Meditation Error: Core  0 panic'ed (Store access fault)",
     b"MEPC    : 0x42000260  RA      : 0x4200027e  SP      : 0x3fc8f3d0", b"rst:0x3 (RTC_SW_SYS_RST)"),
    ("esp32c6", b"Guru Meditation Error: Core  0 panic'ed (Store access fault)", b"Stack memory:",
     b"rst:0xc (SW_CPU)"),
    ("esp8266", b"Exception (29):", b"epc1=0x40210236", b"--------------- CUT HERE"),
])
def test_panic_fault_dumps_the_records_backtrace_and_reboots(sim_port, chip, header, marker, reboot):
    port = sim_port(chip, firmware="demo", fault="panic")
    hard_reset(port)
    data = read_until(port, re.escape(header) + rb".*" + re.escape(reboot), timeout=5)
    assert marker in data
    if chip != "esp8266":
        assert b"Rebooting..." in data and b"ELF file SHA256: " in data


@needs_samples
def test_riscv_stack_memory_holds_the_return_addresses(sim_port):
    port = sim_port("esp32c3", firmware="demo", heartbeat=0.2)
    hard_reset(port)
    read_until(port, "tick 1", timeout=4)
    port.write(b"panic\n")
    data = read_until(port, rb"Stack memory:\r\n3fc8f3d0: .*\r\n", timeout=3)
    assert b"3fc8f3d0: 0x00000000 0x00000000 0x00000000 0x420002a6 0x00000000 0x00000000 0x00000000 0x420002d2" in data


@needs_samples
def test_app_answers_commands(sim_port):
    port = sim_port("esp32s2", firmware="demo", heartbeat=0.2)
    hard_reset(port)
    read_until(port, "tick 1", timeout=4)
    port.write(b"echo hello board\r\n")
    assert re.search(rb"I \(\d+\) app: hello board", read_until(port, "hello board"))
    port.write(b"version\n")
    read_until(port, "espmon-demo 1.0.0")
    port.write(b"restart\n")
    read_until(port, re.escape("rst:0xc (RTC_SW_CPU_RST)"))


@needs_samples
def test_no_bootloader_gives_the_invalid_header_loop(sim_port):
    port = sim_port("esp32c3", firmware="demo", fault="no-bootloader")
    hard_reset(port)
    read_until(port, rb"invalid header: 0xffffffff.*RTCWDT_RTC_RST", timeout=4)


@needs_samples
def test_qio_image_on_dio_only_flash_does_not_boot(sim_port):
    port = sim_port("esp32", flash=str(SAMPLES / "esp32" / "merged-qio.bin"), fault="dio-only")
    hard_reset(port)
    data = read_until(port, rb"mode:QIO.*rst:0x10 \(RTCWDT_RTC_RESET\)", timeout=4)
    assert b"2nd stage bootloader" not in data


@needs_samples
def test_qio_image_boots_on_a_qio_flash(sim_port):
    port = sim_port("esp32", flash=str(SAMPLES / "esp32" / "merged-qio.bin"))
    hard_reset(port)
    assert b"mode:QIO" in read_until(port, "Project name", timeout=3)


@needs_samples
def test_usb_reenumerate_port_vanishes_on_reset_and_comes_back(sim_port, tmp_path):
    record = tmp_path / "usb.jsonl"
    port = sim_port("esp32c3", firmware="demo", fault="usb-reenumerate", record=str(record), heartbeat=0.2)
    hard_reset(port)
    time.sleep(0.05)
    with pytest.raises(serial.SerialException):
        port.read(10)
    with pytest.raises(serial.SerialException):
        port.write(b"x")
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(port.url, baudrate=115200)
    deadline = time.monotonic() + 3
    while True:
        try:
            again = serial.serial_for_url(port.url, baudrate=115200, timeout=1)
            break
        except serial.SerialException:
            assert time.monotonic() < deadline, "the port never came back"
            time.sleep(0.05)
    try:
        data = read_until(again, rb"(tick \d+\b.*){3}", timeout=4)
        records = [json.loads(line) for line in record.read_text().splitlines()]
        back = next(r["t"] for r in records if r.get("event") == "port" and r.get("present"))
        first_after = next(bytes.fromhex(r["bytes"]) for r in records
                           if r.get("dir") == "out" and "bytes" in r and r["t"] > back)
        assert data.startswith(first_after)  # kept for the host from the moment it was back
        ticks = [int(n) for n in re.findall(rb"tick (\d+)", data)]
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))  # and nothing lost after
        assert b"rst:0x15 (USB_UART_CHIP_RESET)" in b"".join(
            bytes.fromhex(r["bytes"]) for r in records if "bytes" in r)
    finally:
        again.close()


def test_sim_url_errors_are_one_line(sim_port):
    for url, text in [("sim://esp99", "unknown chip"), ("sim://esp32?fault=smoke", "unknown fault"),
                      ("sim://esp32?colour=1", "unknown sim:// option"),
                      ("sim://esp32?firmware=/nonexistent", "sample firmware not found")]:
        with pytest.raises(serial.SerialException, match=text) as info:
            serial.serial_for_url(url + ("&" if "?" in url else "?") + "name=bad-url-test")
        assert "\n" not in str(info.value)
        registry.discard("bad-url-test")


def test_control_commands(sim_port):
    port = sim_port("esp32c6")
    board = port.board
    assert handle_command(board, "reset download") == "ok"
    assert json.loads(handle_command(board, "status"))["state"] == "download"
    read_until(port, "waiting for download")
    assert handle_command(board, "reset flash") == "ok"
    assert json.loads(handle_command(board, "status"))["state"] in ("booting", "loop")
    assert handle_command(board, "frobnicate").startswith("error: unknown command")
