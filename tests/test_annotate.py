"""annotate(): chip-specific advice for device events; BootLoopDetector with supplied times."""

from __future__ import annotations

import pytest

from espmon.monitor.annotate import BootLoopDetector, annotate
from parsers.chips import CHIPS, find_chip
from parsers.device_log import (
    BootloaderError,
    BootLoop,
    Brownout,
    DeviceLogParser,
    Esp8266Exception,
    Esp8266Reset,
    GuruMeditation,
    InvalidHeader,
    LogLine,
    Panic,
    Rebooting,
    ResetInfo,
    RomBanner,
    RomFlashMode,
    RomHalt,
    RomLoad,
    StackOverflow,
    TaskWatchdog,
    WaitingForDownload,
)

TROUBLESHOOTING_POWER = "Insufficient Power"


def note(line: str, chip: str | None = None) -> list[str]:
    parser = DeviceLogParser(chip)
    return [text for e in parser.feed(line) + parser.end() if (text := annotate(e, parser.chip))]


def test_rtc_watchdog_reset():
    assert note("rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)") == [
        "RTC watchdog reset: the previous boot hung in the ROM or the bootloader"]


@pytest.mark.parametrize("chip, pin", [("esp32", "GPIO0"), ("esp32s3", "GPIO0"), ("esp32c3", "GPIO9"), ("esp32p4", "GPIO35")])
def test_download_mode_names_the_chips_strap_pin(chip, pin):
    event = ResetInfo(1, 1, "POWERON", 0x0, None, True, None)
    assert annotate(event, find_chip(chip)).endswith(f"download mode: {pin} was held low at reset")


def test_usb_serial_jtag_download_is_the_hosts_doing():
    text = note("rst:0x15 (USB_UART_HPSYS),boot:0x4 (DOWNLOAD(USB/UART0/SDIO_FEI_FEO))", "esp32c6")[0]
    assert "forced by the host over USB" in text and "strap" in text


def test_reset_meaning_follows_the_code_on_every_family():
    for chip in ("esp32", "esp32s2", "esp32c3", "esp32c6"):
        assert annotate(ResetInfo(1, 0x3, None, 0x8, "SPI_FAST_FLASH_BOOT", False, None), find_chip(chip)).startswith(
            "software reset of the whole digital system")


@pytest.mark.parametrize("chip, offset", [("esp32", "0x1000 on ESP32"), ("esp32s2", "0x1000 on ESP32-S2"),
                                          ("esp32c3", "0x0 on ESP32-C3"), ("esp32p4", "0x2000 on ESP32-P4")])
def test_invalid_header_names_the_chips_bootloader_offset(chip, offset):
    text = annotate(InvalidHeader(1, 0xFFFFFFFF), find_chip(chip))
    assert text.startswith(f"nothing flashed at the bootloader offset ({offset})")


def test_invalid_header_without_a_chip_lists_the_offsets():
    text = annotate(InvalidHeader(1, 0xFFFFFFFF), None)
    assert "0x1000 on ESP32/ESP32-S2" in text and "0x2000 on ESP32-P4" in text and "ESP32-C3" in text


def test_invalid_header_other_values():
    assert "not a bootloader image" in annotate(InvalidHeader(1, 0x64616873), CHIPS["esp32"])
    assert "zeros" in annotate(InvalidHeader(1, 0), CHIPS["esp32"])
    assert "0x1000" in annotate(InvalidHeader(1, 0xFFFFFFFF), CHIPS["esp32s3"])  # the classic wrong-offset mistake


def test_brownout_uses_the_troubleshooting_guide():
    assert TROUBLESHOOTING_POWER in annotate(Brownout(1), CHIPS["esp32"])


def test_flash_mode_and_loader_halt():
    assert "-fm dio" in annotate(RomFlashMode(1, "QIO", 1), CHIPS["esp32c3"])
    assert annotate(RomFlashMode(1, "DIO", 1), CHIPS["esp32c3"]) is None
    assert "flash mode" in annotate(RomHalt(1, "ets_loader.c", 78), CHIPS["esp32s3"])


def test_segment_sanity():
    from parsers.device_log import RomLoad
    assert annotate(RomLoad(1, 0x3FFF0030, 1184), CHIPS["esp32"]) is None
    assert "not a bootloader segment" in annotate(RomLoad(1, 0xFFFF0E00, -1), CHIPS["esp32"])
    assert "an app was written at the bootloader offset" in annotate(RomLoad(1, 0x3F400020, 236584), CHIPS["esp32"])


def test_waiting_for_download():
    assert "GPIO9" in annotate(WaitingForDownload(1), CHIPS["esp32c3"])
    assert "GPIO15" in annotate(WaitingForDownload(1, "waiting for host"), CHIPS["esp8266"])


def test_guru_causes():
    assert "NULL pointer" in annotate(GuruMeditation(1, 0, "LoadProhibited"), CHIPS["esp32"])
    assert "interrupt watchdog" in annotate(GuruMeditation(1, 0, "Interrupt wdt timeout on CPU0"), CHIPS["esp32"])
    assert "stack overflow" in annotate(GuruMeditation(1, 0, "Breakpoint"), CHIPS["esp32c3"])
    assert "Weird" in annotate(GuruMeditation(1, 0, "Weird"), None)


@pytest.mark.parametrize("regs, cause, arch, expected", [
    ({"EXCVADDR": 0}, "LoadProhibited", "xtensa", "NULL pointer: read from address 0"),
    ({"EXCVADDR": 0x10}, "StoreProhibited", "xtensa", "NULL pointer: write to offset 0x10"),
    ({"EXCVADDR": 0x83126EAF}, "LoadProhibited", "xtensa", "uninitialised or corrupted"),
    ({"EXCVADDR": 0x3FFB0000}, "LoadProhibited", "xtensa", None),
    ({"PC": 0}, "InstrFetchProhibited", "xtensa", "NULL function pointer"),
    ({"MTVAL": 0}, "Store access fault", "riscv", "NULL pointer: write to address 0"),
])
def test_panic_register_advice(regs, cause, arch, expected):
    text = annotate(Panic(1, arch, 0, cause, "guru", regs), None)
    assert (text is None) if expected is None else expected in text


def test_riscv_abort_store_fault_is_explained():
    panic = Panic(1, "riscv", 0, "assert failed: f x.c:1 (e)", "assert", {"MCAUSE": 7, "MTVAL": 0})
    assert "abort() enters the panic handler" in annotate(panic, CHIPS["esp32c3"])


def test_bootloader_errors():
    assert "0x10000" in annotate(BootloaderError(1, "image at 0x10000 has invalid magic byte", "invalid_magic", 0x10000), None)
    assert "partition-table.bin" in annotate(BootloaderError(1, "Failed to verify partition table", "partition_table"), None)
    assert annotate(BootloaderError(1, "something", "other"), None) is None


def test_task_watchdog_names_the_busy_task():
    text = annotate(TaskWatchdog(1, ("IDLE0 (CPU 0)",), ("CPU 0: loopTask", "CPU 1: IDLE1")), None)
    assert "IDLE0 (CPU 0)" in text and "loopTask kept the CPU busy" in text


def test_esp8266():
    assert "NULL pointer" in annotate(Esp8266Exception(1, 28, "LoadProhibited", 0x4000BF80, 0, 0, 0, 0), None)
    assert "division by zero" in annotate(Esp8266Exception(1, 6, "IntegerDivideByZero"), None)
    assert "download mode" in annotate(Esp8266Reset(1, 2, (1, 6), "external"), None)
    assert annotate(Esp8266Reset(1, 2, (3, 6), "external"), None).startswith("reset pin")


def test_esp8266_reports_without_their_own_line():
    assert "out of memory" in annotate(Panic(1, "esp8266", None, "Unhandled C++ exception: OOM", "panic"), None)
    assert annotate(Panic(1, "esp8266", None, "LoadProhibited", "exception"), None) is None


def test_quiet_events_and_chip_names():
    assert annotate(LogLine(1, "I", "1", "t", "m"), None) is None
    assert annotate(RomBanner(1, "ESP32", "x"), None) is None
    assert annotate(StackOverflow(1, "main"), "ESP32-C3").startswith("stack overflow in task main")


def test_a_malformed_event_never_raises():
    for event in (InvalidHeader(1, None), GuruMeditation(1, None, None), Panic(1, None, None, None, None, None),
                  TaskWatchdog(1, None), Esp8266Reset(1, None, (None, None))):
        assert isinstance(annotate(event, CHIPS["esp32"]), (str, type(None)))


# --- boot loops ---------------------------------------------------------------------

def _reset(line: int, name: str = "SW_CPU_RESET") -> ResetInfo:
    return ResetInfo(line, 0xC, name, 0x13, "SPI_FAST_FLASH_BOOT", False, "ESP32")


def test_three_resets_in_ten_seconds_are_reported_once():
    det = BootLoopDetector(resets=3, window=10.0)
    assert det.feed(_reset(1), 0.0) is None
    assert det.feed(_reset(2), 2.0) is None
    loop = det.feed(_reset(3), 4.0)
    assert loop == BootLoop(3, 3, 4.0, ("SW_CPU_RESET",))
    assert det.feed(_reset(4), 6.0) is None  # the same loop: not again
    assert det.feed(_reset(5), 8.0) is None


def test_slow_resets_are_not_a_loop_and_a_quiet_window_rearms():
    det = BootLoopDetector(resets=3, window=10.0)
    assert all(det.feed(_reset(i), 11.0 * i) is None for i in range(5))
    assert [det.feed(_reset(10 + i), 100.0 + i) for i in range(3)][-1] is not None
    assert det.feed(_reset(20), 200.0) is None  # quiet for > window: the loop ended
    assert det.feed(_reset(21), 201.0) is None
    assert det.feed(_reset(22), 202.0) is not None  # a new loop is reported again


def test_rebooting_and_its_banner_count_once_and_name_the_panic():
    det = BootLoopDetector(resets=3, window=10.0)
    reports = []
    for k in range(3):
        t = 3.0 * k
        for event, dt in ((Panic(1, "xtensa", 0, "LoadProhibited"), 0.0), (Rebooting(2), 0.1), (_reset(3), 0.3)):
            reports.append(det.feed(event, t + dt))
    found = [r for r in reports if r is not None]
    assert len(found) == 1 and found[0].resets == 3 and found[0].reasons == ("LoadProhibited",)
    assert "boot loop: 3 resets in 6.0 s (LoadProhibited)" == annotate(found[0], None)


def test_invalid_header_loop_from_the_corpus_style_stream():
    parser, det = DeviceLogParser(), BootLoopDetector()
    lines = (["invalid header: 0xffffffff"] * 3 + ["ets Jul 29 2019 12:21:46", "",
             "rst:0x10 (RTCWDT_RTC_RESET),boot:0x1f (SPI_FAST_FLASH_BOOT)"]) * 4
    loops = []
    for i, line in enumerate(lines):
        for event in parser.feed(line):
            if (loop := det.feed(event, i * 0.5)) is not None:
                loops.append(loop)
    assert len(loops) == 1 and loops[0].reasons == ("invalid header",)


def test_usb_console_without_banners_counts_rebooting():
    det = BootLoopDetector(resets=2, window=5.0)
    assert det.feed(Rebooting(1), 0.0) is None
    assert det.feed(Rebooting(9), 1.0) is not None


def test_a_loop_names_its_crashes_not_the_power_on_before_them():
    det = BootLoopDetector()
    events = [(_reset(1, "POWERON_RESET"), 0.0)]
    for k in range(1, 3):
        events += [(Panic(2, "riscv", 0, "Store access fault"), k), (Rebooting(3), k + 0.01), (_reset(4), k + 0.2)]
    loops = [loop for event, t in events if (loop := det.feed(event, t)) is not None]
    assert [loop.reasons for loop in loops] == [("Store access fault",)]


@pytest.mark.parametrize("chip, address, is_app", [
    ("esp32c3", 0x403CC710, False),  # the C3 bootloader's IRAM: inside ESP32's IROM window
    ("esp32s3", 0x403C9704, False),
    ("esp32", 0x40080400, False),
    ("esp32", 0x400D0020, True),  # ESP32 IROM: an app was flashed at the bootloader offset
    ("esp32c3", 0x42000020, True),
    (None, 0x3F400020, True),  # DROM windows are nobody's RAM, chip known or not
    (None, 0x403CC710, False),
])
def test_rom_load_flags_app_segments_with_the_chips_own_memory_map(chip, address, is_app):
    event = RomLoad(1, address, 0x1000)
    note = annotate(event, CHIPS[chip] if chip else None)
    assert (note is not None and "app image's segment" in note) == is_app
