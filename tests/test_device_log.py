"""DeviceLogParser, one recogniser at a time, and its tolerance of mangled input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.device_log import (
    Abort, AppLoaded, AssertFailed, Backtrace, BootloaderError, BootloaderStart, Brownout, ChecksumError,
    CpuHalted, DeviceLogParser, ElfSha256, Esp8266Exception, Esp8266Reset, FlashReadError, GuruMeditation,
    HeapCorruption, InvalidHeader, LogLine, Panic, Rebooting, ResetInfo, RomBanner, RomBuild, RomEntry,
    RomFlashMode, RomHalt, RomHashMismatch, RomLoad, SavedPC, SoftWatchdog, StackOverflow, StackSmashing, TaskWatchdog,
    WaitingForDownload, clean_line,
)


def feed_all(lines: list[str] | str, chip: str | None = None) -> list:
    if isinstance(lines, str):
        lines = lines.split("\n")
    parser = DeviceLogParser(chip)
    out = []
    for line in lines:
        out += parser.feed(line)
    return out + parser.end()


def only(events: list, kind: type):
    found = [e for e in events if isinstance(e, kind)]
    assert len(found) == 1, events
    return found[0]


# --- one line, one event ----------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("ets Jun  8 2016 00:22:57", RomBanner(1, "ESP32", "Jun  8 2016 00:22:57")),
    ("ESP-ROM:esp32c3-api1-20210207", RomBanner(1, "ESP32-C3", "esp32c3-api1-20210207")),
    ("ESP-ROM:esp8684-api2-20220127", RomBanner(1, "ESP32-C2", "esp8684-api2-20220127")),
    ("ESP-ROM:esp32x9-20300101", RomBanner(1, None, "esp32x9-20300101")),
    ("Build:Feb  7 2021", RomBuild(1, "Feb  7 2021")),
    ("Saved PC:0x40381006", SavedPC(1, 0x40381006)),
    ("Core1 Saved PC:0x4fc058e0", SavedPC(1, 0x4FC058E0, 1)),
    ("SPI mode:DIO, clock div:1", RomFlashMode(1, "DIO", 1)),
    ("mode:DIO, clock div:2", RomFlashMode(1, "DIO", 2)),
    ("mode:SLOW_RD, clock div:1", RomFlashMode(1, "SLOW_RD", 1)),
    ("load:0x3fff0030,len:1184", RomLoad(1, 0x3FFF0030, 1184)),
    ("load:0x3fcd5820,len:0xf28", RomLoad(1, 0x3FCD5820, 0xF28)),
    ("load 0x4010f000, len 3424, room 16 ", RomLoad(1, 0x4010F000, 3424)),
    ("load:0xffffffff,len:-1", RomLoad(1, 0xFFFFFFFF, -1)),
    ("entry 0x400805e4", RomEntry(1, 0x400805E4)),
    ("waiting for download", WaitingForDownload(1)),
    ("invalid header: 0xffffffff", InvalidHeader(1, 0xFFFFFFFF)),
    ("flash read err, 1000", FlashReadError(1, 0x1000)),
    ("csum err:0x78!=0xfc", ChecksumError(1, 0x78, 0xFC)),
    ("ets_main.c 371 ", RomHalt(1, "ets_main.c", 371)),
    ("ets_loader.c 78 ", RomHalt(1, "ets_loader.c", 78)),
    ("SHA-256 comparison failed:", RomHashMismatch(1)),
    ("Brownout detector was triggered", Brownout(1)),
    ("E BOD: Brownout detector was triggered", Brownout(1)),
    ("Rebooting...", Rebooting(1)),
    ("Rebooting in 5 seconds...", Rebooting(1, 5)),
    ("CPU halted.", CpuHalted(1)),
    ("ELF file SHA256: 1d2f3a4b5c6d7e8f", ElfSha256(1, "1d2f3a4b5c6d7e8f")),
])
def test_single_line_events(line, expected):
    assert feed_all([line]) == [expected]


@pytest.mark.parametrize("line, code, name, boot, text, download, chip", [
    ("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)", 1, "POWERON_RESET", 0x13, "SPI_FAST_FLASH_BOOT", False, "ESP32"),
    ("rst:0x10 (RTCWDT_RTC_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)", 0x10, "RTCWDT_RTC_RESET", 0x13, "SPI_FAST_FLASH_BOOT", False, "ESP32"),
    ("rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))", 1, "POWERON_RESET", 3,
     "DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2)", True, "ESP32"),
    ("rst:0xc (RTC_SW_CPU_RST),boot:0x8 (SPI_FAST_FLASH_BOOT)", 0xC, "RTC_SW_CPU_RST", 8, "SPI_FAST_FLASH_BOOT", False, None),
    ("rst:0x15 (USB_UART_HPSYS),boot:0x4 (DOWNLOAD(USB/UART0/SDIO_FEI_FEO))", 0x15, "USB_UART_HPSYS", 4,
     "DOWNLOAD(USB/UART0/SDIO_FEI_FEO)", True, None),
    ("rst:0x10 (RTCWDT_RTC_RESET),boot:0x1 (DOWNLOAD_BOOT(UART0/UART1/SDIO_FEI_REO_V2", 0x10, "RTCWDT_RTC_RESET", 1,
     "DOWNLOAD_BOOT(UART0/UART1/SDIO_FEI_REO_V2", True, "ESP32"),  # cut before the closing parentheses
    ("rst:0x7", 7, None, None, None, False, None),
])
def test_reset_lines(line, code, name, boot, text, download, chip):
    assert feed_all([line]) == [ResetInfo(1, code, name, boot, text, download, chip)]


def test_reset_name_comes_from_the_chip_table_when_the_rom_text_is_lost():
    assert feed_all(["rst:0x10,boot:0x0"], chip="esp32s2") == [
        ResetInfo(1, 0x10, "RTCWDT_RTC_RST", 0, None, True, "ESP32-S2")]


def test_banner_teaches_the_chip_used_by_the_reset_line():
    events = feed_all(["ESP-ROM:esp32c6-20220919", "Build:Sep 19 2022", "rst:0xc (SW_CPU),boot:0x6c (SPI_FAST_FLASH_BOOT)"])
    assert only(events, ResetInfo).chip == "ESP32-C6"


def test_esp8266_banner_line_gives_banner_and_reset():
    assert feed_all([" ets Jan  8 2013,rst cause:2, boot mode:(3,6)"]) == [
        RomBanner(1, "ESP8266", "Jan  8 2013"), Esp8266Reset(1, 2, (3, 6), "external")]


@pytest.mark.parametrize("line, expected", [
    ("I (29) boot: ESP-IDF v4.4 2nd stage bootloader", LogLine(1, "I", "29", "boot", "ESP-IDF v4.4 2nd stage bootloader")),
    ("\x1b[0;31mE (905294) task_wdt: Aborting.\x1b[0m\r", LogLine(1, "E", "905294", "task_wdt", "Aborting.")),
    ("W (12:34:56.789) wifi: slow", LogLine(1, "W", "12:34:56.789", "wifi", "slow")),
    ("I (588) wifi:wifi firmware version: 3ce09e5", LogLine(1, "I", "588", "wifi", "wifi firmware version: 3ce09e5")),
    ("[0;32mI (34) boot: SPI Mode : DIO[0m", LogLine(1, "I", "34", "boot", "SPI Mode : DIO")),
    ("[    25][I][main.cpp:38] setup(): starting", LogLine(1, "I", "25", "main.cpp:38", "setup(): starting", "arduino")),
    ("[D][BLEDevice.cpp:247] scan(): x", LogLine(1, "D", "", "BLEDevice.cpp:247", "scan(): x", "arduino")),
    ("[14:04:29][D][sensor:093]: 'Temp': 21.5", LogLine(1, "D", "", "sensor:093", "'Temp': 21.5", "esphome")),
])
def test_log_lines(line, expected):
    assert feed_all([line])[0] == expected


def test_bootloader_lines():
    events = feed_all([
        "I (27) boot: ESP-IDF v4.3.2-dirty 2nd stage bootloader",
        "I (32) boot.esp32s3: Boot SPI Speed : 80MHz",
        "E (30) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)",
        "E (42) boot: No bootable app partitions in the partition table",
        "E (90) flash_parts: partition 0 invalid magic number 0xa0a",
        "W (549) esp_image: image at 0x110000 has invalid SPI mode 204",
        "I (250) boot: Loaded app from partition at offset 0x10000",
        "I (288) cpu_start: ELF file SHA256:  86b8309ad624a628...",
    ])
    assert only(events, BootloaderStart).version == "v4.3.2-dirty"
    errors = [e for e in events if isinstance(e, BootloaderError)]
    assert [(e.kind, e.offset) for e in errors] == [("invalid_magic", 0x10000), ("no_bootable_app", None),
                                                    ("partition_table", None)]
    assert only(events, AppLoaded).offset == 0x10000
    assert only(events, ElfSha256).sha256 == "86b8309ad624a628"


def test_bootloader_tag_names_the_chip():
    parser = DeviceLogParser()
    parser.feed("I (10) boot.esp32c2: SPI Speed      : 60MHz")
    assert parser.chip.name == "ESP32-C2"


# --- panics -----------------------------------------------------------------------

XTENSA = """Guru Meditation Error: Core  1 panic'ed (StoreProhibited). Exception was unhandled.

Core  1 register dump:
PC      : 0x400d2f1e  PS      : 0x00060a30  A0      : 0x800d3a21  A1      : 0x3ffb5e70  
EXCVADDR: 0x00000000  LBEG    : 0x4000c46c  LEND    : 0x4000c477  LCOUNT  : 0xffffffff  

Backtrace: 0x400D2F1B:0x3FFB5E70 0x400d3a1e:0x3ffb5e900x400e1b41:0x3ffb5eb0  |<-CONTINUES

ELF file SHA256: 1d2f3a4b5c6d7e8f

Rebooting..."""


def test_xtensa_panic():
    events = feed_all(XTENSA)
    assert [type(e) for e in events] == [GuruMeditation, Backtrace, Panic, Rebooting]
    assert events[0] == GuruMeditation(1, 1, "StoreProhibited", "Exception was unhandled.")
    panic = events[2]
    assert (panic.line, panic.end_line, panic.arch, panic.core, panic.kind) == (1, 9, "xtensa", 1, "guru")
    assert panic.registers["PC"] == 0x400D2F1E and panic.registers["EXCVADDR"] == 0
    assert panic.backtrace == ((0x400D2F1B, 0x3FFB5E70), (0x400D3A1E, 0x3FFB5E90), (0x400E1B41, 0x3FFB5EB0))
    assert panic.continues and not panic.corrupted
    assert panic.elf_sha256 == "1d2f3a4b5c6d7e8f"
    assert events[1].frames == panic.backtrace


RISCV = """Guru Meditation Error: Core  0 panic'ed (Load access fault). Exception was unhandled.

Core  0 register dump:
MEPC    : 0x420048b4  RA      : 0x420048b4  SP      : 0x3fc8f2f0  GP      : 0x3fc8a600  
S0/FP   : 0x00000000  S1      : 0x00000000  A0      : 0x00000001  A1      : 0x00000001  
MSTATUS : 0x00001881  MTVEC   : 0x40380001  MCAUSE  : 0x00000005  MTVAL   : 0x00000000  

Stack memory:
3fc8f2f0: 0x00000004 0x3fc9f3dc 0x3fc96188 0x00000000 0x3c0cb000 0x00000001 0x00000000 0x36000001
0x3fc9f3dc: some annotation a host tool printed
3fc8f310: 0x007a3237 0x00000010 0x3fc94ab8 0x3c0caa1c 0x00000004 0x00000019 0x00000000 0x4209dfc6

ELF file SHA256: 0000000000000000
"""


def test_riscv_panic_with_stack_memory():
    events = feed_all(RISCV)
    assert [type(e) for e in events] == [GuruMeditation, Panic]
    panic = only(events, Panic)
    assert panic.arch == "riscv" and panic.registers["S0/FP"] == 0 and panic.registers["MCAUSE"] == 5
    assert panic.stack_base == 0x3FC8F2F0 and len(panic.stack) == 64
    assert panic.stack[:8] == bytes.fromhex("04000000dcf3c93f")
    assert panic.backtrace == ()


def test_panic_glued_to_a_log_line():
    events = feed_all(["I (123) phy_init: phGuru Meditation Error: Core  0 panic'ed (IllegalInstruction)."])
    assert events[0] == LogLine(1, "I", "123", "phy_init", "ph")
    assert only(events, GuruMeditation).cause == "IllegalInstruction"


def test_old_guru_format():
    events = feed_all(["Guru Meditation Error of type LoadProhibited occurred on core  0. Exception was unhandled."])
    assert only(events, GuruMeditation) == GuruMeditation(1, 0, "LoadProhibited", "Exception was unhandled.")


def test_abort_assert_and_overflow():
    events = feed_all([
        "***ERROR*** A stack overflow in task main has been detected.",
        "abort() was called at PC 0x4008cf94 on core 0",
        "",
        "Backtrace: 0x4008cdac:0x3ffd74c0 0x4008cf7d:0x3ffd74e0 |<-CORRUPTED",
    ])
    assert only(events, StackOverflow) == StackOverflow(1, "main")
    assert only(events, Abort) == Abort(2, 0x4008CF94, 0)
    panic = only(events, Panic)
    assert (panic.kind, panic.corrupted, len(panic.backtrace)) == ("stack_overflow", True, 2)


@pytest.mark.parametrize("line, expected", [
    ("assert failed: xQueueSemaphoreTake queue.c:1549 (pxQueue->uxItemSize == 0)",
     AssertFailed(1, "xQueueSemaphoreTake", "queue.c", 1549, "pxQueue->uxItemSize == 0")),
    ("/idf/components/freertos/./queue.c:1441 (xQueueGenericReceive)- assert failed!",
     AssertFailed(1, "xQueueGenericReceive", "/idf/components/freertos/./queue.c", 1441, None)),
    ('assertion "head != NULL" failed: file "heap.c", line 201, function: multi_heap_free',
     AssertFailed(1, "multi_heap_free", "heap.c", 201, "head != NULL")),
    ("assert failed: 0x4200d8f2", AssertFailed(1, None, None, None, None)),
])
def test_assert_forms(line, expected):
    assert feed_all([line])[0] == expected


def test_stack_smashing_heap_and_canary():
    assert isinstance(feed_all(["Stack smashing protect failure!"])[0], StackSmashing)
    assert isinstance(feed_all(["CORRUPT HEAP: Bad tail at 0x3ffe270a."])[0], HeapCorruption)
    events = feed_all(["Guru Meditation Error: Core  0 panic'ed (Unhandled debug exception).",
                       "Debug exception reason: Stack canary watchpoint triggered (sys_evt) "])
    assert only(events, StackOverflow) == StackOverflow(2, "sys_evt")


def test_task_watchdog_list():
    events = feed_all([
        "E (10325) task_wdt: Task watchdog got triggered. The following tasks did not reset the watchdog in time:",
        "E (10325) task_wdt:  - IDLE0 (CPU 0)",
        "E (10325) task_wdt: Tasks currently running:",
        "E (10325) task_wdt: CPU 0: loopTask",
        "E (10325) task_wdt: Aborting.",
        "abort() was called at PC 0x400d1537 on core 0",
    ])
    assert only(events, TaskWatchdog) == TaskWatchdog(1, ("IDLE0 (CPU 0)",), ("CPU 0: loopTask",))
    assert [type(e) for e in events][4:7] == [LogLine, TaskWatchdog, Abort]


def test_repeated_task_watchdog_reports_are_separate():
    one = ["E (5) task_wdt: Task watchdog got triggered. The following tasks did not reset the watchdog in time:",
           "E (5) task_wdt:  - IDLE (CPU 0)"]
    events = feed_all(one + one)
    assert len([e for e in events if isinstance(e, TaskWatchdog)]) == 2


def test_esp8266_post_mortem():
    events = feed_all("""--------------- CUT HERE FOR EXCEPTION DECODER ---------------

Exception (28):
epc1=0x4000bf80 epc2=0x00000000 epc3=0x00000000 excvaddr=0x00000010 depc=0x00000000

>>>stack>>>

ctx: cont
sp: 3ffffdd0 end: 3fffffb0 offset: 0190
3fffff70:  3fff1114 401017a7 00000000 00000000  
3fffff80:  401017e2 00000000 00000002 3ffee260  <
<<<stack<<<

--------------- CUT HERE FOR EXCEPTION DECODER ---------------
 ets Jan  8 2013,rst cause:2, boot mode:(3,6)""")
    assert only(events, Esp8266Exception) == Esp8266Exception(3, 28, "LoadProhibited", 0x4000BF80, 0, 0, 0x10, 0)
    panic = only(events, Panic)
    assert (panic.arch, panic.kind, panic.stack_base, len(panic.stack)) == ("esp8266", "exception", 0x3FFFFF70, 32)
    assert panic.details == ("ctx: cont", "sp: 3ffffdd0 end: 3fffffb0 offset: 0190")
    assert isinstance(events[-1], Esp8266Reset)


def test_esp8266_sdk_forms():
    events = feed_all(["Fatal exception (28):", "epc1=0x40243016, epc2=0x00000000, epc3=0x00000000, "
                       "excvaddr=0x000000eb, depc=0x00000000", "Fatal exception 9(LoadStoreAlignmentCause):",
                       "epc1=0x1", "excvaddr=0x3", "depc=0x0"])
    exceptions = [e for e in events if isinstance(e, Esp8266Exception)]
    assert [(e.line, e.number, e.cause, e.excvaddr) for e in exceptions] == [
        (1, 28, "LoadProhibited", 0xEB), (3, 9, "LoadStoreAlignment", 3)]


def test_soft_wdt():
    events = feed_all(["Soft WDT reset", "", ">>>stack>>>", "3fffeef0:  3ffe8d00 64e525a5 60000600 60000600  ",
                       "<<<stack<<<"])
    assert isinstance(events[0], SoftWatchdog)
    assert only(events, Panic).kind == "soft_wdt"


def test_unfinished_panic_is_flushed_at_end():
    parser = DeviceLogParser()
    parser.feed("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.")
    parser.feed("PC      : 0x400d2f1e  PS      : 0x00060a30")
    (panic,) = parser.end()
    assert isinstance(panic, Panic) and panic.registers["PC"] == 0x400D2F1E
    assert parser.end() == []


def test_panic_ends_at_an_ordinary_log_line():
    events = feed_all(["abort() was called at PC 0x400d1537 on core 0", "Backtrace: 0x4008a0a8:0x3ffbe370",
                       "I (5) main: still alive"])
    assert [type(e) for e in events] == [Abort, Backtrace, Panic, LogLine]


# --- robustness --------------------------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("\x1b[0;32mI (1) a: b\x1b[0m\r", "I (1) a: b"),
    ("12:34:56.789 -> rst:0x1", "rst:0x1"),
    ("12:34:56.789 > rst:0x1", "rst:0x1"),
    ("[Tue Feb 19 18:02:49.225 2019] rst:0x1", "rst:0x1"),
    ("[19:46:42:120] E (1) t: m␍␊", "E (1) t: m"),
    ("2019-12-12 09:45:36,678 # I (45) boot: x", "I (45) boot: x"),
    ("> > Backtrace: 0x1:0x2", "Backtrace: 0x1:0x2"),
    (">>>stack>>>", ">>>stack>>>"),
    ("\ufffd\ufffdESP-ROM:esp32s3-20210327", "ESP-ROM:esp32s3-20210327"),
    ("Writing at 0x00010000... (2 %)\rI (1) a: b", "I (1) a: b"),
    ("   leading spaces", "leading spaces"),
    ("", ""),
])
def test_clean_line(raw, clean):
    assert clean_line(raw) == clean


def test_collapsed_whitespace_and_upper_case_hex():
    events = feed_all(["Guru Meditation Error: Core 1 panic'ed (LoadProhibited). Exception was unhandled.",
                       "PC : 0x400D2F1E PS : 0x00060A30 A0 : 0x800D3A21 A1 : 0x3FFB5E70",
                       "Backtrace:0x400D2F1B:0x3FFB5E70 0x400D3A1E:0x3FFB5E90"])
    panic = only(events, Panic)
    assert panic.core == 1 and panic.registers == {"PC": 0x400D2F1E, "PS": 0x60A30, "A0": 0x800D3A21, "A1": 0x3FFB5E70}
    assert panic.backtrace == ((0x400D2F1B, 0x3FFB5E70), (0x400D3A1E, 0x3FFB5E90))


def test_line_numbers_count_every_line_fed():
    parser = DeviceLogParser()
    for _ in range(4):
        parser.feed("plain text")
    assert parser.feed("Rebooting...") == [Rebooting(5)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=30))
def test_never_raises_on_arbitrary_text(lines):
    parser = DeviceLogParser()
    for line in lines:
        assert isinstance(parser.feed(line), list)
    assert isinstance(parser.end(), list)


_FRAGMENTS = st.sampled_from([
    "Guru Meditation Error: Core  0 panic'ed (", "Backtrace:", "0x4008cdac:0x3ffd74c0", "|<-CORRUPTED", "rst:0x",
    "boot:0x", "ESP-ROM:", "ets Jan  8 2013,rst cause:", "Exception (", "epc1=0x", ">>>stack>>>", "<<<stack<<<",
    "3fffff70:  3fff1114", "Stack memory:", "3fc8f2f0: 0x00000004", "Core  0 register dump:", "PC      : 0x",
    "MEPC    : 0x", "abort() was called at PC 0x", "assert failed: ", "***ERROR*** A stack overflow in task ",
    "E (1) task_wdt: ", "Task watchdog got triggered", " - IDLE0 (CPU 0)", "CPU 0: ", "\x1b[0;31m", "\r", "[0;32m",
    "load:0x", ",len:", "Build:", "mode:", "invalid header: 0x", "--------------- CUT HERE", "I (", ") ", ": ",
    "Rebooting...", "ELF file SHA256: ", "Saved PC:", "(", ")", "0x", "ffffffff", "\ufffd", "␍␊", "  ",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_FRAGMENTS, max_size=6).map("".join), max_size=40))
def test_never_raises_on_plausible_fragments(lines):
    parser = DeviceLogParser()
    for line in lines:
        events = parser.feed(line)
        assert all(e.line >= 1 for e in events)
    parser.end()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_FRAGMENTS, max_size=6).map("".join), max_size=30))
def test_a_crlf_stream_gives_the_same_events(lines):
    assert feed_all([line + "\r" for line in lines]) == feed_all(lines)
